#include "manifest/json_limits.hpp"

#include <utility>
#include <vector>

namespace orchagent::manifest {

bool exceeds_depth(const nlohmann::json& doc, int max_depth) {
    std::vector<std::pair<const nlohmann::json*, int>> stack{{&doc, 0}};
    while (!stack.empty()) {
        auto [node, depth] = stack.back();
        stack.pop_back();
        if (!node->is_structured()) continue;
        if (depth + 1 > max_depth) return true;
        for (const auto& child : *node) stack.emplace_back(&child, depth + 1);
    }
    return false;
}

bool text_exceeds_depth(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

}  // namespace orchagent::manifest
