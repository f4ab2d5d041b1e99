// Which skills apply to a call (CONTRACT.md section 4): the agent's `default_skills`, then
// the caller's headers: X-Orchagent-Skills adds, X-Orchagent-Skills-Only replaces,
// X-Orchagent-No-Skills: true drops them all; an agent with `skills_locked` ignores all three.
// The result is recorded with the call and passed on to the calls its agent makes.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace orchagent::runtime {

inline constexpr size_t kMaxSkillsPerCall = 50;

struct SkillRequest {
    std::vector<std::string> add;                     // X-Orchagent-Skills
    std::optional<std::vector<std::string>> only;     // X-Orchagent-Skills-Only
    bool none = false;                                // X-Orchagent-No-Skills: true
};

// The three headers (names lower-cased) as sent. INVALID_INPUT naming the header for an
// entry that is not org/skill[@version], more than kMaxSkillsPerCall entries, or a
// No-Skills value other than true/false.
Result<SkillRequest> parse_skill_headers(const std::vector<std::pair<std::string, std::string>>& headers);

// The skills that apply, in order, without duplicates.
std::vector<std::string> effective_skills(const std::vector<std::string>& defaults, bool locked,
                                          const SkillRequest& request);

}  // namespace orchagent::runtime
