// Errors are values: every fallible function returns Result<T> = std::expected<T, Error>.
// An Error carries the API code (CONTRACT.md section 4), a message, whether a retry may help
// and, when a system call failed, which one, on what, and its errno.
#pragma once

#include <cerrno>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace orchagent {

// The API error codes. The one table mapping them to HTTP status and retryability is
// error_info() in error.cpp; nothing else in the project decides a status.
enum class ErrorCode {
    kInvalidInput,
    kUnauthorized,
    kForbidden,
    kNotFound,
    kMethodNotAllowed,
    kConflict,
    kDocumentTooLarge,
    kUnsupportedType,
    kUnprocessable,
    kInsufficientCredits,
    kRateLimited,
    kTimeout,
    kLlmError,
    kInternalError,
    kServiceUnavailable,
    kSandboxError,
    kMaxHopsExceeded,
    kMissingSecrets,
    kDownloadDisabled,
    kPaidAgentServerOnly,
};

struct ErrorInfo {
    std::string_view code;  // wire spelling, e.g. "INVALID_INPUT"
    int http_status;
    bool retryable;
};

// The one table: code -> wire name, HTTP status, retryability.
const ErrorInfo& error_info(ErrorCode code);
// Wire spelling -> code (for agents that exit with {"error": {"code": "X"}}).
std::optional<ErrorCode> error_code_from_string(std::string_view wire);

class Error {
  public:
    Error(ErrorCode code, std::string message);

    // A failed system call: `syscall` is its name, `arg` what it was applied to (a path, an
    // id, may be empty), `err` the errno. Renders as: mount '/proc': EPERM (Operation not...).
    static Error from_errno(ErrorCode code, std::string_view syscall, std::string_view arg,
                            int err);

    ErrorCode code() const { return code_; }
    const ErrorInfo& info() const { return error_info(code_); }
    const std::string& message() const { return message_; }
    bool retryable() const { return retryable_; }
    int http_status() const { return info().http_status; }
    // errno and the failing syscall, when the error came from one.
    int sys_errno() const { return errno_; }
    const std::string& syscall() const { return syscall_; }

    // Overrides the table's retryability for this one error (e.g. a jail setup step that
    // failed with EAGAIN may be retried even though SANDBOX_ERROR is not).
    Error& with_retryable(bool retryable) {
        retryable_ = retryable;
        return *this;
    }
    // Prefixes context: "jail setup: " + message.
    Error& with_context(std::string_view context);

  private:
    ErrorCode code_;
    std::string message_;
    bool retryable_;
    int errno_ = 0;
    std::string syscall_;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string message) {
    return std::unexpected<Error>(Error(code, std::move(message)));
}
inline std::unexpected<Error> fail_errno(std::string_view syscall, std::string_view arg,
                                         int err = errno,
                                         ErrorCode code = ErrorCode::kInternalError) {
    return std::unexpected<Error>(Error::from_errno(code, syscall, arg, err));
}

// "ENOENT", or "errno 4242" when glibc has no name for it.
std::string errno_name(int err);

}  // namespace orchagent
