#include "runtime/agent_output.hpp"

#include <fmt/format.h>

#include <csignal>
#include <cstring>

namespace orchagent::runtime {
namespace {

constexpr std::string_view kWarningPrefix = "@@ORCHAGENT_WARNING:";

// Agent output is untrusted bytes: invalid UTF-8 becomes U+FFFD so that every message can
// go into a JSON envelope.
std::string valid_utf8(std::string_view text) {
    std::string quoted = nlohmann::json(std::string(text))
                             .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return nlohmann::json::parse(quoted).get<std::string>();
}

// Cuts to at most `chars` bytes without splitting a UTF-8 sequence, adding "…" when cut.
std::string cut(std::string_view text, size_t chars) {
    if (text.size() <= chars) return valid_utf8(text);
    size_t end = chars - 3;  // room for the ellipsis (3 bytes)
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
    return valid_utf8(text.substr(0, end)) + "\xE2\x80\xA6";
}

std::string trim(std::string_view text) {
    size_t begin = text.find_first_not_of(" \t\r\n");
    if (begin == std::string_view::npos) return "";
    size_t end = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(begin, end - begin + 1));
}

// The last lines of stderr without warning lines: what a failing agent said.
std::string stderr_tail(std::string_view text, size_t budget) {
    std::string kept;
    size_t start = 0;
    while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        if (!line.starts_with(kWarningPrefix) && !trim(line).empty()) {
            kept.append(line);
            kept.push_back('\n');
        }
        start = end + 1;
    }
    kept = trim(kept);
    if (kept.size() > budget) {
        // Keep the end: the last lines are where the failure is.
        size_t from = kept.size() - (budget - 3);
        while (from < kept.size() && (static_cast<unsigned char>(kept[from]) & 0xC0) == 0x80) {
            ++from;
        }
        kept = "\xE2\x80\xA6" + kept.substr(from);
    }
    return valid_utf8(kept);
}

std::unexpected<Error> agent_failed(std::string message) {
    return fail(ErrorCode::kSandboxError, cut(message, kErrorMessageChars));
}

// {"error": {"code": X, "message": M}} or {"error": "M"} from a failing agent.
std::optional<Error> reported_error(const nlohmann::json& out) {
    if (!out.is_object() || !out.contains("error")) return std::nullopt;
    const auto& e = out["error"];
    if (e.is_string())
        return Error(ErrorCode::kSandboxError, cut(e.get<std::string>(), kErrorMessageChars));
    if (!e.is_object()) return std::nullopt;
    std::string message = e.contains("message") && e["message"].is_string()
                              ? e["message"].get<std::string>()
                              : "the agent reported an error";
    ErrorCode code = ErrorCode::kSandboxError;
    if (e.contains("code") && e["code"].is_string()) {
        if (auto known = error_code_from_string(e["code"].get<std::string>())) code = *known;
    }
    return Error(code, cut(message, kErrorMessageChars));
}

}  // namespace

nlohmann::json parse_warnings(std::string_view text) {
    nlohmann::json warnings = nlohmann::json::array();
    size_t start = 0;
    while (start < text.size() && warnings.size() < kMaxWarnings) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        if (!line.starts_with(kWarningPrefix) || line.size() > kMaxWarningLineBytes) continue;
        auto parsed = nlohmann::json::parse(line.substr(kWarningPrefix.size()), nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object() || !parsed.contains("message") ||
            !parsed["message"].is_string()) {
            continue;
        }
        nlohmann::json w = {{"code", "AGENT_WARNING"}, {"message", parsed["message"]}};
        if (parsed.contains("code") && parsed["code"].is_string()) w["code"] = parsed["code"];
        if (parsed.contains("field") && parsed["field"].is_string()) w["field"] = parsed["field"];
        warnings.push_back(std::move(w));
    }
    return warnings;
}

nlohmann::json compute_metadata(const sandbox::JailResult& run) {
    using std::chrono::duration_cast;
    using std::chrono::milliseconds;
    auto ms = [](std::chrono::microseconds us) { return static_cast<double>(us.count()) / 1000.0; };
    return {{"cpu_ms", ms(run.cpu_user + run.cpu_system)},
            {"peak_memory_bytes", run.peak_memory_bytes},
            {"wall_ms", ms(run.wall)}};
}

Result<AgentOutput> interpret_run(const sandbox::JailResult& run) {
    if (run.timed_out) {
        return fail(ErrorCode::kTimeout,
                    fmt::format("the agent did not finish within its deadline ({} ms); every "
                                "process it started was killed",
                                run.wall.count() / 1000));
    }
    if (run.oom_killed) {
        return agent_failed(fmt::format("the agent was killed at its memory limit (peak {} MiB)",
                                        run.peak_memory_bytes >> 20));
    }
    if (run.stdout_overflow) {
        return agent_failed(
            fmt::format("the agent's output passed its limit of {} bytes and the agent was stopped",
                        run.stdout_data.size()));
    }
    const std::string out = trim(run.stdout_data);
    nlohmann::json parsed = nlohmann::json::object();
    bool valid_json = true;
    if (!out.empty()) {
        parsed = nlohmann::json::parse(out, nullptr, false);
        valid_json = !parsed.is_discarded();
    }
    if (run.exit_code != 0) {
        if (valid_json) {
            if (auto reported = reported_error(parsed)) return std::unexpected(*reported);
        }
        std::string why =
            run.term_signal != 0
                ? fmt::format("the agent was killed by signal {} ({})", run.term_signal,
                              sigabbrev_np(run.term_signal) ? sigabbrev_np(run.term_signal) : "?")
                : fmt::format("the agent exited with code {}", run.exit_code);
        std::string tail = stderr_tail(run.stderr_tail, kErrorMessageChars - why.size() - 2);
        return agent_failed(tail.empty() ? why : fmt::format("{}: {}", why, tail));
    }
    if (!valid_json) {
        return agent_failed(
            fmt::format("the agent's output is not valid JSON: {}", cut(out, kSnippetChars)));
    }
    AgentOutput output;
    output.data = std::move(parsed);
    output.warnings = parse_warnings(run.stderr_tail);
    output.compute = compute_metadata(run);
    return output;
}

}  // namespace orchagent::runtime
