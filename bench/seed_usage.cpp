// Fills a daemon's store with finished usage records for one org, through the Store API
// (record_calls: the records and their hourly and daily rollups, one transaction a batch),
// so that the /usage endpoints can be measured over a realistic history. Run it while the
// daemon is stopped.
//
//   seed_usage STORE_URL ORG_SLUG [RECORDS] [DAYS]     (default 1,000,000 records, 30 days)
//
// The spread: records evenly over the last DAYS days up to now (random times), 20 agents
// of 1 to 4 versions each, 3 endpoints, 10 tenants plus calls without one, 90% success,
// 8% error, 2% timeout; wall, CPU and memory figures varied per agent. Deterministic
// (fixed seed) apart from the record ids and the current time.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/ids.hpp"
#include "runtime/store/store.hpp"

namespace {

using orchagent::store::UsageRecord;

constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kBatch = 10'000;

struct AgentVersion {
    std::string id;
    std::string name;
    std::string version;
    int64_t typical_ms;  // this agent's usual wall time
};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: seed_usage STORE_URL ORG_SLUG [RECORDS] [DAYS]\n");
        return 2;
    }
    const std::string url = argv[1];
    const std::string slug = argv[2];
    const int64_t count = argc > 3 ? std::atoll(argv[3]) : 1'000'000;
    const int64_t days = argc > 4 ? std::atoll(argv[4]) : 30;
    if (count <= 0 || days <= 0) {
        std::fprintf(stderr, "seed_usage: RECORDS and DAYS must be positive\n");
        return 2;
    }

    auto store = orchagent::store::open_store(url);
    if (!store) {
        std::fprintf(stderr, "seed_usage: %s\n", store.error().message().c_str());
        return 1;
    }
    auto org = (*store)->org_by_slug(slug);
    if (!org || !*org) {
        std::fprintf(stderr, "seed_usage: no org '%s'\n", slug.c_str());
        return 1;
    }
    const std::string org_id = (*org)->id;

    std::mt19937_64 rng(20261129);
    auto uniform = [&rng](int64_t lo, int64_t hi) {  // [lo, hi]
        return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
    };

    // 20 agents, 1 to 4 versions each; later versions get more of the traffic.
    std::vector<AgentVersion> versions;
    std::vector<double> weights;
    for (int a = 1; a <= 20; ++a) {
        const int n = 1 + static_cast<int>(uniform(0, 3));
        const int64_t typical = uniform(5, 400);
        for (int v = 1; v <= n; ++v) {
            versions.push_back({orchagent::new_id("agt"), "agent-" + std::to_string(a),
                                "v" + std::to_string(v), typical});
            // Agents differ in popularity (a / 20); the newest version takes most calls.
            weights.push_back((21.0 - a) / 20.0 * v * v);
        }
    }
    std::discrete_distribution<size_t> pick_version(weights.begin(), weights.end());
    const std::array<std::string, 3> endpoints{"run", "summarize", "classify"};
    std::discrete_distribution<size_t> pick_endpoint({70, 20, 10});
    // No tenant (index 0) for 20% of the calls; tenant-1 .. tenant-10 weighted 10 .. 1.
    std::discrete_distribution<size_t> pick_tenant({13.75, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1});
    std::lognormal_distribution<double> spread(0.0, 0.6);

    const int64_t end = now_ms();
    const int64_t start = end - days * kDayMs;
    const std::string instance = "seed-" + orchagent::random_hex(4);

    std::vector<UsageRecord> batch;
    batch.reserve(kBatch);
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < count; ++i) {
        const AgentVersion& av = versions[pick_version(rng)];
        UsageRecord r;
        r.id = orchagent::new_id("run");
        r.request_id = orchagent::new_id("req");
        r.org_id = org_id;
        r.key_id = "key_seed";
        // A tenant for 80% of the calls, tenant-1 the busiest.
        const size_t t = pick_tenant(rng);
        r.tenant = t == 0 ? "" : "tenant-" + std::to_string(t);
        r.agent_id = av.id;
        r.agent_org_id = org_id;
        r.agent_name = av.name;
        r.version = av.version;
        r.endpoint = endpoints[pick_endpoint(rng)];
        r.started_at = uniform(start, end - 1);
        r.instance_id = instance;
        r.executed = true;
        const int64_t roll = uniform(0, 99);
        const int64_t wall =
            std::max<int64_t>(1, static_cast<int64_t>(av.typical_ms * spread(rng)));
        if (roll < 90) {
            r.status = "success";
            r.http_status = 200;
            r.exit_code = 0;
            r.execution_ms = wall;
            r.stdout_text = R"({"ok": true})";
        } else if (roll < 98) {
            r.status = "error";
            r.error_code = "SANDBOX_ERROR";
            r.http_status = 500;
            r.exit_code = 1;
            r.execution_ms = wall / 2;
            r.stderr_text = "Traceback (most recent call last): ValueError: bad input";
        } else {
            r.status = "timeout";
            r.error_code = "TIMEOUT";
            r.http_status = 504;
            r.execution_ms = 30'000;
        }
        r.cpu_ms = r.execution_ms * uniform(20, 95) / 100;
        r.peak_memory_bytes = uniform(8, 512) * 1024 * 1024;
        r.duration_ms = r.execution_ms + uniform(1, 15);
        r.completed_at = r.started_at + r.duration_ms;
        batch.push_back(std::move(r));
        if (batch.size() == kBatch || i + 1 == count) {
            if (auto w = (*store)->record_calls(batch); !w) {
                std::fprintf(stderr, "seed_usage: %s\n", w.error().message().c_str());
                return 1;
            }
            batch.clear();
        }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf(
        "seeded %lld usage records for org '%s' over %lld days (%zu agent versions,"
        " batches of %zu) in %.1f s: %.0f records/s\n",
        static_cast<long long>(count), slug.c_str(), static_cast<long long>(days), versions.size(),
        kBatch, seconds, static_cast<double>(count) / seconds);
    return 0;
}
