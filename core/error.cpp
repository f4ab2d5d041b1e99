#include "core/error.hpp"

#include <fmt/format.h>

#include <array>
#include <cstring>

namespace orchagent {
namespace {

struct Row {
    ErrorCode code;
    ErrorInfo info;
};

// CONTRACT.md section 4, plus the codes the control plane needs (405, 409, 503).
constexpr std::array kTable = {
    Row{ErrorCode::kInvalidInput, {"INVALID_INPUT", 400, false}},
    Row{ErrorCode::kUnauthorized, {"UNAUTHORIZED", 401, false}},
    Row{ErrorCode::kForbidden, {"FORBIDDEN", 403, false}},
    Row{ErrorCode::kNotFound, {"NOT_FOUND", 404, false}},
    Row{ErrorCode::kMethodNotAllowed, {"METHOD_NOT_ALLOWED", 405, false}},
    Row{ErrorCode::kConflict, {"CONFLICT", 409, false}},
    Row{ErrorCode::kDocumentTooLarge, {"DOCUMENT_TOO_LARGE", 413, false}},
    Row{ErrorCode::kUnsupportedType, {"UNSUPPORTED_TYPE", 415, false}},
    Row{ErrorCode::kUnprocessable, {"UNPROCESSABLE", 422, false}},
    Row{ErrorCode::kInsufficientCredits, {"INSUFFICIENT_CREDITS", 402, false}},
    Row{ErrorCode::kRateLimited, {"RATE_LIMITED", 429, true}},
    Row{ErrorCode::kTimeout, {"TIMEOUT", 504, true}},
    Row{ErrorCode::kLlmError, {"LLM_ERROR", 502, true}},
    Row{ErrorCode::kInternalError, {"INTERNAL_ERROR", 500, true}},
    Row{ErrorCode::kServiceUnavailable, {"SERVICE_UNAVAILABLE", 503, true}},
    Row{ErrorCode::kSandboxError, {"SANDBOX_ERROR", 500, false}},
    Row{ErrorCode::kMaxHopsExceeded, {"MAX_HOPS_EXCEEDED", 400, false}},
    Row{ErrorCode::kMissingSecrets, {"MISSING_SECRETS", 400, false}},
    Row{ErrorCode::kDownloadDisabled, {"DOWNLOAD_DISABLED", 403, false}},
    Row{ErrorCode::kPaidAgentServerOnly, {"PAID_AGENT_SERVER_ONLY", 403, false}},
};

}  // namespace

const ErrorInfo& error_info(ErrorCode code) {
    for (const auto& row : kTable) {
        if (row.code == code) return row.info;
    }
    return error_info(ErrorCode::kInternalError);
}

std::optional<ErrorCode> error_code_from_string(std::string_view wire) {
    for (const auto& row : kTable) {
        if (row.info.code == wire) return row.code;
    }
    return std::nullopt;
}

std::string errno_name(int err) {
    const char* name = strerrorname_np(err);
    return name != nullptr ? std::string(name) : fmt::format("errno {}", err);
}

Error::Error(ErrorCode code, std::string message)
    : code_(code), message_(std::move(message)), retryable_(error_info(code).retryable) {}

Error Error::from_errno(ErrorCode code, std::string_view syscall, std::string_view arg, int err) {
    std::string message = arg.empty()
                              ? fmt::format("{}: {} ({})", syscall, errno_name(err),
                                            strerrordesc_np(err) ? strerrordesc_np(err) : "?")
                              : fmt::format("{} '{}': {} ({})", syscall, arg, errno_name(err),
                                            strerrordesc_np(err) ? strerrordesc_np(err) : "?");
    Error error(code, std::move(message));
    error.errno_ = err;
    error.syscall_ = std::string(syscall);
    return error;
}

Error& Error::with_context(std::string_view context) {
    message_ = fmt::format("{}: {}", context, message_);
    return *this;
}

}  // namespace orchagent
