#include "core/error.hpp"

#include <gtest/gtest.h>

namespace orchagent {
namespace {

TEST(ErrorTable, MatchesTheContract) {
    struct Row {
        ErrorCode code;
        const char* wire;
        int status;
        bool retryable;
    };
    // CONTRACT.md section 4.
    const Row rows[] = {
        {ErrorCode::kInvalidInput, "INVALID_INPUT", 400, false},
        {ErrorCode::kUnauthorized, "UNAUTHORIZED", 401, false},
        {ErrorCode::kForbidden, "FORBIDDEN", 403, false},
        {ErrorCode::kNotFound, "NOT_FOUND", 404, false},
        {ErrorCode::kDocumentTooLarge, "DOCUMENT_TOO_LARGE", 413, false},
        {ErrorCode::kUnsupportedType, "UNSUPPORTED_TYPE", 415, false},
        {ErrorCode::kUnprocessable, "UNPROCESSABLE", 422, false},
        {ErrorCode::kInsufficientCredits, "INSUFFICIENT_CREDITS", 402, false},
        {ErrorCode::kRateLimited, "RATE_LIMITED", 429, true},
        {ErrorCode::kTimeout, "TIMEOUT", 504, true},
        {ErrorCode::kLlmError, "LLM_ERROR", 502, true},
        {ErrorCode::kInternalError, "INTERNAL_ERROR", 500, true},
        {ErrorCode::kSandboxError, "SANDBOX_ERROR", 500, false},
        {ErrorCode::kMaxHopsExceeded, "MAX_HOPS_EXCEEDED", 400, false},
        {ErrorCode::kMissingSecrets, "MISSING_SECRETS", 400, false},
        {ErrorCode::kDownloadDisabled, "DOWNLOAD_DISABLED", 403, false},
        {ErrorCode::kPaidAgentServerOnly, "PAID_AGENT_SERVER_ONLY", 403, false},
    };
    for (const auto& row : rows) {
        const ErrorInfo& info = error_info(row.code);
        EXPECT_EQ(info.code, row.wire);
        EXPECT_EQ(info.http_status, row.status) << row.wire;
        EXPECT_EQ(info.retryable, row.retryable) << row.wire;
        EXPECT_EQ(error_code_from_string(row.wire), row.code);
    }
    EXPECT_FALSE(error_code_from_string("NO_SUCH_CODE").has_value());
}

TEST(Error, CarriesSyscallAndErrno) {
    Error e = Error::from_errno(ErrorCode::kInternalError, "open", "/x", ENOENT);
    EXPECT_EQ(e.sys_errno(), ENOENT);
    EXPECT_EQ(e.syscall(), "open");
    EXPECT_EQ(e.message(), "open '/x': ENOENT (No such file or directory)");
    EXPECT_TRUE(e.retryable());
    EXPECT_EQ(e.http_status(), 500);
    e.with_context("jail setup").with_retryable(false);
    EXPECT_EQ(e.message(), "jail setup: open '/x': ENOENT (No such file or directory)");
    EXPECT_FALSE(e.retryable());
}

TEST(Error, WithoutArgument) {
    Error e = Error::from_errno(ErrorCode::kInternalError, "pipe2", "", EMFILE);
    EXPECT_EQ(e.message(), "pipe2: EMFILE (Too many open files)");
}

TEST(Result, HoldsValueOrError) {
    Result<int> ok = 3;
    Result<int> bad = fail(ErrorCode::kNotFound, "no agent");
    EXPECT_EQ(*ok, 3);
    ASSERT_FALSE(bad.has_value());
    EXPECT_EQ(bad.error().code(), ErrorCode::kNotFound);
    EXPECT_EQ(bad.error().info().code, "NOT_FOUND");
}

}  // namespace
}  // namespace orchagent
