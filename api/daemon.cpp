// orchagentd's programs: serve, admin create-org, admin grant-credits, routes.
#include "api/daemon.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "api/app.hpp"
#include "api/http/server.hpp"
#include "core/ids.hpp"
#include "core/unique_fd.hpp"
#include "runtime/gateway.hpp"
#include "runtime/locate.hpp"

namespace orchagent::api {
namespace {

namespace fs = std::filesystem;

int report(const Error& e) {
    std::cerr << "orchagentd: " << e.message() << "\n";
    return 1;
}

// <data>/ (0700): orchagent.db, bundles/ (archives by sha256), cache/ (unpacked, 0700),
// tmp/ (uploads in progress, emptied at start), admin.key.
struct DataDir {
    std::string root, bundles, cache, tmp, runs, admin_key;
};

Result<DataDir> prepare_data_dir(const std::string& root) {
    DataDir d{.root = root,
              .bundles = root + "/bundles",
              .cache = root + "/cache",
              .tmp = root + "/tmp",
              .runs = root + "/runs",
              .admin_key = root + "/admin.key"};
    for (const auto& dir : {d.root, d.bundles, d.cache, d.tmp, d.runs}) {
        if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir", dir);
    }
    // Uploads cut off by a crash are garbage: nothing points at them.
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(d.tmp, ec)) {
        (void)runtime::remove_tree(entry.path().string());
    }
    return d;
}

Result<std::unique_ptr<store::Store>> open_configured_store(const DaemonConfig& config) {
    if (::mkdir(config.data_dir.c_str(), 0700) != 0 && errno != EEXIST)
        return fail_errno("mkdir", config.data_dir);
    return store::open_store(config.store);
}

Json org_bundle_json(const runtime::CreatedOrg& created) {
    return {{"org", {{"id", created.org.id}, {"slug", created.org.slug}, {"name", created.org.name}}},
            {"workspace",
             {{"id", created.workspace.id},
              {"name", created.workspace.name},
              {"slug", created.workspace.slug}}},
            {"api_key", created.api_key}};
}

Result<void> write_secret_file(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("open", tmp);
    const std::string line = content + "\n";
    if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return fail_errno("write", tmp);
    if (::fsync(fd.get()) != 0) return fail_errno("fsync", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("rename", path);
    return {};
}

// On first start with an empty store: org `local` and its key in <data>/admin.key.
Result<std::string> bootstrap(store::Store& store, runtime::Accounts& accounts,
                              const DataDir& dir) {
    auto count = store.org_count();
    if (!count) return std::unexpected(count.error());
    if (*count == 0) {
        auto created = accounts.create_org("local", "Local");
        if (!created) return std::unexpected(created.error());
        if (auto w = write_secret_file(dir.admin_key, created->api_key); !w)
            return std::unexpected(w.error());
        std::cout << "orchagentd: created org 'local'; its API key is in " << dir.admin_key
                  << " (mode 0600)" << std::endl;
        return created->api_key;
    }
    std::ifstream in(dir.admin_key);
    std::string key;
    std::getline(in, key);
    return key;
}

}  // namespace

int serve(const DaemonConfig& config) {
    // Orphans of jailed runs are ours to reap (PID 1 here does not).
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    // SIGTERM and SIGINT are taken with sigwait below: blocked before any thread starts, so
    // every thread inherits the mask.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    auto listen = parse_listen(config.listen);
    if (!listen) return report(listen.error());
    // Prompt agents' provider: its key is read from the environment once, before anything
    // else starts, so a missing key stops the start with nothing half done.
    std::optional<runtime::LlmClient> llm;
    if (config.llm) {
        runtime::LlmConfig llm_config = *config.llm;
        if (auto k = runtime::load_llm_key(llm_config); !k) return report(k.error());
        llm.emplace(std::move(llm_config));
    }
    auto dir = prepare_data_dir(config.data_dir);
    if (!dir) return report(dir.error());
    auto store = store::open_store(config.store);
    if (!store) return report(store.error());

    Clock clock(config.clock_offset_file);
    runtime::Accounts accounts(**store, clock);
    auto admin_key = bootstrap(**store, accounts, *dir);
    if (!admin_key) return report(admin_key.error());

    auto launcher = sandbox::Launcher::create();
    if (!launcher) return report(launcher.error());
    auto jail = runtime::make_unpack_jail(runtime::find_image(), runtime::find_unpack_helper());
    if (!jail) return report(jail.error());
    runtime::BundleCache cache(**launcher, std::move(*jail), dir->cache, {},
                               runtime::host_base_for(0));
    runtime::Agents agents(**store, clock, cache, dir->bundles);

    runtime::OperatorPolicy policy;
    policy.image_path = runtime::find_image();
    policy.slots = config.max_running_calls;
    policy.first_host_id = static_cast<uint32_t>(config.first_host_id);
    policy.max_timeout_seconds = static_cast<int>(config.max_timeout_seconds);
    policy.scratch_dir = dir->runs;
    auto executor = runtime::Executor::create(**launcher, policy);
    if (!executor) return report(executor.error());
    // One id per data folder and store: a restarted daemon finds the calls it left running.
    const std::string instance_id = sha256_hex(fs::absolute(config.data_dir).string() + "\n" +
                                               config.store).substr(0, 16);
    runtime::CallLimits limits{.max_running = config.max_running_calls,
                               .max_waiting = config.max_waiting_calls,
                               .plan = {config.calls_per_day, config.executions_per_day}};
    for (const auto& [slug, plan] : config.org_plans) {
        limits.org_plans[slug] = {plan.calls_per_day, plan.executions_per_day};
    }
    runtime::Calls calls(**store, clock, agents, cache, **executor, limits, instance_id);
    if (llm) {
        calls.set_llm(&*llm);
        std::cout << "orchagentd: prompt agents call " << llm->config().base_url
                  << "/chat/completions (provider " << llm->config().provider << ", model "
                  << llm->config().model << ")" << std::endl;
    }
    if (auto n = calls.recover(); !n) {
        return report(n.error());
    } else if (*n > 0) {
        std::cout << "orchagentd: " << *n << " call(s) cut off by the last stop marked failed"
                  << std::endl;
    }

    // Payments: the secrets come from the environment variables the config names.
    std::optional<runtime::stripe::StripeConfig> stripe;
    if (config.payments) {
        const PaymentsConfig& p = *config.payments;
        auto secret = [](const std::string& name) {
            const char* v = name.empty() ? nullptr : std::getenv(name.c_str());
            return std::string(v ? v : "");
        };
        stripe = runtime::stripe::StripeConfig{.api_base = p.api_base,
                                               .secret_key = secret(p.secret_key_env),
                                               .webhook_secret = secret(p.webhook_secret_env),
                                               .success_url = p.success_url,
                                               .cancel_url = p.cancel_url,
                                               .currency = p.currency,
                                               .tolerance_seconds = p.tolerance_seconds};
        if (stripe->secret_key.empty() || stripe->webhook_secret.empty()) {
            return report(Error(ErrorCode::kInvalidInput,
                                fmt::format("payments: set the environment variables {} and {} "
                                            "(Stripe's secret key and the webhook's signing secret)",
                                            p.secret_key_env, p.webhook_secret_env)));
        }
    }
    // Agents with dependencies call them through a gateway in their jail (runtime/gateway.hpp).
    auto gateway = runtime::Gateway::create();
    if (!gateway) return report(gateway.error());
    calls.set_gateway(gateway->get());

    runtime::RateLimiter rate_limiter;
    auto metrics = std::make_shared<http::Metrics>();
    metrics->describe("orchagent_runs_in_flight", "gauge", "Jailed runs in progress.");
    metrics->describe("orchagent_jail_failures_total", "counter",
                      "Runs whose jail could not be set up (SANDBOX_ERROR).");
    metrics->set_gauge("orchagent_runs_in_flight", "", 0);
    metrics->inc("orchagent_jail_failures_total", "", 0);
    App app{.store = store->get(),
            .clock = &clock,
            .accounts = &accounts,
            .agents = &agents,
            .calls = &calls,
            .metrics = metrics.get(),
            .rate_limiter = &rate_limiter,
            .rate_limit_per_minute = config.rate_limit_per_minute,
            .org_rate_limits = config.org_rate_limits,
            .stripe = stripe ? &*stripe : nullptr,
            .tmp_dir = dir->tmp,
            .started_at_ms = system_now_ms()};
    app.gateway = gateway->get();
    auto router = std::make_shared<http::Router>();
    register_routes(*router, app);

    http::ServerOptions options;
    options.host = listen->first;
    options.port = listen->second;
    options.reactor_threads = config.reactor_threads;
    // Calls (and uploads, checkouts) hold a handler thread while they run or wait for a
    // turn: they get a pool of their own, larger than both call limits together, so that
    // neither they starve the other routes nor dozens of mostly idle threads time-slice the
    // short requests on a few cores (docs/benchmarks.md).
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    options.workers = config.workers ? config.workers : 4 * cores;
    options.long_workers = config.max_running_calls + config.max_waiting_calls + 2 * cores;
    options.max_queue = config.max_queue;
    options.max_body_cap = kMaxUploadBody;
    options.spool_dir = dir->tmp;  // large upload and call bodies: O_TMPFILE files here
    auto server = http::Server::start(router, options, metrics);
    if (!server) return report(server.error());
    if (auto r = (*gateway)->set_upstream(listen->first, (*server)->port()); !r) {
        std::cout << "orchagentd: no agent gateway (" << r.error().message()
                  << "): agents' calls to their dependencies will be refused" << std::endl;
    }

    const std::string url = fmt::format("http://{}:{}", listen->first, (*server)->port());
    if (!config.port_file.empty()) {
        if (auto w = write_secret_file(config.port_file, std::to_string((*server)->port())); !w)
            return report(w.error());
    }
    std::cout << "orchagentd: listening on " << url << " (store: " << config.store << ")\n"
              << "orchagentd: admin API key (org 'local'): " << *admin_key << "\n"
              << "orchagentd: try  curl -H 'Authorization: Bearer " << *admin_key << "' " << url
              << "/org" << std::endl;

    int signal_number = 0;
    sigwait(&stop_signals, &signal_number);
    std::cout << "orchagentd: " << strsignal(signal_number) << ": draining requests in flight (up to "
              << config.drain_seconds << " s)" << std::endl;
    (*server)->shutdown(std::chrono::seconds(config.drain_seconds));
    std::cout << "orchagentd: stopped" << std::endl;
    return 0;
}

int admin_create_org(const DaemonConfig& config, const std::string& slug,
                     const std::string& name) {
    auto store = open_configured_store(config);
    if (!store) return report(store.error());
    Clock clock(config.clock_offset_file);
    runtime::Accounts accounts(**store, clock);
    auto created = accounts.create_org(slug, name.empty() ? slug : name);
    if (!created) return report(created.error());
    std::cout << org_bundle_json(*created).dump() << std::endl;
    return 0;
}

int admin_grant_credits(const DaemonConfig& config, const std::string& slug, int64_t cents) {
    if (cents <= 0 || cents > 100'000'000) {
        return report(Error(ErrorCode::kInvalidInput, "CENTS: must be 1 to 100000000"));
    }
    auto store = open_configured_store(config);
    if (!store) return report(store.error());
    auto org = (*store)->org_by_slug(slug);
    if (!org) return report(org.error());
    if (!*org) return report(Error(ErrorCode::kNotFound, fmt::format("no org '{}'", slug)));
    auto t = (*store)->add_credit((*org)->id, cents, "grant", "admin", system_now_ms());
    if (!t) return report(t.error());
    std::cout << Json{{"org", slug},
                      {"transaction",
                       {{"id", t->id},
                        {"amount_cents", t->amount_cents},
                        {"balance_after_cents", t->balance_after_cents},
                        {"transaction_type", t->type},
                        {"created_at", format_rfc3339(t->created_at)}}},
                      {"balance_cents", t->balance_after_cents}}
                     .dump()
              << std::endl;
    return 0;
}

int print_routes() {
    App app{};
    http::Router router;
    register_routes(router, app);
    Json out = Json::array();
    for (const auto& r : router.routes()) {
        out.push_back(
            {{"method", r.method}, {"pattern", r.pattern}, {"max_body_bytes", r.max_body_bytes}});
    }
    std::cout << out.dump(2) << std::endl;
    return 0;
}

}  // namespace orchagent::api
