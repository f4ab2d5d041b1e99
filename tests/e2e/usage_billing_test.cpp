// Usage, plan limits, credits and paid agents end to end (CONTRACT.md section 5): the real
// daemon, calls over HTTP from several orgs, and what /usage and /billing say about them.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "core/ids.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/publish.hpp"

namespace orchagent::testing {
namespace {

// A config file beside the test's data folders.
std::string write_config(const std::string& text) {
    const std::string path = "/tmp/orchagent-billing-" + random_hex(4) + ".yaml";
    std::ofstream(path) << text;
    return path;
}

class UsageBilling : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        config_ = write_config(
            "rate_limit_per_minute: 0\n"
            "org_plans:\n"
            "  capped: {calls_per_day: 2, executions_per_day: 2}\n");
        daemon_ = new Daemon({"--config", config_});
        const std::string& k = daemon_->admin_key();
        ids_["echo"] = publish_example(*daemon_, k, "shell-echo", "echo", {{"is_public", true}})["id"];
        ids_["failer"] = publish_example(*daemon_, k, "failer", "failer", {{"is_public", true}})["id"];
        ids_["priced"] = publish_example(*daemon_, k, "shell-echo", "priced", {{"is_public", true}})["id"];
        ids_["priced-failer"] =
            publish_example(*daemon_, k, "failer", "priced-failer", {{"is_public", true}})["id"];
        set_price(*daemon_, k, ids_["priced"], 25);
        set_price(*daemon_, k, ids_["priced-failer"], 25);
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
        fs::remove(config_);
    }
    Daemon& d() { return *daemon_; }
    Reply call(const std::string& key, const std::string& path, std::vector<std::string> headers = {}) {
        return d().request("POST", path, {.key = key, .body = "{}", .headers = std::move(headers)});
    }
    void grant(const std::string& slug, int64_t cents) {
        const std::string out = command_output(std::string(ORCHAGENTD_PATH) + " admin grant-credits " +
                                               slug + " " + std::to_string(cents) + " --data-dir " +
                                               d().data_dir().string() + " 2>&1");
        ASSERT_NE(out.find("balance"), std::string::npos) << out;
    }
    int64_t balance(const std::string& key) {
        Reply r = d().get("/billing/balance", key);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json()["balance_cents"];
    }
    // The whole ledger, newest first, read page by page.
    Json ledger(const std::string& key) {
        Json all = Json::array();
        std::string cursor;
        for (int page = 0; page < 100; ++page) {
            Reply r = d().get("/billing/transactions?limit=3" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
            EXPECT_EQ(r.status, 200) << r.body;
            for (const auto& t : r.json()) all.push_back(t);
            cursor = r.header("x-next-cursor");
            if (cursor.empty()) break;
        }
        return all;
    }
    static int64_t sum(const Json& ledger, const std::string& type = "") {
        int64_t total = 0;
        for (const auto& t : ledger) {
            if (type.empty() || t["transaction_type"] == type) total += t["amount_cents"].get<int64_t>();
        }
        return total;
    }

    static Daemon* daemon_;
    static std::string config_;
    static std::map<std::string, std::string> ids_;
};
Daemon* UsageBilling::daemon_ = nullptr;
std::string UsageBilling::config_;
std::map<std::string, std::string> UsageBilling::ids_;

TEST_F(UsageBilling, UsageEndpointsCountEveryCallWithFiltersAndPaging) {
    auto [slug, key] = d().create_org("counter");
    ASSERT_EQ(call(key, "/local/echo/v1/alpha", {"X-Orchagent-Tenant: t1"}).status, 200);
    ASSERT_EQ(call(key, "/local/echo/v1/alpha", {"X-Orchagent-Tenant: t1"}).status, 200);
    ASSERT_EQ(call(key, "/local/echo/v1/beta", {"X-Orchagent-Tenant: t2"}).status, 200);
    ASSERT_EQ(call(key, "/local/failer/v1/default").status, 422);
    // Another org's calls never show.
    ASSERT_EQ(call(d().admin_key(), "/local/echo/v1/alpha").status, 200);

    Reply u = d().get("/usage", key);
    ASSERT_EQ(u.status, 200) << u.body;
    Json j = u.json();
    EXPECT_EQ(j["total_calls"], 4);
    EXPECT_EQ(j["successful_calls"], 3);
    EXPECT_EQ(j["failed_calls"], 1);
    EXPECT_EQ(j["calls_today"], 4);
    EXPECT_TRUE(j["calls_remaining"].is_null());  // no plan limit for this org
    EXPECT_TRUE(j["period_start"].is_string());
    EXPECT_TRUE(j["period_end"].is_string());
    EXPECT_EQ(d().get("/usage?tenant=t1", key).json()["total_calls"], 2);
    EXPECT_EQ(d().get("/usage?tenant_id=t2", key).json()["total_calls"], 1);

    // Time series: every bucket of the window, the calls in today's.
    Json daily = d().get("/usage/timeseries?days=3", key).json();
    ASSERT_EQ(daily["points"].size(), 3u) << daily.dump();
    EXPECT_EQ(daily["interval"], "day");
    EXPECT_EQ(daily["points"][2]["calls"], 4);
    EXPECT_EQ(daily["points"][0]["calls"], 0);
    Json hourly = d().get("/usage/timeseries?interval=hour&days=1&agent=echo", key).json();
    int64_t hourly_calls = 0;
    for (const auto& p : hourly["points"]) hourly_calls += p["calls"].get<int64_t>();
    EXPECT_EQ(hourly_calls, 3);
    EXPECT_GE(hourly["points"].size(), 1u);
    EXPECT_LE(hourly["points"].size(), 24u);

    // Breakdown by each dimension.
    Json by_agent = d().get("/usage/breakdown", key).json();
    ASSERT_EQ(by_agent["items"].size(), 2u) << by_agent.dump();
    EXPECT_EQ(by_agent["items"][0]["key"], "echo");
    EXPECT_EQ(by_agent["items"][0]["calls"], 3);
    Json by_endpoint = d().get("/usage/breakdown?by=endpoint&agent=echo", key).json();
    ASSERT_EQ(by_endpoint["items"].size(), 2u);
    EXPECT_EQ(by_endpoint["items"][0]["key"], "alpha");
    EXPECT_EQ(by_endpoint["items"][0]["calls"], 2);
    Json by_tenant = d().get("/usage/breakdown?by=tenant", key).json();
    EXPECT_EQ(by_tenant["items"].size(), 3u);  // t1, t2 and none
    Json by_status = d().get("/usage/breakdown?by=status", key).json();
    EXPECT_EQ(by_status["items"][0]["key"], "success");
    EXPECT_EQ(by_status["items"][1]["key"], "error");
    Json by_version = d().get("/usage/breakdown?by=version", key).json();
    EXPECT_EQ(by_version["items"][0]["key"], "echo@v1");
    EXPECT_EQ(by_version["items"][0]["agent_id"], ids_["echo"]);

    // Logs: newest first, two per page, every call once.
    std::vector<std::string> seen;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
        Reply r = d().get("/usage/logs?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), key);
        ASSERT_EQ(r.status, 200) << r.body;
        const Json body = r.json();
        for (const auto& l : body["logs"]) seen.push_back(l["run_id"]);
        EXPECT_EQ(body["has_more"], !body["next_cursor"].is_null());
        if (body["next_cursor"].is_null()) break;
        cursor = body["next_cursor"];
    }
    EXPECT_EQ(seen.size(), 4u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 4u);
    Json errors = d().get("/usage/logs?status=error", key).json()["logs"];
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0]["agent_name"], "failer");
    EXPECT_EQ(errors[0]["error_code"], "UNPROCESSABLE");
    EXPECT_EQ(errors[0]["http_status"], 422);
    EXPECT_EQ(d().get("/usage/logs?agent=echo&tenant=t1", key).json()["logs"].size(), 2u);
    EXPECT_EQ(d().get("/usage/logs?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", key)
                  .json()["logs"].size(), 0u);

    // Compute: every call here ran the jail.
    Json compute = d().get("/usage/compute", key).json();
    EXPECT_EQ(compute["total_executions"], 4);
    EXPECT_GT(compute["total_compute_seconds"].get<double>(), 0.0);
    EXPECT_GT(compute["total_gb_seconds"].get<double>(), 0.0);
    ASSERT_EQ(compute["by_agent"].size(), 2u);
    EXPECT_EQ(compute["by_agent"][0]["agent_name"], "echo");
    EXPECT_EQ(compute["by_agent"][0]["executions"], 3);

    // Bad parameters are named.
    for (const char* bad : {"/usage?days=0", "/usage?days=400", "/usage/timeseries?interval=week",
                            "/usage/timeseries?interval=hour&days=40", "/usage/breakdown?by=color",
                            "/usage/logs?cursor=nonsense", "/usage/logs?status=maybe",
                            "/usage/logs?limit=501", "/usage/logs?since=yesterday"}) {
        Reply r = d().get(bad, key);
        EXPECT_EQ(r.status, 400) << bad << " " << r.body;
        EXPECT_EQ(r.error_code(), "INVALID_INPUT") << bad;
    }
    EXPECT_EQ(d().get("/usage").status, 401);
}

TEST_F(UsageBilling, SkillsThatAppliedAreRecorded) {
    auto [slug, key] = d().create_org("skilled");
    Reply with = call(key, "/local/echo/v1/default", {"X-Orchagent-Skills: acme/tone@v1, acme/style"});
    ASSERT_EQ(with.status, 200) << with.body;
    ASSERT_EQ(call(key, "/local/echo/v1/default", {"X-Orchagent-No-Skills: true"}).status, 200);
    Reply bad = call(key, "/local/echo/v1/default", {"X-Orchagent-Skills: not a skill"});
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.error_code(), "INVALID_INPUT");
    EXPECT_NE(bad.body.find("X-Orchagent-Skills"), std::string::npos) << bad.body;
    const Json logs = d().get("/usage/logs", key).json()["logs"];
    ASSERT_EQ(logs.size(), 2u);  // a malformed header is refused before the agent is resolved
    EXPECT_EQ(logs[1]["run_id"], with.header("x-run-id"));
    EXPECT_EQ(logs[1]["skills"], Json({"acme/tone@v1", "acme/style"}));
    EXPECT_EQ(logs[0]["skills"], Json::array());
}

TEST_F(UsageBilling, PlanLimitsRefuseWithRateLimitedUntilMidnight) {
    auto [slug, key] = d().create_org("capped");
    EXPECT_EQ(call(key, "/local/echo/v1/default").status, 200);
    EXPECT_EQ(call(key, "/local/echo/v1/default").status, 200);
    Reply third = call(key, "/local/echo/v1/default");
    EXPECT_EQ(third.status, 429) << third.body;
    EXPECT_EQ(third.error_code(), "RATE_LIMITED");
    EXPECT_TRUE(third.json()["error"]["is_retryable"]);
    const long retry = std::stol(third.header("retry-after"));
    EXPECT_GT(retry, 0);
    EXPECT_LE(retry, 86400);
    Json u = d().get("/usage", key).json();
    EXPECT_EQ(u["calls_remaining"], 0);
    EXPECT_EQ(u["plan"]["calls_per_day"], 2);
    EXPECT_EQ(u["total_calls"], 3);  // the refused call is recorded too
    Json c = d().get("/usage/compute", key).json();
    EXPECT_EQ(c["executions_remaining"], 0);
    EXPECT_EQ(c["total_executions"], 2);
}

TEST_F(UsageBilling, PaidAgentReservesChargesRefundsAndEarns) {
    auto [slug, key] = d().create_org("payer");
    const int64_t author_before = balance(d().admin_key());

    // No credits: 402 with the balance and the price, nothing run, nothing charged.
    Reply poor = call(key, "/local/priced/v1/default");
    EXPECT_EQ(poor.status, 402) << poor.body;
    EXPECT_EQ(poor.error_code(), "INSUFFICIENT_CREDITS");
    EXPECT_EQ(poor.json()["error"]["balance_cents"], 0);
    EXPECT_EQ(poor.json()["error"]["price_cents"], 25);
    EXPECT_FALSE(poor.json()["error"]["is_retryable"]);

    grant(slug, 60);
    EXPECT_EQ(balance(key), 60);
    Reply ok = call(key, "/local/priced/v1/default");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(balance(key), 35);
    EXPECT_EQ(balance(d().admin_key()), author_before + 25);

    // The agent fails: the reservation comes back.
    Reply failed = call(key, "/local/priced-failer/v1/default");
    EXPECT_EQ(failed.status, 422);
    EXPECT_EQ(balance(key), 35);

    // The owner calls its own paid agent for free.
    const int64_t author_mid = balance(d().admin_key());
    ASSERT_EQ(call(d().admin_key(), "/local/priced/v1/default").status, 200);
    EXPECT_EQ(balance(d().admin_key()), author_mid);

    Json mine = ledger(key);
    std::map<std::string, int> types;
    for (const auto& t : mine) types[t["transaction_type"]]++;
    EXPECT_EQ(types, (std::map<std::string, int>{{"charge", 2}, {"grant", 1}, {"refund", 1}}));
    EXPECT_EQ(sum(mine), balance(key));
    EXPECT_EQ(mine[0]["balance_after_cents"], 35);
    const std::string run_id = ok.header("x-run-id");
    bool charged_ok = false;
    for (const auto& t : mine) {
        if (t["transaction_type"] == "charge" && t["reference_id"] == run_id) charged_ok = true;
    }
    EXPECT_TRUE(charged_ok) << mine.dump();
    Json theirs = ledger(d().admin_key());
    EXPECT_EQ(sum(theirs), balance(d().admin_key()));
    EXPECT_EQ(sum(theirs, "earning"), 25);
    // The three spellings list the same ledger.
    EXPECT_EQ(d().get("/billing/history", key).json(), d().get("/billing/transactions", key).json());
    EXPECT_EQ(d().get("/billing/credits", key).json(), d().get("/billing/transactions", key).json());
    EXPECT_EQ(d().get("/billing/transactions?limit=0", key).status, 400);
    // The log says what the call cost.
    Json logs = d().get("/usage/logs?agent=priced", key).json()["logs"];
    ASSERT_EQ(logs.size(), 2u);  // the 402 is recorded too
    EXPECT_EQ(logs[0]["run_id"], run_id);
    EXPECT_EQ(logs[0]["price_cents"], 25);
    EXPECT_EQ(logs[0]["charge_state"], "charged");
    EXPECT_EQ(logs[1]["error_code"], "INSUFFICIENT_CREDITS");
    EXPECT_EQ(logs[1]["http_status"], 402);
    EXPECT_TRUE(logs[1]["charge_state"].is_null());
}

TEST_F(UsageBilling, ConcurrentCallsRaceForTheLastCentsWithoutOverdraft) {
    auto [slug, key] = d().create_org("racer");
    grant(slug, 100);  // four calls' worth
    std::atomic<int> ok{0}, poor{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
        threads.emplace_back([&] {
            Reply r = call(key, "/local/priced/v1/default");
            (r.status == 200 ? ok : r.status == 402 ? poor : other)++;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 4);
    EXPECT_EQ(poor.load(), 4);
    EXPECT_EQ(other.load(), 0);
    EXPECT_EQ(balance(key), 0);
    EXPECT_EQ(sum(ledger(key)), 0);
}

}  // namespace
}  // namespace orchagent::testing
