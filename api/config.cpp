#include "api/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <thread>
#include <set>

#include "api/config_llm.hpp"

namespace orchagent::api {

Result<void> load_config_file(const std::string& path, DaemonConfig& c) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        return fail(ErrorCode::kInvalidInput, fmt::format("config '{}': {}", path, e.what()));
    }
    if (root.IsNull()) return {};
    if (!root.IsMap()) {
        return fail(ErrorCode::kInvalidInput, fmt::format("config '{}': must be a mapping", path));
    }
    for (const auto& item : root) {
        const std::string key = item.first.as<std::string>("");
        const YAML::Node& v = item.second;
        auto where = [&](std::string_view what) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("config '{}': {}: {}", path, key, what));
        };
        try {
            if (key == "listen") c.listen = v.as<std::string>();
            else if (key == "data_dir") c.data_dir = v.as<std::string>();
            else if (key == "store") c.store = v.as<std::string>();
            else if (key == "reactor_threads") c.reactor_threads = v.as<unsigned>();
            else if (key == "workers") c.workers = v.as<unsigned>();
            else if (key == "max_queue") c.max_queue = v.as<uint64_t>();
            else if (key == "drain_seconds") c.drain_seconds = v.as<unsigned>();
            else if (key == "max_running_calls") c.max_running_calls = v.as<unsigned>();
            else if (key == "max_waiting_calls") c.max_waiting_calls = v.as<unsigned>();
            else if (key == "first_host_id") c.first_host_id = v.as<uint64_t>();
            else if (key == "max_timeout_seconds") c.max_timeout_seconds = v.as<unsigned>();
            else if (key == "rate_limit_per_minute") c.rate_limit_per_minute = v.as<int64_t>();
            else if (key == "org_rate_limits") {
                if (!v.IsMap()) return where("must map org slugs to calls per minute");
                for (const auto& org : v) {
                    c.org_rate_limits[org.first.as<std::string>()] = org.second.as<int64_t>();
                }
            }
            else if (key == "calls_per_day") c.calls_per_day = v.as<int64_t>();
            else if (key == "executions_per_day") c.executions_per_day = v.as<int64_t>();
            else if (key == "org_plans") {
                if (!v.IsMap()) return where("must map org slugs to {calls_per_day, executions_per_day}");
                for (const auto& org : v) {
                    const std::string slug = org.first.as<std::string>();
                    if (!org.second.IsMap()) return where(fmt::format("{}: must be a mapping", slug));
                    DaemonConfig::Plan plan;
                    for (const auto& field : org.second) {
                        const std::string name = field.first.as<std::string>("");
                        if (name == "calls_per_day") plan.calls_per_day = field.second.as<int64_t>();
                        else if (name == "executions_per_day") plan.executions_per_day = field.second.as<int64_t>();
                        else return where(fmt::format("{}.{}: unknown key", slug, name));
                    }
                    c.org_plans[slug] = plan;
                }
            }
            else if (key == "payments") {
                if (!v.IsMap()) return where("must be a mapping");
                PaymentsConfig p;
                for (const auto& field : v) {
                    const std::string name = field.first.as<std::string>("");
                    const YAML::Node& f = field.second;
                    if (name == "provider") {
                        if (f.as<std::string>() != "stripe") return where("provider: only 'stripe' is supported");
                    } else if (name == "api_base") p.api_base = f.as<std::string>();
                    else if (name == "secret_key_env") p.secret_key_env = f.as<std::string>();
                    else if (name == "webhook_secret_env") p.webhook_secret_env = f.as<std::string>();
                    else if (name == "success_url") p.success_url = f.as<std::string>();
                    else if (name == "cancel_url") p.cancel_url = f.as<std::string>();
                    else if (name == "currency") p.currency = f.as<std::string>();
                    else if (name == "tolerance_seconds") p.tolerance_seconds = f.as<int64_t>();
                    else return where(fmt::format("{}: unknown key", name));
                }
                c.payments = p;
            }
            else if (key == "clock_offset_file") c.clock_offset_file = v.as<std::string>();
            else if (key == "port_file") c.port_file = v.as<std::string>();
            else if (key == "llm") {
                if (auto r = load_llm_block(v, path, c.llm.emplace()); !r) return r;
            }
            else return where("unknown key");
        } catch (const YAML::Exception&) {
            return where("wrong type");
        }
    }
    return {};
}

Result<std::pair<std::string, uint16_t>> parse_listen(const std::string& listen) {
    const size_t colon = listen.rfind(':');
    if (colon == std::string::npos || colon == 0) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("listen '{}': expected HOST:PORT", listen));
    }
    unsigned port = 0;
    const char* begin = listen.data() + colon + 1;
    const char* end = listen.data() + listen.size();
    auto [ptr, ec] = std::from_chars(begin, end, port);
    if (ec != std::errc() || ptr != end || port > 65535) {
        return fail(ErrorCode::kInvalidInput, fmt::format("listen '{}': bad port", listen));
    }
    return std::pair(listen.substr(0, colon), static_cast<uint16_t>(port));
}

Result<void> finish_config(DaemonConfig& c) {
    if (auto l = parse_listen(c.listen); !l) return std::unexpected(l.error());
    if (c.data_dir.empty()) return fail(ErrorCode::kInvalidInput, "data_dir: must not be empty");
    if (c.store.empty()) c.store = fmt::format("sqlite://{}/orchagent.db", c.data_dir);
    if (c.reactor_threads < 1 || c.reactor_threads > 64)
        return fail(ErrorCode::kInvalidInput, "reactor_threads: must be 1 to 64");
    if (c.workers > 1024) return fail(ErrorCode::kInvalidInput, "workers: at most 1024");
    if (c.max_queue < 1 || c.max_queue > 1'000'000)
        return fail(ErrorCode::kInvalidInput, "max_queue: must be 1 to 1000000");
    if (c.drain_seconds > 3600) return fail(ErrorCode::kInvalidInput, "drain_seconds: at most 3600");
    if (c.max_running_calls == 0) {
        c.max_running_calls = std::max(2u, 2 * std::thread::hardware_concurrency());
    }
    if (c.max_running_calls > 256)
        return fail(ErrorCode::kInvalidInput, "max_running_calls: at most 256");
    if (c.max_waiting_calls > 100'000)
        return fail(ErrorCode::kInvalidInput, "max_waiting_calls: at most 100000");
    if (c.rate_limit_per_minute < 0 || c.rate_limit_per_minute > 10'000'000)
        return fail(ErrorCode::kInvalidInput, "rate_limit_per_minute: must be 0 to 10000000");
    for (const auto& [slug, limit] : c.org_rate_limits) {
        if (limit < 0 || limit > 10'000'000) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("org_rate_limits.{}: must be 0 to 10000000", slug));
        }
    }
    auto check_plan = [](std::string_view name, int64_t v) -> Result<void> {
        if (v < 0 || v > 1'000'000'000) {
            return fail(ErrorCode::kInvalidInput, fmt::format("{}: must be 0 to 1000000000", name));
        }
        return {};
    };
    if (auto r = check_plan("calls_per_day", c.calls_per_day); !r) return r;
    if (auto r = check_plan("executions_per_day", c.executions_per_day); !r) return r;
    for (const auto& [slug, plan] : c.org_plans) {
        if (auto r = check_plan(fmt::format("org_plans.{}.calls_per_day", slug), plan.calls_per_day); !r) return r;
        if (auto r = check_plan(fmt::format("org_plans.{}.executions_per_day", slug), plan.executions_per_day); !r)
            return r;
    }
    if (c.payments) {
        const PaymentsConfig& p = *c.payments;
        for (const auto& [name, url] : {std::pair{"api_base", &p.api_base},
                                        {"success_url", &p.success_url},
                                        {"cancel_url", &p.cancel_url}}) {
            if (!url->starts_with("https://") && !url->starts_with("http://")) {
                return fail(ErrorCode::kInvalidInput,
                            fmt::format("payments.{}: must be an http(s) URL", name));
            }
        }
        if (p.tolerance_seconds < 1 || p.tolerance_seconds > 3600)
            return fail(ErrorCode::kInvalidInput, "payments.tolerance_seconds: must be 1 to 3600");
        if (p.currency.size() != 3)
            return fail(ErrorCode::kInvalidInput, "payments.currency: a three-letter ISO 4217 code");
    }
    if (c.max_timeout_seconds < 1 || c.max_timeout_seconds > 3600)
        return fail(ErrorCode::kInvalidInput, "max_timeout_seconds: must be 1 to 3600");
    if (c.llm) {
        if (auto r = runtime::check_llm_config(*c.llm); !r) return r;
    }
    if (c.first_host_id == 0) {
        // Below `orchagent jail`'s range (2^30..), one 2^20 block per process id modulo 256,
        // room for 16 slots of 65,536 ids.
        c.first_host_id = (1ull << 29) + (static_cast<uint64_t>(::getpid()) % 256) * (1ull << 20);
    }
    if (c.first_host_id < 65536 ||
        c.first_host_id + uint64_t{c.max_running_calls} * 65536 > 0xFFFFFFFFull) {
        return fail(ErrorCode::kInvalidInput,
                    "first_host_id: the run slots must lie between 65536 and 2^32");
    }
    return {};
}

}  // namespace orchagent::api
