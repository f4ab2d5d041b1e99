// Agent-to-agent calls end to end (CONTRACT.md section 4): an agent with dependencies gets a
// gateway in its jail and a service key that can call only those dependencies, within the
// hops, deadline and budget its run has. The agents are tests/agents/caller published under
// several names: it makes the calls its input lists and reports what it was given.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/publish.hpp"

namespace orchagent::testing {
namespace {

Json call_spec(const std::string& path, Json body = Json::object(), Json headers = Json::object()) {
    return {{"path", path}, {"body", std::move(body)}, {"headers", std::move(headers)}};
}

size_t open_fds(pid_t pid) {
    size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n;
}

class Gateway : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        // An orchestrator, a middle agent and a leaf run at once.
        config_ = "/tmp/orchagentd-gateway-" + random_hex(4) + ".yaml";
        std::ofstream(config_) << "max_running_calls: 6\n";
        daemon_ = new Daemon({"--config", config_});
        const std::string& k = daemon_->admin_key();
        auto [slug, other_key] = daemon_->create_org("other");
        other_key_ = other_key;
        publish_example(*daemon_, k, "caller", "leaf");
        publish_example(*daemon_, k, "caller", "leaf");  // v2: "latest" is no longer v1
        publish_example(*daemon_, k, "caller", "hidden", {{"callable", false}});
        publish_example(*daemon_, k, "shell-echo", "echo");
        publish_example(
            *daemon_, k, "caller", "mid",
            {{"manifest", {{"dependencies", {{{"id", "local/leaf"}, {"version", "v1"}}}}}}});
        Json paid =
            publish_example(*daemon_, other_key_, "caller", "paid-leaf", {{"is_public", true}});
        Reply priced = daemon_->request(
            "PUT", "/agents/" + paid["id"].get<std::string>() + "/pricing",
            {.key = other_key_,
             .body = R"({"pricing_mode": "per_call", "price_per_call_cents": 5})"});
        EXPECT_EQ(priced.status, 200) << priced.body;
        // Paid calls need credits once billing charges them; the budget is what is tested.
        command_output(std::string(ORCHAGENTD_PATH) +
                       " admin grant-credits local 1000 --data-dir " +
                       daemon_->data_dir().string());
        publish_example(*daemon_, other_key_, "caller", "secret");  // other's, private
        publish_example(
            *daemon_, k, "caller", "public-orch",
            {{"is_public", true},
             {"manifest",
              {{"dependencies",
                {{{"id", "local/leaf"}, {"version", "v1"}}, {{"id", "other/secret"}}}}}}});
        publish_example(*daemon_, k, "caller", "quick-orch",
                        {{"manifest",
                          {{"dependencies", {{{"id", "local/leaf"}, {"version", "v1"}}}},
                           {"max_hops", 2},
                           {"timeout_ms", 2000}}}});
        publish_example(*daemon_, k, "caller", "orch",
                        {{"manifest",
                          {{"dependencies",
                            {{{"id", "local/leaf"}, {"version", "v1"}},
                             {{"id", "local/hidden"}},
                             {{"id", "local/mid"}, {"version", "latest"}},
                             {{"id", "other/paid-leaf"}}}},
                           {"per_call_downstream_cap", 7}}}});
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
        fs::remove(config_);
    }
    Daemon& d() { return *daemon_; }
    const std::string& key() { return daemon_->admin_key(); }
    // Calls `agent` (top level) with a caller input; its answer's data.
    Reply call(const std::string& path, const Json& input, std::vector<std::string> headers = {}) {
        return d().request("POST", path,
                           {.key = key(), .body = input.dump(), .headers = std::move(headers)});
    }
    static inline Daemon* daemon_ = nullptr;
    static inline std::string config_;
    static inline std::string other_key_;
};

TEST_F(Gateway, AnOrchestratorCallsItsDependencyAndReturnsItsResult) {
    const int64_t deadline = system_now_ms() + 50'000;
    Reply r =
        call("/local/orch/v1/run",
             {{"calls",
               {call_spec("/local/leaf/v1/analyze", {{"probe_port", 8765}},
                          {{"X-Orchagent-Tenant", "someone-else"},
                           {"X-Orchagent-Max-Hops", "9"},
                           {"X-Orchagent-Deadline-Ms", std::to_string(deadline + 600'000)}})}}},
             {"X-Orchagent-Tenant: acme", "X-Orchagent-Max-Hops: 5",
              "X-Orchagent-Deadline-Ms: " + std::to_string(deadline)});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json orch = r.json()["data"];
    EXPECT_EQ(orch["gateway_url"], "http://127.0.0.1:8765");
    EXPECT_EQ(orch["has_key"], true);
    EXPECT_EQ(orch["max_hops"], 5);
    EXPECT_EQ(orch["tenant"], "acme");
    EXPECT_LE(orch["deadline_ms"].get<int64_t>(), deadline);
    ASSERT_EQ(orch["results"].size(), 1u) << orch;
    const Json& sub = orch["results"][0];
    ASSERT_EQ(sub["status"], 200) << sub;
    // The dependency's own envelope, with what it was given.
    const Json leaf = sub["body"]["data"];
    EXPECT_EQ(sub["body"]["metadata"]["version"], "v1");
    EXPECT_TRUE(leaf["gateway_url"].is_null()) << leaf;  // no dependencies: no gateway
    EXPECT_EQ(leaf["has_key"], false);
    EXPECT_EQ(leaf["probe"], "ConnectionRefusedError");
    EXPECT_EQ(leaf["max_hops"], 4);     // one fewer; the agent's 9 does not raise it
    EXPECT_EQ(leaf["tenant"], "acme");  // the top-level caller's, not the agent's
    EXPECT_LE(leaf["deadline_ms"].get<int64_t>(), orch["deadline_ms"].get<int64_t>());
    // The sub-call is recorded on the caller's org (the leaf is local's own agent).
    Reply agents = d().get("/agents", key());
    std::string leaf_id;
    for (const auto& a : agents.json()) {
        if (a["name"] == "leaf" && a["version"] == "v1") leaf_id = a["id"];
    }
    Reply logs = d().get("/agents/" + leaf_id + "/logs", key());
    ASSERT_EQ(logs.status, 200) << logs.body;
    bool found = false;
    for (const auto& l : logs.json())
        found = found ||
                l["stdout"].get<std::string>().find("ConnectionRefusedError") != std::string::npos;
    EXPECT_TRUE(found) << logs.body;
    // The caller's usage log names the sub-call's parent run and the skills passed on.
    const Json usage = d().get("/usage/logs?agent=leaf&limit=1", key()).json()["logs"];
    ASSERT_EQ(usage.size(), 1u);
    EXPECT_EQ(usage[0]["parent_run_id"], r.header("x-run-id"));
    EXPECT_EQ(usage[0]["tenant"], "acme");
}

// The run's listener, its connections and its key go with it: after the first runs (which
// make the slots' namespaces and the store's connections), more runs leave no fd behind.
// manifest.max_hops lowers the run's hops; manifest.timeout_ms caps each sub-call.
TEST_F(Gateway, TheManifestLowersHopsAndCapsEachSubCall) {
    Reply r = call("/local/quick-orch/v1/run", {{"calls", {call_spec("/local/leaf/v1/run")}}});
    const int64_t answered = system_now_ms();
    ASSERT_EQ(r.status, 200) << r.body;
    const Json orch = r.json()["data"];
    EXPECT_EQ(orch["max_hops"], 2);
    EXPECT_GT(orch["deadline_ms"].get<int64_t>(), answered + 30'000);  // its own: 60 s
    const Json leaf = orch["results"][0]["body"]["data"];
    EXPECT_EQ(leaf["max_hops"], 1) << orch;
    EXPECT_LE(leaf["deadline_ms"].get<int64_t>(), answered + 2000);
}

TEST_F(Gateway, NothingOfARunsGatewayOutlivesIt) {
    const Json input = {
        {"calls", {call_spec("/local/leaf/v1/run"), call_spec("/local/mid/v1/run")}}};
    ASSERT_EQ(call("/local/orch/v1/run", input).status, 200);
    auto settled_fds = [&](size_t at_most) {
        size_t n = open_fds(d().pid());
        for (int i = 0; i < 100 && n > at_most; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            n = open_fds(d().pid());
        }
        return n;
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const size_t before = open_fds(d().pid());
    for (int i = 0; i < 3; ++i) {
        Reply r = call("/local/orch/v1/run", input);
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.json()["data"]["results"][0]["status"], 200) << r.body;
    }
    EXPECT_LE(settled_fds(before), before);
}

TEST_F(Gateway, OnlyDeclaredDependenciesAtTheirDeclaredVersion) {
    Reply r = call("/local/orch/v1/run",
                   {{"calls",
                     {call_spec("/local/echo/v1/run"), call_spec("/local/leaf/v2/run"),
                      call_spec("/local/leaf/latest/run"), call_spec("/local/nobody/v1/run"),
                      call_spec("/local/leaf/v1/run")}}});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json results = r.json()["data"]["results"];
    ASSERT_EQ(results.size(), 5u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(results[i]["status"], 403) << i << ": " << results[i];
        EXPECT_EQ(results[i]["body"]["error"]["code"], "FORBIDDEN") << results[i];
    }
    EXPECT_EQ(results[4]["status"], 200) << results[4];
    // Top level, the same key's org may call echo and leaf v2 as usual.
    EXPECT_EQ(call("/local/echo/v1/run", Json::object()).status, 200);
}

TEST_F(Gateway, CallableFalseIsForbiddenFromAnAgentButNotTopLevel) {
    Reply r = call("/local/orch/v1/run", {{"calls", {call_spec("/local/hidden/v1/run")}}});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json sub = r.json()["data"]["results"][0];
    EXPECT_EQ(sub["status"], 403) << sub;
    EXPECT_EQ(sub["body"]["error"]["code"], "FORBIDDEN");
    EXPECT_NE(sub["body"]["error"]["message"].get<std::string>().find("callable"),
              std::string::npos);
    Reply top = call("/local/hidden/v1/run", Json::object());
    EXPECT_EQ(top.status, 200) << top.body;
}

TEST_F(Gateway, HopsRunOut) {
    // One hop: the orchestrator itself; its call would be the second.
    Reply one = call("/local/orch/v1/run", {{"calls", {call_spec("/local/leaf/v1/run")}}},
                     {"X-Orchagent-Max-Hops: 1"});
    ASSERT_EQ(one.status, 200) << one.body;
    const Json refused = one.json()["data"]["results"][0];
    EXPECT_EQ(refused["status"], 400) << refused;
    EXPECT_EQ(refused["body"]["error"]["code"], "MAX_HOPS_EXCEEDED");
    // Two hops through a middle agent that has its own gateway: orch (2) -> mid (1) -> leaf
    // refused; the agent may lower its call's hops but not raise them.
    Reply chain =
        call("/local/orch/v1/run",
             {{"calls",
               {call_spec("/local/mid/v1/run", {{"calls", {call_spec("/local/leaf/v1/run")}}},
                          {{"X-Orchagent-Max-Hops", "10"}})}}},
             {"X-Orchagent-Max-Hops: 2"});
    ASSERT_EQ(chain.status, 200) << chain.body;
    const Json mid = chain.json()["data"]["results"][0];
    ASSERT_EQ(mid["status"], 200) << mid;
    EXPECT_EQ(mid["body"]["data"]["max_hops"], 1);
    EXPECT_EQ(mid["body"]["data"]["gateway_url"], "http://127.0.0.1:8765");
    const Json leaf = mid["body"]["data"]["results"][0];
    EXPECT_EQ(leaf["status"], 400) << leaf;
    EXPECT_EQ(leaf["body"]["error"]["code"], "MAX_HOPS_EXCEEDED");
    // With hops to spare the same chain reaches the leaf, and a lowered header holds.
    Reply deep =
        call("/local/orch/v1/run",
             {{"calls",
               {call_spec("/local/mid/v1/run", {{"calls", {call_spec("/local/leaf/v1/run")}}}),
                call_spec("/local/leaf/v1/run", Json::object(), {{"X-Orchagent-Max-Hops", "1"}})}}},
             {"X-Orchagent-Max-Hops: 4"});
    ASSERT_EQ(deep.status, 200) << deep.body;
    const Json deep_results = deep.json()["data"]["results"];
    EXPECT_EQ(deep_results[0]["body"]["data"]["results"][0]["status"], 200) << deep_results[0];
    EXPECT_EQ(deep_results[0]["body"]["data"]["results"][0]["body"]["data"]["max_hops"], 2);
    EXPECT_EQ(deep_results[1]["body"]["data"]["max_hops"], 1) << deep_results[1];
}

TEST_F(Gateway, TheServiceKeyIsGoodOnlyForCallsAndOnlyDuringItsRun) {
    Reply r = call("/local/orch/v1/run",
                   {{"reveal_key", true},
                    {"calls",
                     {{{"method", "GET"}, {"path", "/agents"}},
                      {{"method", "GET"}, {"path", "/org"}},
                      {{"path", "/agents"}, {"body", {{"name", "sneaky"}}}},
                      {{"path", "/local/leaf/v1/run"}, {"key", "sk_svc_" + std::string(64, '0')}},
                      {{"path", "/local/leaf/v1/run"}, {"key", ""}}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json results = r.json()["data"]["results"];
    ASSERT_EQ(results.size(), 5u);
    for (const auto& res : results) {
        EXPECT_EQ(res["status"], 401) << res;
        EXPECT_EQ(res["body"]["error"]["code"], "UNAUTHORIZED") << res;
    }
    // After the run, from outside: nothing.
    const std::string svc = r.json()["data"]["key"];
    ASSERT_TRUE(svc.starts_with("sk_svc_")) << svc;
    EXPECT_EQ(d().request("POST", "/local/leaf/v1/run", {.key = svc, .body = "{}"}).status, 401);
    EXPECT_EQ(d().get("/agents", svc).status, 401);
    EXPECT_EQ(d().get("/org", svc).status, 401);
}

TEST_F(Gateway, AnAgentWithoutDependenciesHasNoGatewayAndNoNetwork) {
    Reply r = call("/local/leaf/v1/run",
                   {{"probe_port", 8765}, {"calls", {call_spec("/local/leaf/v1/run")}}});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json leaf = r.json()["data"];
    EXPECT_TRUE(leaf["gateway_url"].is_null());
    EXPECT_EQ(leaf["has_key"], false);
    EXPECT_EQ(leaf["probe"], "ConnectionRefusedError");
    EXPECT_EQ(leaf["results"][0]["status"], 0) << leaf;  // nothing answers
    // The daemon's own port is not reachable either (another network namespace).
    const std::string port = d().url().substr(d().url().rfind(':') + 1);
    Reply daemon_port = call("/local/leaf/v1/run", {{"probe_port", std::stoi(port)}});
    EXPECT_EQ(daemon_port.json()["data"]["probe"], "ConnectionRefusedError") << daemon_port.body;
}

TEST_F(Gateway, PaidDependenciesSpendTheDownstreamBudget) {
    // per_call_downstream_cap 7: one call at 5 cents fits, the second does not.
    Reply r = call("/local/orch/v1/run",
                   {{"calls",
                     {call_spec("/other/paid-leaf/v1/run"), call_spec("/other/paid-leaf/v1/run"),
                      call_spec("/local/leaf/v1/run")}}});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json results = r.json()["data"]["results"];
    EXPECT_EQ(results[0]["status"], 200) << results[0];
    EXPECT_EQ(results[1]["status"], 403) << results[1];
    EXPECT_EQ(results[1]["body"]["error"]["code"], "FORBIDDEN");
    EXPECT_NE(
        results[1]["body"]["error"]["message"].get<std::string>().find("per_call_downstream_cap"),
        std::string::npos);
    EXPECT_EQ(results[2]["status"], 200) << results[2];  // free calls are never limited
    // Each run has its own budget.
    Reply again = call("/local/orch/v1/run", {{"calls", {call_spec("/other/paid-leaf/v1/run")}}});
    EXPECT_EQ(again.json()["data"]["results"][0]["status"], 200) << again.body;
}

// What a sub-call may see is decided by the calling agent's org, not by the top-level
// caller's: another org calling local's public orchestrator reaches local's private leaf
// through it, but not its own private agent (whose results local could read in its
// orchestrator's logs).
TEST_F(Gateway, DependenciesAreVisibleAsToTheCallingAgentsOrg) {
    Reply r = d().request(
        "POST", "/local/public-orch/v1/run",
        {.key = other_key_,
         .body =
             Json{{"calls", {call_spec("/local/leaf/v1/run"), call_spec("/other/secret/v1/run")}}}
                 .dump()});
    ASSERT_EQ(r.status, 200) << r.body;
    const Json results = r.json()["data"]["results"];
    EXPECT_EQ(results[0]["status"], 200) << results[0];
    EXPECT_EQ(results[1]["status"], 403) << results[1];
    EXPECT_EQ(results[1]["body"]["error"]["code"], "FORBIDDEN");
    // Top level, neither is callable the other way round.
    EXPECT_EQ(d().request("POST", "/local/leaf/v1/run", {.key = other_key_, .body = "{}"}).status,
              403);
    EXPECT_EQ(call("/other/secret/v1/run", Json::object()).status, 403);
}

TEST(GatewayLimits, SubCallsAreNotRateLimited) {
    const std::string config = "/tmp/orchagentd-gw-rate-" + random_hex(4) + ".yaml";
    std::ofstream(config) << "rate_limit_per_minute: 2\n";
    Daemon d({"--config", config});
    fs::remove(config);
    publish_example(d, d.admin_key(), "caller", "leaf");
    publish_example(d, d.admin_key(), "caller", "orch",
                    {{"manifest", {{"dependencies", {{{"id", "local/leaf"}}}}}}});
    Json calls = Json::array();
    for (int i = 0; i < 4; ++i) calls.push_back(call_spec("/local/leaf/latest/run"));
    Reply r = d.request("POST", "/local/orch/v1/run",
                        {.key = d.admin_key(), .body = Json{{"calls", calls}}.dump()});
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.json()["data"]["results"].size(), 4u) << r.body;
    for (const auto& res : r.json()["data"]["results"]) EXPECT_EQ(res["status"], 200) << res;
    // The top-level call took one of the two.
    EXPECT_EQ(r.header("x-ratelimit-remaining"), "1");
}

}  // namespace
}  // namespace orchagent::testing
