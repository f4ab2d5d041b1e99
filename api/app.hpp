// The control plane's HTTP routes: one App holds what handlers need, register_routes() is
// the whole route table (also printed by `orchagentd routes` and compared with
// api/openapi.json by a test).
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "api/http/metrics.hpp"
#include "api/http/router.hpp"
#include "api/http/types.hpp"
#include "core/clock.hpp"
#include "runtime/accounts.hpp"
#include "runtime/agents.hpp"
#include "runtime/billing/stripe.hpp"
#include "runtime/calls.hpp"
#include "runtime/rate_limit.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::api {

// Pointers, not references, so that `orchagentd routes` can register the table with an
// empty App: handlers are never called there.
struct App {
    store::Store* store = nullptr;
    const Clock* clock = nullptr;
    runtime::Accounts* accounts = nullptr;
    runtime::Agents* agents = nullptr;
    runtime::Calls* calls = nullptr;
    http::Metrics* metrics = nullptr;
    runtime::RateLimiter* rate_limiter = nullptr;
    runtime::Gateway* gateway = nullptr;  // runs' service keys (call route only)
    int64_t rate_limit_per_minute = 0;                  // agent calls per key; 0: unlimited
    std::map<std::string, int64_t> org_rate_limits;     // by org slug, overriding the default
    // The payment provider; null when the operator configured none.
    const runtime::stripe::StripeConfig* stripe = nullptr;
    std::string tmp_dir;  // uploads in progress (same filesystem as the bundle store)
    int64_t started_at_ms = 0;
};

// Upload routes accept this much (the bundle limit plus multipart overhead).
inline constexpr uint64_t kMaxUploadBody = (25ull << 20) + (1ull << 20);
// POST /agents: a 1 MiB prompt plus 256 KiB schemas and the rest of the manifest.
inline constexpr uint64_t kMaxPublishBody = 4ull << 20;

void register_routes(http::Router& router, App& app);

// Helpers shared by the route files.
using Json = nlohmann::json;
http::Response json_response(int status, const Json& body);
http::Response error_of(const Error& error, const http::Request& request);
// The body as a JSON value: INVALID_INPUT naming what is wrong (not JSON, too deep).
// An empty body is `empty` (null unless given).
Result<Json> json_body(const http::Request& request, Json empty = nullptr);
// `text` as an integer in [min, max]; INVALID_INPUT naming `name` otherwise.
Result<int64_t> parse_int(std::string_view text, std::string_view name, int64_t min, int64_t max);
// An integer query parameter in [min, max], `fallback` when absent.
Result<int64_t> int_param(const http::Request& request, std::string_view name, int64_t fallback,
                          int64_t min, int64_t max);

void register_account_routes(http::Router& router, App& app);
void register_agent_routes(http::Router& router, App& app);
void register_public_routes(http::Router& router, App& app);
void register_call_routes(http::Router& router, App& app);
void register_operator_routes(http::Router& router, App& app);
void register_usage_routes(http::Router& router, App& app);
void register_billing_routes(http::Router& router, App& app);
void register_payment_routes(http::Router& router, App& app);

// The caller's call rate limit (calls per minute per key; 0: unlimited).
int64_t rate_limit_for(const App& app, const runtime::Principal& who);
// X-RateLimit-Limit/-Remaining/-Reset and the IETF RateLimit/RateLimit-Policy pair.
void add_rate_headers(http::Response& response, const runtime::RateState& state, int64_t now_ms);

// Wraps a handler that needs the caller's key: 401 before it runs otherwise. Every answer
// carries the key's rate-limit headers (the call route sets its own after taking a call).
template <typename F>
http::Handler authed(App& app, F f) {
    return [&app, f = std::move(f)](http::Request& request) -> http::Response {
        auto who = app.accounts->authenticate(request.header("authorization").value_or(""));
        if (!who) return error_of(who.error(), request);
        http::Response response = f(request, *who);
        const bool has_rate = std::any_of(response.headers.begin(), response.headers.end(),
                                          [](const auto& h) { return h.first == "X-RateLimit-Limit"; });
        if (!has_rate && app.rate_limiter) {
            const int64_t now = app.clock->now_ms();
            add_rate_headers(response,
                             app.rate_limiter->peek(who->key.id, rate_limit_for(app, *who), now),
                             now);
        }
        return response;
    };
}

}  // namespace orchagent::api
