#include "runtime/agent_output.hpp"

#include <gtest/gtest.h>

#include <csignal>

namespace orchagent::runtime {
namespace {

sandbox::JailResult run_with(int exit_code, std::string out, std::string err = "") {
    sandbox::JailResult r;
    r.exit_code = exit_code;
    r.stdout_data = std::move(out);
    r.stderr_tail = std::move(err);
    r.wall = std::chrono::microseconds(12'345);
    r.cpu_user = std::chrono::microseconds(3'000);
    r.cpu_system = std::chrono::microseconds(500);
    r.peak_memory_bytes = 4 << 20;
    return r;
}

TEST(AgentOutput, JsonValueBecomesData) {
    auto out = interpret_run(run_with(0, "{\"answer\": 42}\n"));
    ASSERT_TRUE(out.has_value()) << out.error().message();
    EXPECT_EQ(out->data, nlohmann::json({{"answer", 42}}));
    EXPECT_EQ(out->compute["cpu_ms"], 3.5);
    EXPECT_EQ(out->compute["wall_ms"], 12.345);
    EXPECT_EQ(out->compute["peak_memory_bytes"], 4 << 20);
    // Any JSON value, not only objects.
    EXPECT_EQ(interpret_run(run_with(0, "[1,2]"))->data, nlohmann::json::array({1, 2}));
    EXPECT_EQ(interpret_run(run_with(0, " \"text\" "))->data, "text");
}

TEST(AgentOutput, EmptyStdoutIsAnEmptyObject) {
    EXPECT_EQ(interpret_run(run_with(0, ""))->data, nlohmann::json::object());
    EXPECT_EQ(interpret_run(run_with(0, " \n\t"))->data, nlohmann::json::object());
}

TEST(AgentOutput, InvalidJsonIsASandboxErrorWithASnippet) {
    auto out = interpret_run(run_with(0, "Hello, not JSON " + std::string(1000, 'x')));
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code(), ErrorCode::kSandboxError);
    EXPECT_NE(out.error().message().find("not valid JSON: Hello, not JSON"), std::string::npos);
    EXPECT_LE(out.error().message().size(), kErrorMessageChars);
    // Two values are not one.
    EXPECT_FALSE(interpret_run(run_with(0, "{} {}")).has_value());
}

TEST(AgentOutput, InvalidUtf8NeverBreaksTheMessage) {
    auto out = interpret_run(run_with(0, "\xff\xfe not json"));
    ASSERT_FALSE(out.has_value());
    // The message must survive being written into a JSON envelope.
    EXPECT_NO_THROW(nlohmann::json({{"m", out.error().message()}}).dump());
}

TEST(AgentOutput, WarningsComeFromStderrLines) {
    std::string err =
        "debug line\n"
        "@@ORCHAGENT_WARNING:{\"code\":\"LOW_CONFIDENCE\",\"field\":\"total\",\"message\":"
        "\"unsure\"}\n"
        "@@ORCHAGENT_WARNING:not json\n"
        "@@ORCHAGENT_WARNING:{\"message\":\"plain\"}\n"
        "@@ORCHAGENT_WARNING:{\"code\":\"X\"}\n";
    auto out = interpret_run(run_with(0, "{}", err));
    ASSERT_TRUE(out.has_value());
    ASSERT_EQ(out->warnings.size(), 2u);
    EXPECT_EQ(
        out->warnings[0],
        nlohmann::json({{"code", "LOW_CONFIDENCE"}, {"field", "total"}, {"message", "unsure"}}));
    EXPECT_EQ(out->warnings[1], nlohmann::json({{"code", "AGENT_WARNING"}, {"message", "plain"}}));
    std::string many;
    for (int i = 0; i < 300; ++i) many += "@@ORCHAGENT_WARNING:{\"message\":\"m\"}\n";
    EXPECT_EQ(parse_warnings(many).size(), kMaxWarnings);
}

TEST(AgentOutput, ReportedErrorCodesMapToTheContract) {
    auto out = interpret_run(
        run_with(1, "{\"error\": {\"code\": \"UNPROCESSABLE\", \"message\": \"not an invoice\"}}"));
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code(), ErrorCode::kUnprocessable);
    EXPECT_EQ(out.error().message(), "not an invoice");
    EXPECT_EQ(out.error().http_status(), 422);
    // An unknown code, or a plain string: SANDBOX_ERROR with the agent's message.
    out = interpret_run(run_with(1, "{\"error\": {\"code\": \"MADE_UP\", \"message\": \"m\"}}"));
    EXPECT_EQ(out.error().code(), ErrorCode::kSandboxError);
    EXPECT_EQ(out.error().message(), "m");
    out = interpret_run(run_with(1, "{\"error\": \"broke\"}"));
    EXPECT_EQ(out.error().code(), ErrorCode::kSandboxError);
    EXPECT_EQ(out.error().message(), "broke");
    out = interpret_run(
        run_with(1, "{\"error\": {\"message\": \"" + std::string(2000, 'y') + "\"}}"));
    EXPECT_LE(out.error().message().size(), kErrorMessageChars);
}

TEST(AgentOutput, CrashesCarryTheTailOfStderr) {
    auto out = interpret_run(run_with(
        2, "", "@@ORCHAGENT_WARNING:{\"message\":\"w\"}\nTraceback...\nValueError: bad\n"));
    ASSERT_FALSE(out.has_value());
    EXPECT_EQ(out.error().code(), ErrorCode::kSandboxError);
    EXPECT_FALSE(out.error().retryable());
    EXPECT_EQ(out.error().message(), "the agent exited with code 2: Traceback...\nValueError: bad");
    auto long_err = interpret_run(run_with(1, "", std::string(5000, 'e') + "\nlast line"));
    EXPECT_LE(long_err.error().message().size(), kErrorMessageChars);
    EXPECT_TRUE(long_err.error().message().ends_with("last line"));
    sandbox::JailResult killed = run_with(-1, "");
    killed.term_signal = SIGSEGV;
    EXPECT_NE(interpret_run(killed).error().message().find("signal 11 (SEGV)"), std::string::npos);
}

TEST(AgentOutput, LimitsBecomeErrors) {
    sandbox::JailResult r = run_with(-1, "partial");
    r.term_signal = SIGKILL;
    r.timed_out = true;
    EXPECT_EQ(interpret_run(r).error().code(), ErrorCode::kTimeout);
    EXPECT_TRUE(interpret_run(r).error().retryable());
    r.timed_out = false;
    r.oom_killed = true;
    EXPECT_NE(interpret_run(r).error().message().find("memory limit"), std::string::npos);
    r.oom_killed = false;
    r.stdout_overflow = true;
    EXPECT_NE(interpret_run(r).error().message().find("output passed its limit"),
              std::string::npos);
}

}  // namespace
}  // namespace orchagent::runtime
