// Crash consistency of paid calls (CONTRACT.md section 5): 1,000 calls of a paid agent while
// the daemon is SIGKILLed at random moments and restarted. Afterwards, from the store itself:
// every call that succeeded was charged exactly once and earned its author exactly once,
// every other call was refunded (or never charged), nothing is left reserved, and each org's
// balance is the sum of its ledger, row by row.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "core/ids.hpp"
#include "runtime/store/store.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/publish.hpp"

namespace orchagent::testing {
namespace {

// A /proc file's text, "" when the process is gone (reads of a vanished process fail).
std::string proc_text(const fs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return {};
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
    ::close(fd);
    return out;
}

// Processes (other than zombies) whose command line names `dir`: a clone of the daemon keeps
// its command line, so a namespace holder or jail child it left behind shows up here.
std::vector<std::string> processes_of(const fs::path& dir) {
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string cmdline = proc_text(entry.path() / "cmdline");
        if (cmdline.find(dir.string()) == std::string::npos) continue;
        const std::string status = proc_text(entry.path() / "status");
        if (status.empty()) continue;
        if (status.find("State:\tZ") != std::string::npos) continue;
        found.push_back(entry.path().filename());
    }
    return found;
}

constexpr int kCalls = 1000;
constexpr int kClients = 4;
constexpr int64_t kPrice = 3;

TEST(CrashBilling, PaidCallsStayConsistentAcrossSigkills) {
    const std::string config = "/tmp/orchagent-crash-" + random_hex(4) + ".yaml";
    std::ofstream(config) << "rate_limit_per_minute: 0\nmax_waiting_calls: 1000\n";
    Daemon d({"--config", config});
    const std::string author_key = d.admin_key();
    const std::string agent_id =
        publish_example(d, author_key, "trivial", "toll", {{"is_public", true}})["id"];
    set_price(d, author_key, agent_id, kPrice);
    auto [payer_slug, payer_key] = d.create_org("crashpayer");
    const std::string grant = command_output(std::string(ORCHAGENTD_PATH) + " admin grant-credits " +
                                             payer_slug + " 100000 --data-dir " + d.data_dir().string());
    ASSERT_NE(grant.find("balance"), std::string::npos) << grant;

    // Clients stop sending while the daemon is being started again (`down`); the calls in
    // flight when the SIGKILL lands are cut wherever they are. Only answered calls count
    // towards kCalls; a cut one is retried as a new call.
    std::atomic<bool> down{false}, done{false};
    std::atomic<int> answered{0}, in_flight{0}, answered_ok{0}, kills{0};
    int64_t stop_ms = 0, drain_ms = 0, start_ms = 0;  // time spent in each restart step
    std::mutex seen_mutex;
    std::vector<std::string> ok_runs;  // x-run-id of every 200 a client saw
    std::vector<std::string> survivors;  // pids that outlived a SIGKILLed daemon by 2 s

    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&] {
            while (answered.load() < kCalls) {
                if (down) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                    continue;
                }
                in_flight++;
                Reply r = d.request("POST", "/local/toll/v1/default", {.key = payer_key, .body = "{}"});
                in_flight--;
                if (r.status == 0) continue;
                answered++;
                if (r.status == 200) {
                    answered_ok++;
                    std::lock_guard g(seen_mutex);
                    ok_runs.push_back(r.header("x-run-id"));
                }
            }
        });
    }
    std::thread killer([&] {
        std::mt19937 rng(std::random_device{}());
        std::uniform_int_distribution<int> pause_ms(20, 200);
        while (!done) {
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
            if (done) break;
            down = true;
            const auto t0 = std::chrono::steady_clock::now();
            d.stop(SIGKILL);  // wherever the calls in flight happen to be
            kills++;
            const auto t1 = std::chrono::steady_clock::now();
            while (in_flight.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            const auto t2 = std::chrono::steady_clock::now();
            // Nothing of the dead daemon may live on: a jail child stuck before exec would
            // hold copies of its sockets (and the calls in flight) until something kills it.
            auto left = processes_of(d.data_dir());
            for (int i = 0; i < 200 && !left.empty(); ++i) {
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
                left = processes_of(d.data_dir());
            }
            if (!left.empty()) {
                std::lock_guard g(seen_mutex);
                survivors.insert(survivors.end(), left.begin(), left.end());
            }
            d.start();  // recovery of the calls cut off runs here
            const auto t3 = std::chrono::steady_clock::now();
            down = false;
            using ms = std::chrono::milliseconds;
            stop_ms += std::chrono::duration_cast<ms>(t1 - t0).count();
            drain_ms += std::chrono::duration_cast<ms>(t2 - t1).count();
            start_ms += std::chrono::duration_cast<ms>(t3 - t2).count();
        }
    });
    for (auto& t : clients) t.join();
    done = true;
    killer.join();
    d.restart();  // one more recovery pass, then a clean stop
    d.stop();
    std::cout << "[ crash ] " << kills << " SIGKILLs, " << answered_ok << " of " << kCalls
              << " calls answered 200; restarts took " << stop_ms << " ms to stop, " << drain_ms
              << " ms for the cut calls to fail, " << start_ms << " ms to start\n";
    EXPECT_GE(kills.load(), 3);
    EXPECT_TRUE(survivors.empty()) << survivors.size() << " processes outlived a SIGKILLed daemon, e.g. pid "
                                   << survivors.front();
    EXPECT_TRUE(processes_of(d.data_dir()).empty());
    EXPECT_GT(answered_ok.load(), 0);

    auto opened = store::open_store("sqlite://" + (d.data_dir() / "orchagent.db").string());
    ASSERT_TRUE(opened) << opened.error().message();
    store::Store& s = **opened;
    auto payer = *s.org_by_slug(payer_slug);
    auto author = *s.org_by_slug("local");
    ASSERT_TRUE(payer && author);

    // Every record of the payer's calls.
    std::map<std::string, store::UsageRecord> records;
    std::optional<store::LogCursor> cursor;
    const store::UsageFilter all{.from_ms = 0, .to_ms = INT64_MAX / 2};
    for (;;) {
        auto page = s.usage_logs(payer->id, all, cursor, 500);
        ASSERT_TRUE(page);
        for (const auto& r : *page) records[r.id] = r;
        if (page->size() < 500) break;
        cursor = store::LogCursor{page->back().started_at, page->back().id};
    }
    // The ledgers, oldest first, with the running balance checked row by row.
    auto ledger_of = [&](const store::Org& org) {
        auto rows = s.list_transactions(org.id, 0, 1'000'000);
        EXPECT_TRUE(rows);
        std::vector<store::CreditTransaction> out;
        for (auto it = rows->rbegin(); it != rows->rend(); ++it) out.push_back(it->second);
        int64_t running = 0;
        for (const auto& t : out) {
            running += t.amount_cents;
            EXPECT_EQ(t.balance_after_cents, running) << t.id;
        }
        EXPECT_EQ(*s.balance(org.id), running);
        return out;
    };
    const auto paid = ledger_of(*payer);
    const auto earned = ledger_of(*author);
    std::map<std::string, int> charges, refunds, earnings;
    for (const auto& t : paid) {
        if (t.type == "charge") {
            charges[t.reference_id]++;
            EXPECT_EQ(t.amount_cents, -kPrice);
        } else if (t.type == "refund") {
            refunds[t.reference_id]++;
            EXPECT_EQ(t.amount_cents, kPrice);
        }
    }
    for (const auto& t : earned) {
        if (t.type == "earning") {
            earnings[t.reference_id]++;
            EXPECT_EQ(t.amount_cents, kPrice);
        }
    }

    int succeeded = 0, failed = 0;
    for (const auto& [id, r] : records) {
        EXPECT_NE(r.status, "running") << id;
        EXPECT_NE(r.charge_state, "reserved") << id;
        if (r.status == "success") {
            ++succeeded;
            EXPECT_EQ(r.charge_state, "charged") << id;
            EXPECT_EQ(charges[id], 1) << id;
            EXPECT_EQ(earnings[id], 1) << id;
            EXPECT_EQ(refunds[id], 0) << id;
        } else {
            ++failed;
            EXPECT_EQ(earnings[id], 0) << id;
            EXPECT_EQ(charges[id], refunds[id]) << id;  // refunded, or never charged
            EXPECT_LE(charges[id], 1) << id;
            if (charges[id] == 1) {
                EXPECT_EQ(r.charge_state, "refunded") << id;
            }
        }
    }
    // No ledger row without its record.
    for (const auto& [id, n] : charges) EXPECT_TRUE(records.count(id)) << id;
    for (const auto& [id, n] : earnings) EXPECT_TRUE(records.count(id)) << id;
    // Every 200 a client saw is a charged success.
    for (const auto& id : ok_runs) {
        ASSERT_TRUE(records.count(id)) << id;
        EXPECT_EQ(records[id].status, "success") << id;
    }
    int64_t total_earned = 0, net_charged = 0;
    for (const auto& t : earned) total_earned += t.type == "earning" ? t.amount_cents : 0;
    for (const auto& t : paid) net_charged -= (t.type == "charge" || t.type == "refund") ? t.amount_cents : 0;
    EXPECT_EQ(total_earned, net_charged);
    EXPECT_EQ(total_earned, succeeded * kPrice);
    int64_t refunded = 0;
    for (const auto& t : paid) refunded += t.type == "refund" ? 1 : 0;
    std::cout << "[ crash ] " << records.size() << " records: " << succeeded << " charged, "
              << failed << " not (" << refunded << " refunded)\n";
    std::filesystem::remove(config);
}

}  // namespace
}  // namespace orchagent::testing
