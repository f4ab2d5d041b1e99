// The `llm:` block of orchagentd's config: the OpenAI-compatible provider prompt agents run
// against (docs/operator.md). Kept apart from config.cpp so the block's schema reads whole.
#pragma once

#include <string>

#include "core/error.hpp"
#include "runtime/llm.hpp"

namespace YAML {
class Node;
}

namespace orchagent::api {

// Reads the block (a mapping; unknown keys are errors naming them, `llm.<key>`) into
// `config`. The API key itself is never in the file: `api_key_env` names the variable that
// holds it, read at start by runtime::load_llm_key().
Result<void> load_llm_block(const YAML::Node& node, const std::string& path,
                            runtime::LlmConfig& config);

}  // namespace orchagent::api
