#include "api/app.hpp"

#include <fmt/format.h>

#include <charconv>

#include "api/http/envelope.hpp"
#include "manifest/json_limits.hpp"

namespace orchagent::api {

http::Response json_response(int status, const Json& body) {
    http::Response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    return r;
}

http::Response error_of(const Error& error, const http::Request& request) {
    return http::error_response(error, request.request_id);
}

Result<Json> json_body(const http::Request& request, Json empty) {
    const std::string& body = request.body;
    if (body.find_first_not_of(" \t\r\n") == std::string::npos) return empty;
    if (manifest::text_exceeds_depth(body, manifest::kMaxSchemaDepth)) {
        return fail(ErrorCode::kInvalidInput,
                    "body: JSON nested deeper than 64 levels");
    }
    Json parsed = Json::parse(body, nullptr, false);
    if (parsed.is_discarded()) return fail(ErrorCode::kInvalidInput, "body: not valid JSON");
    return parsed;
}

Result<int64_t> parse_int(std::string_view text, std::string_view name, int64_t min, int64_t max) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("{}: must be an integer from {} to {}", name, min, max));
    }
    return value;
}

Result<int64_t> int_param(const http::Request& request, std::string_view name, int64_t fallback,
                          int64_t min, int64_t max) {
    auto raw = request.query_param(name);
    if (!raw) return fallback;
    return parse_int(*raw, name, min, max);
}

int64_t rate_limit_for(const App& app, const runtime::Principal& who) {
    if (auto it = app.org_rate_limits.find(who.org.slug); it != app.org_rate_limits.end())
        return it->second;
    return app.rate_limit_per_minute;
}

void add_rate_headers(http::Response& r, const runtime::RateState& s, int64_t now_ms) {
    if (s.limit <= 0) return;  // unlimited: nothing to announce
    r.header("X-RateLimit-Limit", std::to_string(s.limit));
    r.header("X-RateLimit-Remaining", std::to_string(s.remaining));
    r.header("X-RateLimit-Reset", std::to_string(now_ms / 1000 + s.reset_seconds));
    r.header("RateLimit", fmt::format("limit={}, remaining={}, reset={}", s.limit, s.remaining,
                                      s.reset_seconds));
    r.header("RateLimit-Policy", fmt::format("{};w=60", s.limit));
}

void register_routes(http::Router& router, App& app) {
    register_operator_routes(router, app);
    register_account_routes(router, app);
    register_agent_routes(router, app);
    register_public_routes(router, app);
    register_call_routes(router, app);
    register_usage_routes(router, app);
    register_billing_routes(router, app);
    register_payment_routes(router, app);
}

}  // namespace orchagent::api
