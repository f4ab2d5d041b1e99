// Prompt agents (execution_engine `direct_llm`, CONTRACT.md section 4): the agent's prompt
// with its {{field}} placeholders filled from the input, sent to the OpenAI-compatible chat
// endpoint the operator configures (`llm:` in the daemon's config, docs/operator.md), and
// the model's reply turned into the call's data. docs/api.md says what callers see.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "manifest/manifest.hpp"
#include "runtime/calls.hpp"
#include "runtime/executor.hpp"

namespace orchagent::runtime {

inline constexpr std::size_t kMaxPromptPlaceholders = 1000;  // {{field}}s in one prompt
inline constexpr int kMaxReplyDepth = 64;  // nesting of a reply's JSON before it is text

// The operator's provider: the `llm:` block of the daemon's config.
struct LlmConfig {
    std::string provider = "openai";  // its name in agents' default_models / supported_providers
    std::string base_url;             // e.g. https://api.openai.com/v1 (no trailing slash)
    std::string api_key_env;          // the environment variable holding the key; "" = no key
    std::string api_key;              // read from api_key_env at start, never from the file
    std::string model;                // used when the agent names none for `provider`
    int timeout_seconds = 60;         // one request to the provider, 1..3600
    std::size_t max_response_bytes = 2u << 20;  // the provider's answer, 1 KiB..64 MiB
    std::size_t max_prompt_bytes = 1u << 20;    // the prompt after filling, 1 KiB..16 MiB
};

// Checks the block's values: base_url http(s) (a trailing '/' is dropped), model and
// provider non-empty, the numbers in range. Fails with INVALID_INPUT naming `llm.<key>`.
Result<void> check_llm_config(LlmConfig& config);
// Reads the key from the variable api_key_env names. Fails when it is named but unset or
// empty: a provider that needs a key would answer every call 401.
Result<void> load_llm_key(LlmConfig& config);

// Fills {{field}} placeholders (spaces inside the braces allowed; `a.b` walks into nested
// objects) from the input object: strings as they are, other values as compact JSON. The
// prompt is scanned once, so text coming from the input is never filled again. `{{…}}`
// holding anything but a field name is left as written. A placeholder whose field the
// input lacks is INVALID_INPUT naming it, unless the agent's input_schema declares that
// field (then it is an optional field and fills as ""). Over max_bytes after filling:
// DOCUMENT_TOO_LARGE; over kMaxPromptPlaceholders placeholders: INVALID_INPUT.
Result<std::string> fill_prompt(std::string_view prompt, const nlohmann::json& input,
                                const nlohmann::json& input_schema, std::size_t max_bytes);

// The model's text as the call's data: a JSON object or array (the whole text, or the
// inside of one ```json fence around all of it) is the data itself; anything else,
// bare JSON scalars included, is {"result": text}.
nlohmann::json reply_data(std::string_view text);

struct LlmReply {
    nlohmann::json data;                                // reply_data(text)
    nlohmann::json warnings = nlohmann::json::array();  // TRUNCATED when cut at max tokens
    std::string text;                                   // choices[0].message.content
    std::string model;                                  // as the provider names it ("" if not)
    nlohmann::json usage;  // {prompt_tokens, completion_tokens, total_tokens}; null if absent
};

// Reads a chat completion answer. A malformed one is LLM_ERROR saying what is wrong; a
// refusal (message.refusal without content) is UNPROCESSABLE with the model's words.
Result<LlmReply> parse_chat_reply(std::string_view body);

// What one prompt-agent call did.
struct LlmRun {
    Result<LlmReply> reply = LlmReply{};
    std::string model;          // the model asked for
    int64_t provider_ms = 0;    // time spent in the request to the provider
    bool sent = false;          // a request left for the provider
    std::string request_body;   // what was sent (without the key)
    std::string response_body;  // what came back, if anything
};

class LlmClient {
  public:
    explicit LlmClient(LlmConfig config) : config_(std::move(config)) {}
    const LlmConfig& config() const { return config_; }

    // The agent's default_models[provider] if it names one, else the operator's model.
    std::string model_for(const manifest::AgentManifest& agent) const;

    // Checks the input, fills the prompt, asks the provider within `budget` (the call's
    // remaining deadline) and reads the answer. Errors (in LlmRun::reply): INVALID_INPUT,
    // UNSUPPORTED_TYPE (files), DOCUMENT_TOO_LARGE, TIMEOUT (the call's deadline passed,
    // before or during the request), LLM_ERROR (the provider failed: transport, its own
    // timeout, a non-2xx status, a malformed answer; the key never appears in messages),
    // UNPROCESSABLE (the model refused).
    LlmRun run(const manifest::AgentManifest& agent, const CallInput& input,
               std::chrono::milliseconds budget) const;

  private:
    // `text` with every occurrence of the API key replaced.
    std::string scrub(std::string text) const;

    LlmConfig config_;
};

// The call path's side of it (runtime/calls.cpp): runs a prompt agent, fills the usage
// record (execution_ms = provider time, stdout = the reply's text, stderr = what failed)
// and builds the envelope, with metadata.model and metadata.llm_usage when known.
CallResponse run_prompt_call(const LlmClient& llm, const manifest::AgentManifest& agent,
                             const CallInput& input, const CallContext& context,
                             std::chrono::milliseconds budget, const Clock& clock,
                             const CallOptions& options, store::UsageRecord& record);

}  // namespace orchagent::runtime
