// Prompt agents end to end (CONTRACT.md section 4, "Prompt agents"): the real daemon with an
// `llm:` block pointing at a fake OpenAI-compatible endpoint on loopback, prompt agents
// published through POST /agents and called over HTTP.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/fake_http.hpp"

namespace orchagent::testing {
namespace {

constexpr const char* kKeyVariable = "ORCHAGENT_E2E_LLM_KEY";
constexpr const char* kKey = "sk-e2e-provider-key-5f2c9a";

std::string completion(const std::string& content, Json usage = nullptr) {
    Json j = {{"id", "chatcmpl-e2e"},
              {"object", "chat.completion"},
              {"model", "fake-model-answering"},
              {"choices",
               {{{"index", 0},
                 {"message", {{"role", "assistant"}, {"content", content}}},
                 {"finish_reason", "stop"}}}}};
    if (!usage.is_null()) j["usage"] = usage;
    return j.dump();
}

// The last user message of a chat completion request.
std::string user_content(const FakeRequest& r) {
    Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object() || !body["messages"].is_array() || body["messages"].empty()) return "";
    return body["messages"].back().value("content", "");
}

FakeResponse provider(const FakeRequest& r) {
    const std::string prompt = user_content(r);
    if (prompt.find("[json]") != std::string::npos) {
        return {.body = completion(
                    R"({"translation": "Bonjour", "confidence": 0.93})",
                    {{"prompt_tokens", 21}, {"completion_tokens", 9}, {"total_tokens", 30}})};
    }
    if (prompt.find("[fail]") != std::string::npos) {
        return {.status = 500,
                .body = R"({"error": {"message": "upstream exploded", "type": "server_error"}})"};
    }
    if (prompt.find("[slow]") != std::string::npos) {
        return {.body = completion("too late"), .delay_ms = 2500};
    }
    return {.body = completion("Bonjour le monde")};
}

std::string write_config(const std::string& text) {
    const std::string path = "/tmp/orchagentd-llm-" + random_hex(6) + ".yaml";
    std::ofstream(path) << text;
    return path;
}

class PromptAgents : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        fake_ = new FakeHttpServer(provider);
        ::setenv(kKeyVariable, kKey, 1);
        config_ = write_config("llm:\n  base_url: " + fake_->url() + "/v1/\n  api_key_env: " +
                               kKeyVariable + "\n  model: e2e-model\n  timeout_seconds: 1\n");
        daemon_ = new Daemon({"--config", config_});
        ::unsetenv(kKeyVariable);
        const std::string& k = daemon_->admin_key();
        publish({{"name", "translate"},
                 {"type", "prompt"},
                 {"prompt", "Translate {{text}} into {{ language }}. {{mode}}"},
                 {"input_schema",
                  {{"type", "object"},
                   {"required", {"text", "language"}},
                   {"properties",
                    {{"text", {{"type", "string"}}},
                     {"language", {{"type", "string"}}},
                     {"mode", {{"type", "string"}}}}}}}},
                k);
        publish({{"name", "own-model"},
                 {"type", "prompt"},
                 {"prompt", "Count {{items}} for {{who.name}}"},
                 {"default_models", {{"openai", "agent-model"}, {"anthropic", "claude-x"}}}},
                k);
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete fake_;
        std::remove(config_.c_str());
    }
    static void publish(const Json& manifest, const std::string& key) {
        Reply created = daemon_->post_json("/agents", manifest, key);
        ASSERT_EQ(created.status, 201) << created.body;
    }
    Reply call(const std::string& path, const std::string& body,
               std::vector<std::string> headers = {}) {
        return daemon_->request(
            "POST", path,
            {.key = daemon_->admin_key(), .body = body, .headers = std::move(headers)});
    }
    // Requests the fake provider received since `before`.
    std::vector<FakeRequest> seen_since(size_t before) {
        auto all = fake_->requests();
        return {all.begin() + static_cast<long>(std::min(before, all.size())), all.end()};
    }
    static FakeHttpServer* fake_;
    static Daemon* daemon_;
    static std::string config_;
};
FakeHttpServer* PromptAgents::fake_ = nullptr;
Daemon* PromptAgents::daemon_ = nullptr;
std::string PromptAgents::config_;

TEST_F(PromptAgents, TheProviderSeesTheFilledPromptTheModelAndTheKey) {
    const size_t before = fake_->requests().size();
    Reply r = call("/local/translate/v1/run", R"({"text": "hello world", "language": "French"})");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto seen = seen_since(before);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/v1/chat/completions");
    EXPECT_EQ(seen[0].headers.at("authorization"), std::string("Bearer ") + kKey);
    const Json sent = Json::parse(seen[0].body);
    EXPECT_EQ(sent["model"], "e2e-model");
    // `mode` is declared in input_schema but not sent: an optional field, filled as "".
    EXPECT_EQ(sent["messages"], Json::parse(R"([{"role": "user",
        "content": "Translate hello world into French. "}])"));

    // A text reply is wrapped; the envelope says which model answered and how long it took.
    Json j = r.json();
    EXPECT_EQ(j["data"], Json({{"result", "Bonjour le monde"}}));
    EXPECT_EQ(j["warnings"], Json::array());
    EXPECT_EQ(j["metadata"]["request_id"], r.header("x-request-id"));
    EXPECT_EQ(j["metadata"]["version"], "v1");
    EXPECT_EQ(j["metadata"]["model"], "fake-model-answering");
    EXPECT_TRUE(j["metadata"]["execution_time_ms"].is_number());
    EXPECT_TRUE(j["metadata"]["processing_time_ms"].is_number());
    EXPECT_FALSE(j["metadata"].contains("llm_usage"));  // this answer had no usage
    EXPECT_TRUE(r.header("x-run-id").starts_with("run_"));
    EXPECT_EQ(r.body.find(kKey), std::string::npos);
}

TEST_F(PromptAgents, AJsonReplyIsTheDataWithTokenUsage) {
    Reply r = call("/local/translate/latest/run",
                   R"({"text": "hi", "language": "French", "mode": "[json]"})");
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = r.json();
    EXPECT_EQ(j["data"], Json::parse(R"({"translation": "Bonjour", "confidence": 0.93})"));
    EXPECT_EQ(j["metadata"]["llm_usage"],
              Json::parse(R"({"prompt_tokens": 21, "completion_tokens": 9, "total_tokens": 30})"));
}

TEST_F(PromptAgents, TheAgentsDefaultModelAndNestedFieldsAndNonStringValues) {
    const size_t before = fake_->requests().size();
    Reply r = call("/local/own-model/v1/run",
                   R"({"items": [1, "two", {"x": null}], "who": {"name": "Ada"}})");
    ASSERT_EQ(r.status, 200) << r.body;
    const auto seen = seen_since(before);
    ASSERT_EQ(seen.size(), 1u);
    const Json sent = Json::parse(seen[0].body);
    EXPECT_EQ(sent["model"], "agent-model");
    EXPECT_EQ(user_content(seen[0]), R"(Count [1,"two",{"x":null}] for Ada)");
}

TEST_F(PromptAgents, InputProblemsAreRefusedWithoutAskingTheProvider) {
    const size_t before = fake_->requests().size();
    // Fails input_schema: the field is named.
    Reply schema = call("/local/translate/v1/run", R"({"text": "hi"})");
    EXPECT_EQ(schema.status, 400) << schema.body;
    EXPECT_EQ(schema.error_code(), "INVALID_INPUT");
    EXPECT_NE(schema.body.find("language"), std::string::npos) << schema.body;
    // No schema: a placeholder without its field is named.
    Reply missing = call("/local/own-model/v1/run", R"({"items": 3})");
    EXPECT_EQ(missing.status, 400) << missing.body;
    EXPECT_NE(missing.json()["error"]["message"].get<std::string>().find("{{who.name}}"),
              std::string::npos)
        << missing.body;
    EXPECT_FALSE(missing.json()["error"]["is_retryable"].get<bool>());
    // Files are not for prompt agents.
    Reply files =
        daemon_->request("POST", "/local/own-model/v1/run",
                         {.key = daemon_->admin_key(),
                          .body = multipart_body({{"file", "a.txt", "text/plain", "hello"}}),
                          .content_type = multipart_type()});
    EXPECT_EQ(files.status, 415) << files.body;
    EXPECT_EQ(seen_since(before).size(), 0u);
}

TEST_F(PromptAgents, AProviderFailureIsLlmError502Retryable) {
    Reply r =
        call("/local/translate/v1/run", R"({"text": "x", "language": "y", "mode": "[fail]"})");
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(r.error_code(), "LLM_ERROR");
    Json e = r.json()["error"];
    EXPECT_TRUE(e["is_retryable"].get<bool>());
    EXPECT_NE(e["message"].get<std::string>().find("HTTP 500"), std::string::npos) << r.body;
    // The provider's own words go to the owner's logs, not to the caller.
    EXPECT_EQ(r.body.find("upstream exploded"), std::string::npos);
    EXPECT_EQ(r.body.find(kKey), std::string::npos);
    EXPECT_EQ(r.json()["metadata"]["request_id"], r.header("x-request-id"));

    Reply agents = daemon_->get("/agents", daemon_->admin_key());
    std::string id;
    for (const auto& a : agents.json()) {
        if (a["name"] == "translate") id = a["id"];
    }
    ASSERT_FALSE(id.empty()) << agents.body;
    Reply logs = daemon_->get("/agents/" + id + "/logs", daemon_->admin_key());
    ASSERT_EQ(logs.status, 200) << logs.body;
    bool found = false;
    for (const auto& entry : logs.json()) {
        if (entry["request_id"] == r.header("x-request-id")) {
            found = true;
            EXPECT_EQ(entry["status"], "error");
            EXPECT_NE(entry["stderr"].get<std::string>().find("upstream exploded"),
                      std::string::npos);
        }
    }
    EXPECT_TRUE(found) << logs.body;
}

TEST_F(PromptAgents, TheCallersDeadlineIsTimeoutTheProvidersSlownessIsLlmError) {
    // The caller's deadline comes first: TIMEOUT, as for code agents.
    const auto start = std::chrono::steady_clock::now();
    Reply deadline =
        call("/local/translate/v1/run", R"({"text": "x", "language": "y", "mode": "[slow]"})",
             {"X-Orchagent-Deadline-Ms: " + std::to_string(system_now_ms() + 400)});
    EXPECT_EQ(deadline.status, 504) << deadline.body;
    EXPECT_EQ(deadline.error_code(), "TIMEOUT");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(950));
    // The operator's timeout_seconds (1 s here) comes first: the provider failed.
    Reply slow =
        call("/local/translate/v1/run", R"({"text": "x", "language": "y", "mode": "[slow]"})");
    EXPECT_EQ(slow.status, 502) << slow.body;
    EXPECT_EQ(slow.error_code(), "LLM_ERROR");
    EXPECT_NE(slow.body.find("did not answer within 1 s"), std::string::npos) << slow.body;
}

TEST(PromptAgentsWithoutProvider, AnswerLlmErrorSayingSo) {
    Daemon d;
    Reply created = d.post_json(
        "/agents", Json{{"name", "lonely"}, {"type", "prompt"}, {"prompt", "Hi {{name}}"}},
        d.admin_key());
    ASSERT_EQ(created.status, 201) << created.body;
    Reply r = d.request("POST", "/local/lonely/v1/run",
                        {.key = d.admin_key(), .body = R"({"name": "x"})"});
    EXPECT_EQ(r.status, 502) << r.body;
    EXPECT_EQ(r.error_code(), "LLM_ERROR");
    EXPECT_NE(r.body.find("no LLM provider configured"), std::string::npos) << r.body;
}

TEST(PromptAgentsConfig, AKeyVariableNamedButEmptyOrAnUnknownKeyStopsTheStart) {
    char tmpl[] = "/tmp/orchagentd-llm-cfg-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    const std::string cfg = write_config(
        "llm:\n  base_url: http://127.0.0.1:9/v1\n  api_key_env: ORCHAGENT_E2E_EMPTY_KEY\n  model: "
        "m\n");
    const std::string run = std::string("ORCHAGENT_E2E_EMPTY_KEY= ") + ORCHAGENTD_PATH +
                            " --config " + cfg + " --listen 127.0.0.1:0 --data-dir " + dir +
                            " 2>&1; echo \"exit=$?\"";
    const std::string out = command_output(run);
    EXPECT_NE(out.find("ORCHAGENT_E2E_EMPTY_KEY is empty"), std::string::npos) << out;
    EXPECT_EQ(out.find("listening"), std::string::npos) << out;
    EXPECT_EQ(out.find("exit=0"), std::string::npos) << out;

    const std::string typo = write_config("llm:\n  base_url: http://127.0.0.1:9/v1\n  modle: m\n");
    const std::string out2 = command_output(std::string(ORCHAGENTD_PATH) + " --config " + typo +
                                            " --listen 127.0.0.1:0 --data-dir " + dir + " 2>&1");
    EXPECT_NE(out2.find("llm.modle: unknown key"), std::string::npos) << out2;

    const std::string inline_key =
        write_config("llm:\n  base_url: http://x/v1\n  model: m\n  api_key: sk-1\n");
    const std::string out3 =
        command_output(std::string(ORCHAGENTD_PATH) + " --config " + inline_key +
                       " --listen 127.0.0.1:0 --data-dir " + dir + " 2>&1");
    EXPECT_NE(out3.find("llm.api_key: the key does not belong in the config file"),
              std::string::npos)
        << out3;
    for (const auto& p : {cfg, typo, inline_key}) std::remove(p.c_str());
    fs::remove_all(dir);
}

}  // namespace
}  // namespace orchagent::testing
