// orchagentd's settings: defaults, then the YAML file (--config), then flags. The file's
// schema is strict: an unknown key is an error naming it. docs/operator.md lists each key.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "core/error.hpp"
#include "runtime/llm.hpp"

namespace orchagent::api {

// The payment provider behind POST /billing/checkout (Stripe's API). The secrets come from
// environment variables named here, never from the file itself.
struct PaymentsConfig {
    std::string api_base = "https://api.stripe.com";
    std::string secret_key_env = "STRIPE_SECRET_KEY";
    std::string webhook_secret_env = "STRIPE_WEBHOOK_SECRET";
    std::string success_url;  // where Stripe sends the payer after paying
    std::string cancel_url;   // ... or after giving up
    std::string currency = "usd";
    int64_t tolerance_seconds = 300;  // webhook timestamps this far from our clock are refused
};

struct DaemonConfig {
    std::string listen = "127.0.0.1:8080";  // HOST:PORT; port 0 picks a free one
    std::string data_dir = "./var";         // store, bundles, unpacked cache, admin.key
    std::string store;                      // default sqlite://<data_dir>/orchagent.db
    unsigned reactor_threads = 2;           // Pistache reactors
    unsigned workers = 0;                   // handler threads; 0 = 2 x cores
    uint64_t max_queue = 1024;              // requests waiting for a worker before 503
    unsigned drain_seconds = 30;            // SIGTERM: time given to requests in flight
    unsigned max_running_calls = 0;         // agent runs at once; 0 = 2 x cores
    unsigned max_waiting_calls = 64;        // calls waiting for a turn before 503
    uint64_t first_host_id = 0;             // host ids of the run slots; 0 = derived from the pid
    unsigned max_timeout_seconds = 300;     // operator cap on any call's deadline
    int64_t rate_limit_per_minute = 1000;   // agent calls per key and minute; 0: unlimited
    std::map<std::string, int64_t> org_rate_limits;  // org slug -> calls per minute
    // Plan limits per UTC day (0: none), and per-org overrides by slug.
    int64_t calls_per_day = 0;
    int64_t executions_per_day = 0;
    struct Plan {
        int64_t calls_per_day = 0;
        int64_t executions_per_day = 0;
    };
    std::map<std::string, Plan> org_plans;
    std::optional<PaymentsConfig> payments;  // none: checkout answers that it is not configured
    std::string clock_offset_file;          // tests: seconds added to the clock (see Clock)
    std::string port_file;                  // when set, the bound port is written there
    std::optional<runtime::LlmConfig> llm;  // prompt agents' provider; none: they answer LLM_ERROR
};

// Reads the YAML file into `config` (keys as in DaemonConfig).
Result<void> load_config_file(const std::string& path, DaemonConfig& config);
// Fills the defaults that depend on other settings and checks every value.
Result<void> finish_config(DaemonConfig& config);
// "127.0.0.1:8080" -> host, port.
Result<std::pair<std::string, uint16_t>> parse_listen(const std::string& listen);

}  // namespace orchagent::api
