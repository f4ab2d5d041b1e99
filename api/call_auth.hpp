// Authentication of the call route, the one route a run's service key is good for
// (runtime/service_keys.hpp): `authed()` everywhere else never looks at service keys, so
// they answer 401 there like any unknown key.
#pragma once

#include <memory>
#include <string_view>

#include "api/app.hpp"
#include "runtime/gateway.hpp"
#include "runtime/service_keys.hpp"

namespace orchagent::api {

// The key of "Bearer <key>" (scheme case-insensitive, blanks trimmed); "" otherwise.
inline std::string_view bearer_token(std::string_view header) {
    constexpr std::string_view kBearer = "bearer ";
    if (header.size() <= kBearer.size()) return {};
    for (size_t i = 0; i < kBearer.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(header[i])) != kBearer[i]) return {};
    }
    std::string_view key = header.substr(kBearer.size());
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    return key;
}

// Like authed(), and also takes a live service key presented on its own run's gateway
// connection: the handler then acts as the top-level caller (`who` is the grant's caller)
// and gets the grant; otherwise the grant is nullptr.
template <typename F>
http::Handler call_authed(App& app, F f) {
    return [&app, f = std::move(f)](http::Request& request) -> http::Response {
        const std::string_view header = request.header("authorization").value_or("");
        std::shared_ptr<const runtime::ServiceGrant> grant;
        if (app.gateway != nullptr)
            grant = app.gateway->keys().find(bearer_token(header), request.peer);
        runtime::Principal who;
        if (grant) {
            who = grant->caller;
        } else {
            auto found = app.accounts->authenticate(header);
            if (!found) return error_of(found.error(), request);
            who = std::move(*found);
        }
        http::Response response = f(request, who, grant);
        const bool has_rate =
            std::any_of(response.headers.begin(), response.headers.end(),
                        [](const auto& h) { return h.first == "X-RateLimit-Limit"; });
        if (!has_rate && app.rate_limiter) {
            const int64_t now = app.clock->now_ms();
            add_rate_headers(
                response, app.rate_limiter->peek(who.key.id, rate_limit_for(app, who), now), now);
        }
        return response;
    };
}

}  // namespace orchagent::api
