// /health, /metrics, /openapi.json: for operators and tools, no key needed.
#include "api/app.hpp"
#include "api/openapi.hpp"

namespace orchagent::api {

void register_operator_routes(http::Router& router, App& app) {
    router.add("GET", "/health", [&app](http::Request& request) {
        // A store that cannot answer makes the daemon unhealthy.
        auto orgs = app.store->org_count();
        if (!orgs) return error_of(orgs.error(), request);
        return json_response(200, {{"status", "ok"},
                                   {"version", "0.1.0"},
                                   {"store", app.store->kind()},
                                   {"uptime_seconds", (system_now_ms() - app.started_at_ms) / 1000}});
    });

    router.add("GET", "/metrics", [&app](http::Request&) {
        http::Response r;
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = app.metrics->render();
        return r;
    });

    router.add("GET", "/openapi.json", [](http::Request&) {
        http::Response r;
        r.body = std::string(openapi_document());
        return r;
    });
}

}  // namespace orchagent::api
