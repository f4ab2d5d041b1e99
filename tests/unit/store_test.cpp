// The SQLite store through the Store interface: migrations, constraints, the multi-row
// operations (publish with deprecation, org bootstrap, the ledger) and concurrency.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <thread>

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
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(store_->begin_call(record(i, "A")));
    ASSERT_TRUE(store_->begin_call(record(9, "B")));
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
}

}  // namespace
}  // namespace orchagent::store
