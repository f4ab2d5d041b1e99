// Limits on documents from users, checked without recursion.
#pragma once

#include <nlohmann/json.hpp>

namespace orchagent::manifest {

inline constexpr int kMaxSchemaDepth = 64;

// True when `doc` nests arrays/objects deeper than `max_depth` (a scalar is depth 0,
// {} and [] are depth 1). Iterative, so hostile depth cannot exhaust the stack.
bool exceeds_depth(const nlohmann::json& doc, int max_depth);

// The same on JSON text before it is parsed ('[' and '{' outside strings).
bool text_exceeds_depth(std::string_view text, int max_depth);

}  // namespace orchagent::manifest
