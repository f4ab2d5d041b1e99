// The SQLite store through the Store interface: migrations, constraints, the multi-row
// operations (publish with deprecation, org bootstrap, the ledger) and concurrency.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "core/ids.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("orchagent-store-" + random_hex(6));
        fs::create_directories(dir_);
        url_ = "sqlite://" + (dir_ / "test.db").string();
        auto s = open_store(url_);
        ASSERT_TRUE(s) << s.error().message();
        store_ = std::move(*s);
        org_ = make_org("acme");
    }
    void TearDown() override {
        store_.reset();
        fs::remove_all(dir_);
    }

    Org make_org(const std::string& slug) {
        NewOrg o{.org = {.id = new_id("org"), .slug = slug, .name = slug, .created_at = 1},
                 .key = {.id = new_id("key"), .name = "k", .prefix = "sk_live_ab", .hash = sha256_hex(slug)}};
        o.workspace = {.id = new_id("ws"), .org_id = o.org.id, .name = slug, .slug = slug, .created_at = 1};
        workspace_ = o.workspace.id;
        auto r = store_->create_org(o, 1);
        EXPECT_TRUE(r) << r.error().message();
        return o.org;
    }

    Agent agent(const std::string& name, const std::string& version = "") {
        Agent a;
        a.id = new_id("agt");
        a.org_id = org_.id;
        a.workspace_id = workspace_;
        a.name = name;
        a.version = version;
        a.type = "tool";
        a.document = "{}";
        return a;
    }

    fs::path dir_;
    std::string url_;
    std::unique_ptr<Store> store_;
    Org org_;
    std::string workspace_;
};

TEST_F(StoreTest, MigrationsRunOnceAndReopenKeepsData) {
    store_.reset();
    auto again = open_store(url_);
    ASSERT_TRUE(again) << again.error().message();
    auto org = (*again)->org_by_slug("acme");
    ASSERT_TRUE(org && *org);
    EXPECT_EQ((*org)->id, org_.id);
    EXPECT_EQ((*again)->kind(), "sqlite");
}

TEST_F(StoreTest, UnknownSchemesAreRefused) {
    EXPECT_EQ(open_store("mysql://x").error().code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(open_store("sqlite://").error().code(), ErrorCode::kInvalidInput);
}

TEST_F(StoreTest, DuplicateOrgSlugIsConflictAndLeavesNothingBehind) {
    NewOrg o{.org = {.id = new_id("org"), .slug = "acme", .name = "again"},
             .key = {.id = new_id("key"), .name = "k", .prefix = "p", .hash = sha256_hex("other")}};
    o.workspace = {.id = new_id("ws"), .org_id = o.org.id, .name = "w", .slug = "w"};
    auto r = store_->create_org(o, 2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
    // The transaction rolled back: the key of the failed org does not exist.
    auto key = store_->key_by_hash(sha256_hex("other"));
    ASSERT_TRUE(key);
    EXPECT_FALSE(*key);
    EXPECT_EQ(*store_->org_count(), 1);
}

TEST_F(StoreTest, KeysAreFoundByHashUntilDeleted) {
    auto k = store_->create_key(org_.id, {.id = "key_1", .name = "n", .prefix = "sk_live_x", .hash = "h1"}, 5);
    ASSERT_TRUE(k);
    auto found = store_->key_by_hash("h1");
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->first.id, "key_1");
    EXPECT_EQ((*found)->second.slug, "acme");
    ASSERT_TRUE(store_->touch_key("key_1", 99));
    EXPECT_EQ(*(*store_->key_by_hash("h1"))->first.last_used_at, 99);
    Org other = make_org("other");
    EXPECT_FALSE(*store_->delete_key(other.id, "key_1", 6));  // not theirs
    EXPECT_TRUE(*store_->delete_key(org_.id, "key_1", 6));
    EXPECT_FALSE(*store_->key_by_hash("h1"));
    EXPECT_FALSE(*store_->delete_key(org_.id, "key_1", 7));
}

TEST_F(StoreTest, PublishAssignsVersionsAndDeprecatesOlderOnes) {
    auto v1 = store_->publish_agent(agent("bot"), {.deprecation_window_ms = 1000}, 100);
    ASSERT_TRUE(v1) << v1.error().message();
    EXPECT_EQ(v1->version, "v1");
    EXPECT_EQ(v1->org_slug, "acme");
    auto v2 = store_->publish_agent(agent("bot"), {.deprecation_window_ms = 1000}, 200);
    ASSERT_TRUE(v2);
    EXPECT_EQ(v2->version, "v2");
    auto old = *store_->agent_by_id(v1->id);
    ASSERT_TRUE(old);
    EXPECT_EQ(old->deprecated_at, 200);
    EXPECT_EQ(old->sunset_at, 1200);
    EXPECT_EQ(old->successor_version, "v2");
    EXPECT_FALSE((*store_->agent_by_id(v2->id))->deprecated_at);

    auto dup = store_->publish_agent(agent("bot", "v2"), {}, 300);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), ErrorCode::kConflict);
    auto latest = store_->find_agent("acme", "bot", "latest");
    ASSERT_TRUE(latest && *latest);
    EXPECT_EQ((*latest)->version, "v2");

    // Numbers are never reused, even after a delete; an explicit version can be.
    ASSERT_EQ(*store_->delete_agents({v2->id}, 400), 1);
    EXPECT_EQ((*store_->find_agent("acme", "bot", "latest"))->version, "v1");
    EXPECT_EQ(store_->publish_agent(agent("bot"), {}, 500)->version, "v3");
    EXPECT_TRUE(store_->publish_agent(agent("bot", "v2"), {}, 600));
    EXPECT_EQ(*store_->delete_agents({v2->id}, 700), 0);
}

TEST_F(StoreTest, ConcurrentPublishesGetDistinctVersions) {
    std::vector<std::thread> threads;
    std::mutex m;
    std::set<std::string> versions;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10; ++i) {
                auto a = store_->publish_agent(agent("racer"), {}, 1000 + i);
                ASSERT_TRUE(a) << a.error().message();
                std::lock_guard lock(m);
                versions.insert(a->version);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(versions.size(), 40u);
    EXPECT_EQ((*store_->find_agent("acme", "racer", "latest"))->version, "v40");
    auto all = store_->agent_versions(org_.id, "racer");
    int live = 0;
    for (const auto& a : *all) live += a.deprecated_at ? 0 : 1;
    EXPECT_EQ(live, 1);
}

TEST_F(StoreTest, BundlesAttachInOneStep) {
    auto a = store_->publish_agent(agent("coder"), {}, 1);
    ASSERT_TRUE(store_->attach_bundle(a->id, "abc", 123, "main.py", R"({"x":1})", 9));
    auto b = *store_->agent_by_id(a->id);
    EXPECT_EQ(b->bundle_sha256, "abc");
    EXPECT_EQ(b->bundle_size, 123);
    EXPECT_EQ(b->entrypoint, "main.py");
    EXPECT_EQ(b->document, R"({"x":1})");
    EXPECT_EQ(store_->attach_bundle("agt_missing", "abc", 123, "", "{}", 9).error().code(),
              ErrorCode::kNotFound);
}

TEST_F(StoreTest, LedgerBalanceIsTheSumOfTransactions) {
    EXPECT_EQ(*store_->balance(org_.id), 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 25; ++i) ASSERT_TRUE(store_->add_credit(org_.id, 10, "grant", "t", 1));
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(*store_->balance(org_.id), 1000);
    auto charge = store_->add_credit(org_.id, -300, "charge", "req_1", 2);
    ASSERT_TRUE(charge);
    EXPECT_EQ(charge->balance_after_cents, 700);
    EXPECT_FALSE(store_->add_credit(org_.id, 1, "gift", "x", 3));  // unknown type
    EXPECT_EQ(*store_->balance(org_.id), 700);
}

TEST_F(StoreTest, UsageRecordsBeginFinishAndCrashRecovery) {
    auto a = store_->publish_agent(agent("runner"), {}, 1);
    auto record = [&](int i, const std::string& instance) {
        return UsageRecord{.id = "run_" + std::to_string(i) + instance, .request_id = "req",
                           .org_id = org_.id, .key_id = "key", .agent_id = a->id,
                           .agent_org_id = org_.id, .agent_name = "runner", .version = "v1",
                           .endpoint = "default", .started_at = 100 + i,
                           .instance_id = instance};
    };
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->start_call(record(i, "A"), {}));
    ASSERT_TRUE(store_->start_call(record(9, "B"), {}));
    UsageRecord done = record(2, "A");
    done.status = "success";
    done.http_status = 200;
    done.completed_at = 150;
    done.exit_code = 0;
    done.cpu_ms = 7;
    done.stdout_text = "{}";
    ASSERT_TRUE(store_->finish_call(done));
    EXPECT_EQ(store_->finish_call(record(42, "A")).error().code(), ErrorCode::kNotFound);

    // Instance A crashed: its two running records become errors; B's is left alone.
    EXPECT_EQ(*store_->fail_running_calls("A", 500), 2);
    auto runs = store_->list_runs(a->id, 10);
    ASSERT_EQ(runs->size(), 4u);
    EXPECT_EQ((*runs)[0].id, "run_9B");
    EXPECT_EQ((*runs)[0].status, "running");
    EXPECT_EQ((*runs)[1].status, "success");
    EXPECT_EQ((*runs)[1].cpu_ms, 7);
    EXPECT_EQ((*runs)[1].exit_code, 0);
    EXPECT_EQ((*runs)[2].status, "error");
    EXPECT_EQ((*runs)[2].error_code, "INTERNAL_ERROR");
    EXPECT_EQ((*runs)[2].completed_at, 500);
    EXPECT_EQ(store_->list_runs(a->id, 2)->size(), 2u);
    // A record is finished once: a second finish (or one after the crash recovery) is refused.
    EXPECT_EQ(store_->finish_call(done).error().code(), ErrorCode::kNotFound);
}

// A paid agent of `author` called by org_: reserve, then charge+earning or refund.
class PaidCallsTest : public StoreTest {
  protected:
    void SetUp() override {
        StoreTest::SetUp();
        caller_ = org_;
        author_ = make_org("author");
        Agent a = agent("oracle");
        a.org_id = author_.id;
        a.workspace_id = workspace_;
        a.pricing_mode = "per_call";
        a.price_per_call_cents = 30;
        paid_ = *store_->publish_agent(a, {}, 1);
    }
    UsageRecord call(const std::string& id, const std::string& instance = "A") {
        return UsageRecord{.id = id, .request_id = "req", .org_id = caller_.id, .key_id = "key",
                           .agent_id = paid_.id, .agent_org_id = author_.id, .agent_name = "oracle",
                           .version = "v1", .endpoint = "default", .started_at = 1000,
                           .instance_id = instance};
    }
    static UsageRecord finished(UsageRecord r, const std::string& status) {
        r.status = status;
        r.completed_at = 2000;
        r.http_status = status == "success" ? 200 : 500;
        return r;
    }
    int64_t sum_of_ledger(const Org& org) {
        int64_t sum = 0;
        auto ledger = store_->list_transactions(org.id, 0, 1000);
        for (const auto& [seq, t] : *ledger) sum += t.amount_cents;
        return sum;
    }
    Org caller_, author_;
    Agent paid_;
};

TEST_F(PaidCallsTest, SuccessChargesAndEarnsFailureRefundsCrashRefunds) {
    ASSERT_TRUE(store_->add_credit(caller_.id, 100, "grant", "g", 1));
    auto ok = store_->start_call(call("run_ok"), {.price_cents = 30});
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->refusal, StartRefusal::kNone);
    EXPECT_EQ(ok->balance_cents, 70);
    ASSERT_TRUE(store_->finish_call(finished(call("run_ok"), "success")));
    ASSERT_TRUE(store_->start_call(call("run_bad"), {.price_cents = 30}));
    ASSERT_TRUE(store_->finish_call(finished(call("run_bad"), "timeout")));
    ASSERT_TRUE(store_->start_call(call("run_lost", "B"), {.price_cents = 30}));
    EXPECT_EQ(*store_->balance(caller_.id), 40);  // 100 - 30 (charged) - 30 (reserved)
    EXPECT_EQ(*store_->fail_running_calls("B", 3000), 1);

    EXPECT_EQ(*store_->balance(caller_.id), 70);
    EXPECT_EQ(*store_->balance(author_.id), 30);
    EXPECT_EQ(sum_of_ledger(caller_), 70);
    EXPECT_EQ(sum_of_ledger(author_), 30);
    EXPECT_EQ((*store_->usage_record("run_ok"))->charge_state, "charged");
    EXPECT_EQ((*store_->usage_record("run_bad"))->charge_state, "refunded");
    EXPECT_EQ((*store_->usage_record("run_lost"))->charge_state, "refunded");
    std::map<std::string, int> types;
    auto ledger = store_->list_transactions(caller_.id, 0, 100);
    for (const auto& [seq, t] : *ledger) types[t.type]++;
    EXPECT_EQ(types, (std::map<std::string, int>{{"charge", 3}, {"grant", 1}, {"refund", 2}}));
    // Paging: newest first, then older than the last seq seen.
    auto first = *store_->list_transactions(caller_.id, 0, 2);
    ASSERT_EQ(first.size(), 2u);
    auto rest = *store_->list_transactions(caller_.id, first.back().first, 100);
    EXPECT_EQ(rest.size(), 4u);
}

TEST_F(PaidCallsTest, ShortBalanceIsRefusedAndWritesNothing) {
    ASSERT_TRUE(store_->add_credit(caller_.id, 29, "grant", "g", 1));
    auto r = store_->start_call(call("run_short"), {.price_cents = 30});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->refusal, StartRefusal::kInsufficientCredits);
    EXPECT_EQ(r->balance_cents, 29);
    EXPECT_FALSE(*store_->usage_record("run_short"));
    EXPECT_EQ(store_->list_transactions(caller_.id, 0, 10)->size(), 1u);
}

TEST_F(PaidCallsTest, ConcurrentCallsCannotOverdraw) {
    ASSERT_TRUE(store_->add_credit(caller_.id, 300, "grant", "g", 1));  // ten calls' worth
    std::atomic<int> admitted{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                auto r = store_->start_call(call(fmt::format("run_{}_{}", t, i)), {.price_cents = 30});
                ASSERT_TRUE(r);
                (r->refusal == StartRefusal::kNone ? admitted : refused)++;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(admitted.load(), 10);
    EXPECT_EQ(refused.load(), 30);
    EXPECT_EQ(*store_->balance(caller_.id), 0);
    EXPECT_EQ(sum_of_ledger(caller_), 0);
}

TEST_F(StoreTest, PlanLimitsCountAdmittedCallsPerUtcDay) {
    auto a = store_->publish_agent(agent("counted"), {}, 1);
    auto record = [&](int i, int64_t at) {
        return UsageRecord{.id = fmt::format("run_{}", i), .org_id = org_.id, .agent_id = a->id,
                           .agent_org_id = org_.id, .agent_name = "counted", .version = "v1",
                           .started_at = at, .instance_id = "A"};
    };
    const int64_t day = 86'400'000;
    const CallStart plan{.calls_per_day = 3, .executions_per_day = 2};
    CallStart prompt = plan;
    prompt.execution = false;
    EXPECT_EQ(store_->start_call(record(1, 10 * day), plan)->refusal, StartRefusal::kNone);
    EXPECT_EQ(store_->start_call(record(2, 10 * day + 5), plan)->refusal, StartRefusal::kNone);
    auto third = store_->start_call(record(3, 10 * day + 6), plan);
    EXPECT_EQ(third->refusal, StartRefusal::kExecutionsPerDay);
    EXPECT_EQ(third->limit, 2);
    EXPECT_EQ(store_->start_call(record(4, 10 * day + 7), prompt)->refusal, StartRefusal::kNone);
    EXPECT_EQ(store_->start_call(record(5, 10 * day + 8), prompt)->refusal, StartRefusal::kCallsPerDay);
    EXPECT_EQ(store_->start_call(record(6, 11 * day), plan)->refusal, StartRefusal::kNone);  // next day
    auto used = *store_->plan_usage(org_.id, 10);
    EXPECT_EQ(used.calls, 3);
    EXPECT_EQ(used.executions, 2);
}

TEST_F(StoreTest, UsageQueriesReadTheRollups) {
    auto v1 = store_->publish_agent(agent("alpha"), {}, 1);
    auto v2 = store_->publish_agent(agent("alpha"), {}, 2);
    auto b = store_->publish_agent(agent("beta"), {}, 3);
    const int64_t hour = 3'600'000, day = 24 * hour;
    std::vector<UsageRecord> records;
    int n = 0;
    auto add = [&](const Agent& a, int64_t at, const std::string& status, const std::string& tenant) {
        records.push_back(UsageRecord{
            .id = fmt::format("run_{:04}", n++), .org_id = org_.id, .tenant = tenant,
            .agent_id = a.id, .agent_org_id = org_.id, .agent_name = a.name, .version = a.version,
            .endpoint = "default", .status = status, .http_status = status == "success" ? 200 : 500,
            .started_at = at, .completed_at = at + 10, .duration_ms = 10, .execution_ms = 2000,
            .cpu_ms = 500, .peak_memory_bytes = 512LL << 20, .instance_id = "A", .executed = true});
    };
    for (int i = 0; i < 5; ++i) add(*v1, 100 * day + 1 * hour + i, "success", "t1");
    for (int i = 0; i < 3; ++i) add(*v2, 100 * day + 2 * hour + i, "error", "t2");
    for (int i = 0; i < 2; ++i) add(*b, 101 * day + 5 * hour + i, "timeout", "");
    add(*b, 90 * day, "success", "");  // outside the window below
    ASSERT_TRUE(store_->record_calls(records));

    UsageFilter all{.from_ms = 95 * day, .to_ms = 102 * day};
    auto t = *store_->usage_totals(org_.id, all);
    EXPECT_EQ(t.calls, 10);
    EXPECT_EQ(t.successes, 5);
    EXPECT_EQ(t.errors, 3);
    EXPECT_EQ(t.timeouts, 2);
    EXPECT_EQ(t.executions, 10);
    EXPECT_EQ(t.cpu_ms, 5000);
    EXPECT_DOUBLE_EQ(t.gb_seconds, 10.0);  // 10 x 0.5 GiB x 2 s

    auto hourly = *store_->usage_timeseries(org_.id, all, hour);
    ASSERT_EQ(hourly.size(), 3u);
    EXPECT_EQ(hourly[0].start_ms, 100 * day + hour);
    EXPECT_EQ(hourly[0].totals.calls, 5);
    EXPECT_EQ(hourly[2].start_ms, 101 * day + 5 * hour);
    auto daily = *store_->usage_timeseries(org_.id, all, day);
    ASSERT_EQ(daily.size(), 2u);
    EXPECT_EQ(daily[0].totals.calls, 8);
    UsageFilter alpha = all;
    alpha.agent = "alpha";
    EXPECT_EQ(store_->usage_timeseries(org_.id, alpha, day)->size(), 1u);

    auto by_agent = *store_->usage_breakdown(org_.id, all, UsageDimension::kAgent, 10);
    ASSERT_EQ(by_agent.size(), 2u);
    EXPECT_EQ(by_agent[0].key, "alpha");
    EXPECT_EQ(by_agent[0].totals.calls, 8);
    auto by_version = *store_->usage_breakdown(org_.id, all, UsageDimension::kVersion, 10);
    ASSERT_EQ(by_version.size(), 3u);
    EXPECT_EQ(by_version[0].key, "alpha@v1");
    EXPECT_EQ(by_version[0].agent_id, v1->id);
    auto by_tenant = *store_->usage_breakdown(org_.id, all, UsageDimension::kTenant, 10);
    EXPECT_EQ(by_tenant.size(), 3u);
    UsageFilter t2 = all;
    t2.tenant = "t2";
    EXPECT_EQ(store_->usage_totals(org_.id, t2)->calls, 3);
    // The same breakdowns with a filter come from the wide rollups, and agree.
    auto alpha_versions = *store_->usage_breakdown(org_.id, alpha, UsageDimension::kVersion, 10);
    ASSERT_EQ(alpha_versions.size(), 2u);
    EXPECT_EQ(alpha_versions[0].key, "alpha@v1");
    EXPECT_EQ(alpha_versions[0].totals.calls, 5);
    EXPECT_EQ(alpha_versions[0].agent_id, v1->id);
    auto t2_status = *store_->usage_breakdown(org_.id, t2, UsageDimension::kStatus, 10);
    ASSERT_EQ(t2_status.size(), 1u);
    EXPECT_EQ(t2_status[0].key, "error");
    EXPECT_EQ(store_->usage_totals(org_.id, alpha)->calls, 8);
    EXPECT_DOUBLE_EQ(store_->usage_totals(org_.id, alpha)->gb_seconds, 8.0);
    auto alpha_daily = *store_->usage_timeseries(org_.id, alpha, hour);
    ASSERT_EQ(alpha_daily.size(), 2u);
    EXPECT_EQ(alpha_daily[1].totals.errors, 3);
    auto by_status = *store_->usage_breakdown(org_.id, all, UsageDimension::kStatus, 1);
    ASSERT_EQ(by_status.size(), 1u);
    EXPECT_EQ(by_status[0].key, "success");

    // Logs: newest first, paged by cursor, filtered.
    std::vector<std::string> seen;
    std::optional<LogCursor> cursor;
    for (;;) {
        auto page = *store_->usage_logs(org_.id, all, cursor, 4);
        for (const auto& r : page) seen.push_back(r.id);
        if (page.size() < 4) break;
        cursor = LogCursor{page.back().started_at, page.back().id};
    }
    ASSERT_EQ(seen.size(), 10u);
    EXPECT_EQ(seen.front(), "run_0009");
    EXPECT_EQ(seen.back(), "run_0000");
    UsageFilter errors = all;
    errors.status = "error";
    EXPECT_EQ(store_->usage_logs(org_.id, errors, std::nullopt, 100)->size(), 3u);
    // Another org sees none of it.
    Org other = make_org("other");
    EXPECT_EQ(store_->usage_totals(other.id, all)->calls, 0);
}

TEST_F(StoreTest, CheckoutIsCreditedOncePerEventAndSession) {
    ASSERT_TRUE(store_->create_checkout({.id = "cs_1", .org_id = org_.id, .amount_cents = 500, .created_at = 1}));
    const CheckoutSession paid{.id = "cs_1", .org_id = org_.id, .amount_cents = 500};
    auto first = store_->complete_checkout("evt_1", "checkout.session.completed", paid, 2);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->outcome, PaymentOutcome::kCredited);
    EXPECT_EQ(first->transaction->type, "topup");
    EXPECT_EQ(first->transaction->reference_id, "cs_1");
    EXPECT_EQ(first->transaction->balance_after_cents, 500);
    // The same event again, or another event for the same session: nothing more.
    EXPECT_EQ(store_->complete_checkout("evt_1", "checkout.session.completed", paid, 3)->outcome,
              PaymentOutcome::kDuplicate);
    EXPECT_EQ(store_->complete_checkout("evt_2", "checkout.session.async_payment_succeeded", paid, 4)->outcome,
              PaymentOutcome::kDuplicate);
    // A session whose row was lost is still credited once; an unknown org is not.
    const CheckoutSession lost{.id = "cs_lost", .org_id = org_.id, .amount_cents = 700};
    EXPECT_EQ(store_->complete_checkout("evt_3", "checkout.session.completed", lost, 5)->outcome,
              PaymentOutcome::kCredited);
    EXPECT_EQ(store_->complete_checkout("evt_4", "checkout.session.completed", lost, 6)->outcome,
              PaymentOutcome::kDuplicate);
    const CheckoutSession stranger{.id = "cs_x", .org_id = "org_nobody", .amount_cents = 900};
    EXPECT_EQ(store_->complete_checkout("evt_5", "checkout.session.completed", stranger, 7)->outcome,
              PaymentOutcome::kUnknownOrg);
    EXPECT_EQ(*store_->balance(org_.id), 1200);
}

}  // namespace
}  // namespace orchagent::store
