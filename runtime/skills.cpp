#include "runtime/skills.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "manifest/manifest.hpp"

namespace orchagent::runtime {
namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

Result<std::vector<std::string>> parse_list(std::string_view header, std::string_view value) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= value.size()) {
        const size_t comma = std::min(value.find(',', start), value.size());
        const std::string_view item = trim(value.substr(start, comma - start));
        start = comma + 1;
        if (item.empty()) continue;
        if (!manifest::is_agent_ref(item)) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("{}: '{}' is not org/skill or org/skill@version", header,
                                    item.substr(0, 200)));
        }
        if (out.size() == kMaxSkillsPerCall) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("{}: at most {} skills", header, kMaxSkillsPerCall));
        }
        out.emplace_back(item);
    }
    return out;
}

}  // namespace

Result<SkillRequest> parse_skill_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
    SkillRequest request;
    for (const auto& [name, value] : headers) {
        if (name == "x-orchagent-no-skills") {
            const std::string_view v = trim(value);
            if (v != "true" && v != "false") {
                return fail(ErrorCode::kInvalidInput, "X-Orchagent-No-Skills: must be true or false");
            }
            request.none = v == "true";
        } else if (name == "x-orchagent-skills" || name == "x-orchagent-skills-only") {
            const bool only = name == "x-orchagent-skills-only";
            auto list = parse_list(only ? "X-Orchagent-Skills-Only" : "X-Orchagent-Skills", value);
            if (!list) return std::unexpected(list.error());
            (only ? request.only.emplace() : request.add) = std::move(*list);
        }
    }
    return request;
}

std::vector<std::string> effective_skills(const std::vector<std::string>& defaults, bool locked,
                                          const SkillRequest& request) {
    std::vector<std::string> chosen;
    if (locked) {
        chosen = defaults;
    } else if (request.none) {
        return {};
    } else if (request.only) {
        chosen = *request.only;
    } else {
        chosen = defaults;
        chosen.insert(chosen.end(), request.add.begin(), request.add.end());
    }
    std::vector<std::string> out;
    for (auto& s : chosen) {
        if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(std::move(s));
    }
    return out;
}

}  // namespace orchagent::runtime
