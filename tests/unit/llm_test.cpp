// Prompt agents: {{field}} filling, reading a chat completion, and the client against a fake
// OpenAI-compatible endpoint on loopback (runtime/llm.hpp).
#include "runtime/llm.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/support/fake_http.hpp"

namespace orchagent::runtime {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;
using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;

std::string fill_ok(std::string_view prompt, const Json& input, const Json& schema = nullptr) {
    auto r = fill_prompt(prompt, input, schema, 1 << 20);
    EXPECT_TRUE(r.has_value()) << r.error().message();
    return r.value_or("<error>");
}

TEST(FillPrompt, StringsAsTheyAreOtherValuesAsCompactJson) {
    const Json in = {{"name", "Ada \"L\""}, {"n", 3},
                     {"ok", true},          {"tags", {"a", "b"}},
                     {"obj", {{"k", 1.5}}}, {"nothing", nullptr}};
    EXPECT_EQ(
        fill_ok("Hi {{name}}! n={{n}} ok={{ ok }} tags={{tags}} obj={{obj}} z={{nothing}}", in),
        "Hi Ada \"L\"! n=3 ok=true tags=[\"a\",\"b\"] obj={\"k\":1.5} z=null");
    EXPECT_EQ(fill_ok("{{name}}{{name}}", {{"name", "x"}}), "xx");
    EXPECT_EQ(fill_ok("no placeholders", Json::object()), "no placeholders");
    EXPECT_EQ(fill_ok("", Json::object()), "");
}

TEST(FillPrompt, DottedPathsWalkIntoObjects) {
    const Json in = {{"user", {{"name", "Ada"}, {"address", {{"city", "London"}}}}}};
    EXPECT_EQ(fill_ok("{{user.name}} of {{user.address.city}}", in), "Ada of London");
    auto missing = fill_prompt("{{user.age}}", in, nullptr, 1 << 20);
    ASSERT_FALSE(missing.has_value());
    EXPECT_NE(missing.error().message().find("{{user.age}}"), std::string::npos);
}

TEST(FillPrompt, TheInputIsNeverFilledAgain) {
    // A value that looks like a placeholder stays as sent: no second expansion.
    EXPECT_EQ(fill_ok("a={{a}} b={{b}}", {{"a", "{{b}}"}, {"b", "B"}}), "a={{b}} b=B");
}

TEST(FillPrompt, BracesThatAreNotPlaceholdersStayAsWritten) {
    EXPECT_EQ(fill_ok("JSON like {\"a\": 1} and {{ not a name! }} and {{}} and {{x", {{"x", 1}}),
              "JSON like {\"a\": 1} and {{ not a name! }} and {{}} and {{x");
    EXPECT_EQ(fill_ok("{{{x}}}", {{"x", "v"}}), "{v}");
    EXPECT_EQ(fill_ok("{\"name\": {{x}}}", {{"x", 7}}), "{\"name\": 7}");
}

TEST(FillPrompt, AMissingFieldIsInvalidInputNamingItUnlessTheSchemaDeclaresIt) {
    auto r = fill_prompt("Translate {{text}} into {{language}} ({{text}})", {{"text", "hi"}},
                         nullptr, 1 << 20);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(r.error().message().find("{{language}}"), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find("{{text}}"), std::string::npos) << r.error().message();

    auto two = fill_prompt("{{a}} {{b}} {{a}}", Json::object(), nullptr, 1 << 20);
    ASSERT_FALSE(two.has_value());
    EXPECT_NE(two.error().message().find("{{a}}, {{b}}"), std::string::npos)
        << two.error().message();

    // Declared in input_schema but not required: an optional field, filled as "".
    const Json schema = {
        {"type", "object"},
        {"properties", {{"text", {{"type", "string"}}}, {"tone", {{"type", "string"}}}}}};
    EXPECT_EQ(fill_ok("{{text}}|{{tone}}", {{"text", "hi"}}, schema), "hi|");
    // Undeclared fields are still an error with a schema.
    EXPECT_FALSE(fill_prompt("{{other}}", {{"text", "hi"}}, schema, 1 << 20).has_value());
}

TEST(FillPrompt, SizeAndPlaceholderLimits) {
    auto big = fill_prompt("{{x}}{{x}}{{x}}", {{"x", std::string(400, 'a')}}, nullptr, 1000);
    ASSERT_FALSE(big.has_value());
    EXPECT_EQ(big.error().code(), ErrorCode::kDocumentTooLarge);
    EXPECT_NE(big.error().message().find("1000 bytes"), std::string::npos);
    EXPECT_TRUE(
        fill_prompt("{{x}}{{x}}", {{"x", std::string(400, 'a')}}, nullptr, 1000).has_value());
    // Literal text counts too.
    EXPECT_FALSE(fill_prompt(std::string(1001, 'p'), Json::object(), nullptr, 1000).has_value());

    std::string many;
    for (size_t i = 0; i <= kMaxPromptPlaceholders; ++i) many += "{{x}}";
    auto r = fill_prompt(many, {{"x", ""}}, nullptr, 1 << 20);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(r.error().message().find("placeholders"), std::string::npos);
    many.resize(many.size() - 5);
    EXPECT_TRUE(fill_prompt(many, {{"x", ""}}, nullptr, 1 << 20).has_value());
}

TEST(ReplyData, ObjectsAndArraysAreDataEverythingElseIsAResult) {
    EXPECT_EQ(reply_data(R"({"sentiment": "positive", "score": 0.9})"),
              Json::parse(R"({"sentiment": "positive", "score": 0.9})"));
    EXPECT_EQ(reply_data(" \n[1, 2]\n"), Json::parse("[1,2]"));
    EXPECT_EQ(reply_data("```json\n{\"a\": 1}\n```"), Json::parse(R"({"a":1})"));
    EXPECT_EQ(reply_data("```\n[true]\n```\n"), Json::parse("[true]"));
    EXPECT_EQ(reply_data("Paris."), Json({{"result", "Paris."}}));
    EXPECT_EQ(reply_data("42"), Json({{"result", "42"}}));
    EXPECT_EQ(reply_data("\"quoted\""), Json({{"result", "\"quoted\""}}));
    EXPECT_EQ(reply_data("{not json"), Json({{"result", "{not json"}}));
    EXPECT_EQ(reply_data("Here: {\"a\": 1}"), Json({{"result", "Here: {\"a\": 1}"}}));
    EXPECT_EQ(reply_data(""), Json({{"result", ""}}));
    // Too deep to be taken as data: kept as text rather than parsed.
    const std::string deep = std::string(200, '[') + std::string(200, ']');
    EXPECT_EQ(reply_data(deep), Json({{"result", deep}}));
}

std::string completion(const std::string& content, const std::string& extra = "") {
    Json j = {{"id", "chatcmpl-1"},
              {"object", "chat.completion"},
              {"model", "gpt-4o-mini-2024-07-18"},
              {"choices",
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", content}}},
                 {"finish_reason", extra.empty() ? "stop" : extra}}}},
              {"usage", {{"prompt_tokens", 12}, {"completion_tokens", 5}, {"total_tokens", 17}}}};
    return j.dump();
}

TEST(ParseChatReply, ContentUsageModelAndTruncation) {
    auto r = parse_chat_reply(completion(R"({"answer": 4})"));
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->data, Json({{"answer", 4}}));
    EXPECT_EQ(r->text, R"({"answer": 4})");
    EXPECT_EQ(r->model, "gpt-4o-mini-2024-07-18");
    EXPECT_EQ(r->usage,
              Json({{"prompt_tokens", 12}, {"completion_tokens", 5}, {"total_tokens", 17}}));
    EXPECT_TRUE(r->warnings.empty());

    auto cut = parse_chat_reply(completion("The answer is", "length"));
    ASSERT_TRUE(cut.has_value());
    EXPECT_EQ(cut->data, Json({{"result", "The answer is"}}));
    ASSERT_EQ(cut->warnings.size(), 1u);
    EXPECT_EQ(cut->warnings[0]["code"], "TRUNCATED");

    auto bare = parse_chat_reply(R"({"choices":[{"message":{"content":"hi"}}]})");
    ASSERT_TRUE(bare.has_value());
    EXPECT_TRUE(bare->usage.is_null());
    EXPECT_EQ(bare->model, "");
}

TEST(ParseChatReply, MalformedAnswersAreLlmErrorsRefusalsUnprocessable) {
    for (const char* body :
         {"", "not json", "[]", "{}", R"({"choices": []})", R"({"choices": [{"text": "legacy"}]})",
          R"({"choices": [{"message": {"role": "assistant"}}]})",
          R"({"choices": [{"message": {"content": 5}}]})"}) {
        auto r = parse_chat_reply(body);
        ASSERT_FALSE(r.has_value()) << body;
        EXPECT_EQ(r.error().code(), ErrorCode::kLlmError) << body;
        EXPECT_TRUE(r.error().retryable());
        EXPECT_NE(r.error().message().find("not a chat completion"), std::string::npos);
    }
    auto refused = parse_chat_reply(
        R"({"choices": [{"message": {"content": null, "refusal": "I can't help with that."}}]})");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), ErrorCode::kUnprocessable);
    EXPECT_NE(refused.error().message().find("I can't help with that."), std::string::npos);
}

TEST(LlmConfigCheck, ValuesAndTheKeyFromTheEnvironment) {
    LlmConfig c{.base_url = "https://api.example.com/v1/", .model = "m"};
    ASSERT_TRUE(check_llm_config(c).has_value());
    EXPECT_EQ(c.base_url, "https://api.example.com/v1");
    LlmConfig ftp{.base_url = "ftp://x", .model = "m"};
    EXPECT_NE(check_llm_config(ftp).error().message().find("llm.base_url"), std::string::npos);
    LlmConfig no_model{.base_url = "http://x"};
    EXPECT_NE(check_llm_config(no_model).error().message().find("llm.model"), std::string::npos);
    LlmConfig slow{.base_url = "http://x", .model = "m", .timeout_seconds = 0};
    EXPECT_FALSE(check_llm_config(slow).has_value());

    ::unsetenv("ORCHAGENT_TEST_LLM_KEY");
    LlmConfig keyed{.base_url = "http://x", .api_key_env = "ORCHAGENT_TEST_LLM_KEY", .model = "m"};
    auto unset = load_llm_key(keyed);
    ASSERT_FALSE(unset.has_value());
    EXPECT_NE(unset.error().message().find("ORCHAGENT_TEST_LLM_KEY is not set"), std::string::npos);
    ::setenv("ORCHAGENT_TEST_LLM_KEY", "", 1);
    EXPECT_NE(load_llm_key(keyed).error().message().find("is empty"), std::string::npos);
    ::setenv("ORCHAGENT_TEST_LLM_KEY", "sk-test-123", 1);
    ASSERT_TRUE(load_llm_key(keyed).has_value());
    EXPECT_EQ(keyed.api_key, "sk-test-123");
    ::unsetenv("ORCHAGENT_TEST_LLM_KEY");
    LlmConfig keyless{.base_url = "http://x", .model = "m"};
    ASSERT_TRUE(load_llm_key(keyless).has_value());
    EXPECT_EQ(keyless.api_key, "");
}

manifest::AgentManifest prompt_agent(std::string prompt) {
    manifest::AgentManifest m;
    m.name = "p";
    m.type = manifest::AgentType::kPrompt;
    m.execution_engine = manifest::ExecutionEngine::kDirectLlm;
    m.prompt = std::move(prompt);
    return m;
}

CallInput json_input(const std::string& body) {
    CallInput in;
    in.json_body = body;
    return in;
}

constexpr const char* kKey = "sk-secret-key-0123456789";

LlmClient client_for(const FakeHttpServer& server, int timeout_seconds = 60) {
    return LlmClient({.base_url = server.url() + "/v1",
                      .api_key = kKey,
                      .model = "operator-model",
                      .timeout_seconds = timeout_seconds});
}

TEST(LlmClient, SendsTheFilledPromptModelAndKey) {
    FakeHttpServer server(
        [](const FakeRequest&) { return FakeResponse{.body = completion("ok")}; });
    LlmClient llm = client_for(server);
    auto agent = prompt_agent("Summarise {{text}}");
    LlmRun run = llm.run(agent, json_input(R"({"text": "the news"})"), milliseconds(5000));
    ASSERT_TRUE(run.reply.has_value()) << run.reply.error().message();
    EXPECT_EQ(run.reply->data, Json({{"result", "ok"}}));
    EXPECT_TRUE(run.sent);
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/v1/chat/completions");
    EXPECT_EQ(seen[0].headers.at("authorization"), std::string("Bearer ") + kKey);
    EXPECT_EQ(seen[0].headers.at("content-type"), "application/json");
    const Json body = Json::parse(seen[0].body);
    EXPECT_EQ(body["model"], "operator-model");
    ASSERT_EQ(body["messages"].size(), 1u);
    EXPECT_EQ(body["messages"][0], Json({{"role", "user"}, {"content", "Summarise the news"}}));

    // The agent's default model for this provider wins; an output_schema adds a system
    // message and is checked against the reply (a mismatch is a warning).
    agent.default_models = {{"openai", "agent-model"}, {"anthropic", "claude"}};
    agent.output_schema = {{"type", "object"}, {"required", {"summary"}}};
    run = llm.run(agent, json_input(R"({"text": "x"})"), milliseconds(5000));
    ASSERT_TRUE(run.reply.has_value());
    const Json second = Json::parse(server.requests().at(1).body);
    EXPECT_EQ(second["model"], "agent-model");
    ASSERT_EQ(second["messages"].size(), 2u);
    EXPECT_EQ(second["messages"][0]["role"], "system");
    EXPECT_NE(
        second["messages"][0]["content"].get<std::string>().find("\"required\":[\"summary\"]"),
        std::string::npos);
    ASSERT_EQ(run.reply->warnings.size(), 1u);
    EXPECT_EQ(run.reply->warnings[0]["code"], "OUTPUT_SCHEMA_MISMATCH");
}

TEST(LlmClient, InputProblemsAreRefusedBeforeAnythingIsSent) {
    FakeHttpServer server(
        [](const FakeRequest&) { return FakeResponse{.body = completion("ok")}; });
    LlmClient llm = client_for(server);
    auto agent = prompt_agent("{{q}}");
    agent.input_schema = {
        {"type", "object"}, {"required", {"q"}}, {"properties", {{"q", {{"type", "string"}}}}}};
    LlmRun wrong = llm.run(agent, json_input(R"({"q": 5})"), milliseconds(5000));
    ASSERT_FALSE(wrong.reply.has_value());
    EXPECT_EQ(wrong.reply.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(wrong.reply.error().message().find("q"), std::string::npos);

    CallInput files;
    files.files.push_back({.host_path = "/dev/null", .original_name = "a.txt"});
    EXPECT_EQ(llm.run(agent, files, milliseconds(5000)).reply.error().code(),
              ErrorCode::kUnsupportedType);

    LlmRun late = llm.run(agent, json_input(R"({"q": "x"})"), milliseconds(0));
    EXPECT_EQ(late.reply.error().code(), ErrorCode::kTimeout);

    auto picky = prompt_agent("hi");
    picky.supported_providers = {"anthropic"};
    LlmRun other = llm.run(picky, json_input("{}"), milliseconds(5000));
    ASSERT_FALSE(other.reply.has_value());
    EXPECT_EQ(other.reply.error().code(), ErrorCode::kLlmError);
    EXPECT_FALSE(other.reply.error().retryable());
    picky.supported_providers = {"anthropic", "any"};
    EXPECT_TRUE(llm.run(picky, json_input("{}"), milliseconds(5000)).reply.has_value());

    EXPECT_EQ(server.requests().size(), 1u);  // only the last one went out
}

TEST(LlmClient, ProviderFailuresAreLlmErrorsWithoutTheKey) {
    FakeHttpServer server([](const FakeRequest& r) {
        if (r.body.find("five-hundred") != std::string::npos) {
            return FakeResponse{
                .status = 500, .body = R"({"error": {"message": "boom", "type": "server_error"}})"};
        }
        if (r.body.find("bad-key") != std::string::npos) {
            return FakeResponse{
                .status = 401,
                .body = std::string(R"({"error": {"message": "Incorrect API key provided: )") +
                        kKey + R"(", "code": "invalid_api_key"}})"};
        }
        return FakeResponse{.content_type = "text/html", .body = "<html>gateway</html>"};
    });
    LlmClient llm = client_for(server);
    LlmRun five = llm.run(prompt_agent("five-hundred"), json_input("{}"), milliseconds(5000));
    ASSERT_FALSE(five.reply.has_value());
    EXPECT_EQ(five.reply.error().code(), ErrorCode::kLlmError);
    EXPECT_TRUE(five.reply.error().retryable());
    EXPECT_NE(five.reply.error().message().find("HTTP 500 (server_error)"), std::string::npos);

    LlmRun denied = llm.run(prompt_agent("bad-key"), json_input("{}"), milliseconds(5000));
    ASSERT_FALSE(denied.reply.has_value());
    EXPECT_EQ(denied.reply.error().code(), ErrorCode::kLlmError);
    EXPECT_FALSE(denied.reply.error().retryable());
    EXPECT_EQ(denied.reply.error().message().find(kKey), std::string::npos);
    EXPECT_NE(denied.reply.error().message().find("401"), std::string::npos);

    LlmRun html = llm.run(prompt_agent("other"), json_input("{}"), milliseconds(5000));
    ASSERT_FALSE(html.reply.has_value());
    EXPECT_EQ(html.reply.error().code(), ErrorCode::kLlmError);
    EXPECT_NE(html.reply.error().message().find("not JSON"), std::string::npos);

    // Nobody listening: the message says so without naming the URL or the key.
    const std::string dead_url = [] {
        FakeHttpServer gone([](const FakeRequest&) { return FakeResponse{}; });
        return gone.url();
    }();
    LlmClient unreachable({.base_url = dead_url, .api_key = kKey, .model = "m"});
    LlmRun refused = unreachable.run(prompt_agent("x"), json_input("{}"), milliseconds(5000));
    ASSERT_FALSE(refused.reply.has_value());
    EXPECT_EQ(refused.reply.error().code(), ErrorCode::kLlmError);
    EXPECT_NE(refused.reply.error().message().find("could not be reached"), std::string::npos);
    EXPECT_EQ(refused.reply.error().message().find(dead_url), std::string::npos);
    EXPECT_EQ(refused.reply.error().message().find(kKey), std::string::npos);
}

TEST(LlmClient, TheCallersDeadlineIsTimeoutTheOperatorsLimitIsLlmError) {
    FakeHttpServer slow([](const FakeRequest&) {
        return FakeResponse{.body = completion("late"), .delay_ms = 1500};
    });
    LlmClient llm = client_for(slow, /*timeout_seconds=*/1);
    const auto start = std::chrono::steady_clock::now();
    LlmRun deadline = llm.run(prompt_agent("x"), json_input("{}"), milliseconds(300));
    const auto took = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(deadline.reply.has_value());
    EXPECT_EQ(deadline.reply.error().code(), ErrorCode::kTimeout);
    EXPECT_LT(took, milliseconds(1200));
    EXPECT_GE(deadline.provider_ms, 280);

    LlmRun provider = llm.run(prompt_agent("x"), json_input("{}"), milliseconds(10'000));
    ASSERT_FALSE(provider.reply.has_value());
    EXPECT_EQ(provider.reply.error().code(), ErrorCode::kLlmError);
    EXPECT_NE(provider.reply.error().message().find("did not answer within 1 s"),
              std::string::npos);
}

TEST(RunPromptCall, TheEnvelopeAndTheUsageRecord) {
    FakeHttpServer server([](const FakeRequest& r) {
        if (r.body.find("deny") != std::string::npos) {
            // A provider that quotes the key back in its error message.
            return FakeResponse{.status = 401,
                                .body = Json{{"error",
                                              {{"message", "Incorrect API key provided: " +
                                                               r.headers.at("authorization")},
                                               {"code", "invalid_api_key"}}}}
                                            .dump()};
        }
        return FakeResponse{.body = completion(R"({"n": 1})")};
    });
    LlmClient llm = client_for(server);
    Clock clock;
    auto agent = prompt_agent("{{q}}");
    agent.version = "v3";
    CallContext context{.request_id = "req_1"};
    CallOptions options{.accepted_at_ms = clock.now_ms()};
    store::UsageRecord record{.id = "run_1"};

    CallResponse ok = run_prompt_call(llm, agent, json_input(R"({"q": "hi"})"), context,
                                      milliseconds(5000), clock, options, record);
    ASSERT_EQ(ok.status, 200) << ok.body.dump();
    EXPECT_EQ(ok.body["data"], Json({{"n", 1}}));
    const Json& meta = ok.body["metadata"];
    EXPECT_EQ(meta["request_id"], "req_1");
    EXPECT_EQ(meta["version"], "v3");
    EXPECT_EQ(meta["run_id"], "run_1");
    EXPECT_EQ(meta["model"], "gpt-4o-mini-2024-07-18");
    EXPECT_EQ(meta["llm_usage"]["total_tokens"], 17);
    EXPECT_TRUE(meta["execution_time_ms"].is_number());
    EXPECT_FALSE(meta.contains("compute"));
    EXPECT_FALSE(meta.contains("stdout"));
    EXPECT_EQ(record.stdout_text, R"({"n": 1})");

    store::UsageRecord failed_record{.id = "run_2"};
    agent.prompt = "deny {{q}}";
    options.verbose = true;
    CallResponse denied = run_prompt_call(llm, agent, json_input(R"({"q": "hi"})"), context,
                                          milliseconds(5000), clock, options, failed_record);
    EXPECT_EQ(denied.status, 502);
    EXPECT_EQ(denied.body["error"]["code"], "LLM_ERROR");
    EXPECT_FALSE(denied.body["error"]["is_retryable"].get<bool>());
    EXPECT_EQ(denied.body["metadata"]["run_id"], "run_2");
    // The provider's words reach the record (the owner's logs) with the key blotted out,
    // and never the caller's envelope.
    EXPECT_NE(failed_record.stderr_text.find("Incorrect API key provided: Bearer [redacted]"),
              std::string::npos)
        << failed_record.stderr_text;
    EXPECT_EQ(failed_record.stderr_text.find(kKey), std::string::npos);
    EXPECT_EQ(denied.body.dump().find("Incorrect API key"), std::string::npos);
    EXPECT_EQ(denied.body.dump().find(kKey), std::string::npos);
    EXPECT_EQ(denied.body["metadata"]["stderr"], denied.body["error"]["message"]);

    // Input refused before sending: no execution time, no model.
    store::UsageRecord refused{.id = "run_3"};
    CallResponse invalid = run_prompt_call(llm, agent, json_input("{}"), context,
                                           milliseconds(5000), clock, options, refused);
    EXPECT_EQ(invalid.status, 400);
    EXPECT_FALSE(invalid.body["metadata"].contains("execution_time_ms"));
    EXPECT_FALSE(invalid.body["metadata"].contains("model"));
}

}  // namespace
}  // namespace orchagent::runtime
