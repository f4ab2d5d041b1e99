// What an agent's run means to a caller: stdout parsed as the `data` JSON value, stderr's
// warning lines, and the exit status mapped to the error codes of CONTRACT.md section 4.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "sandbox/jail_result.hpp"

namespace orchagent::runtime {

struct AgentOutput {
    nlohmann::json data = nlohmann::json::object();  // stdout's JSON value; {} when empty
    nlohmann::json warnings = nlohmann::json::array();
    nlohmann::json compute;  // {cpu_ms, peak_memory_bytes, wall_ms}
};

// Limits on what is taken from an agent's output.
inline constexpr size_t kMaxWarnings = 100;
inline constexpr size_t kMaxWarningLineBytes = 4096;
inline constexpr size_t kErrorMessageChars = 500;  // CONTRACT: at most 500 characters
inline constexpr size_t kSnippetChars = 200;       // of invalid stdout, in the error

// Interprets a finished run. Success: exit 0 and stdout empty or one JSON value. Otherwise
// an Error: TIMEOUT (deadline), SANDBOX_ERROR (crash, non-zero exit, invalid JSON, memory
// limit, output over its cap), or the code an agent reported with
// {"error": {"code": X, "message": M}} when X is one of the contract's codes. The Error's
// message never exceeds 500 characters.
Result<AgentOutput> interpret_run(const sandbox::JailResult& run);

// The warning lines of stderr: `@@ORCHAGENT_WARNING:{"code":…,"field":…,"message":…}`.
// Malformed lines are skipped; at most kMaxWarnings are kept.
nlohmann::json parse_warnings(std::string_view stderr_text);

// {cpu_ms, peak_memory_bytes, wall_ms} from the jail's meters.
nlohmann::json compute_metadata(const sandbox::JailResult& run);

}  // namespace orchagent::runtime
