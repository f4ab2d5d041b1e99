// /public/agents: the catalogue, version detail (redacted for server-only and paid agents),
// download and bundle. No key needed.
#include <fmt/format.h>

#include "api/app.hpp"

namespace orchagent::api {

http::Response bundle_response(App& app, const store::Agent& agent, const http::Request& request);

namespace {

// Deprecated versions say so on every response about them.
void add_deprecation_headers(http::Response& r, const store::Agent& a) {
    if (!a.deprecated_at) return;
    r.header("Deprecation", "true");
    if (a.sunset_at) r.header("Sunset", format_http_date(*a.sunset_at));
    if (a.successor_version) {
        r.header("Link", fmt::format("</public/agents/{}/{}/{}>; rel=\"successor-version\"",
                                     a.org_slug, a.name, *a.successor_version));
    }
}

// 403 for versions whose code stays on the server.
std::optional<http::Response> refuse_download(const store::Agent& a, const http::Request& request) {
    if (runtime::is_paid(a)) {
        http::Response r = error_of(
            Error(ErrorCode::kPaidAgentServerOnly,
                  fmt::format("{}/{} {} is a paid agent: it runs on the server only "
                              "({} cents per call)",
                              a.org_slug, a.name, a.version, a.price_per_call_cents)),
            request);
        Json body = Json::parse(r.body, nullptr, false);
        if (body.is_object() && body.contains("error")) {
            body["error"]["price_per_call_cents"] = a.price_per_call_cents;
            r.body = body.dump();
        }
        return r;
    }
    Json doc = Json::parse(a.document, nullptr, false);
    const bool allowed = !doc.is_object() || !doc.contains("view") ||
                         doc["view"].value("allow_local_download", Json(true)) == Json(true);
    if (!allowed) {
        return error_of(Error(ErrorCode::kDownloadDisabled,
                              fmt::format("{}/{} {} is server-only: its author disabled downloads",
                                          a.org_slug, a.name, a.version)),
                        request);
    }
    return std::nullopt;
}

std::vector<std::string> split_tags(std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
        const size_t comma = s.find(',');
        std::string_view tag = s.substr(0, comma);
        if (!tag.empty()) out.emplace_back(tag);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

}  // namespace

void register_public_routes(http::Router& router, App& app) {
    router.add("GET", "/public/agents", [&app](http::Request& request) {
        runtime::Agents::PublicQuery q;
        if (auto sort = request.query_param("sort")) {
            if (*sort != "recent" && *sort != "name") {
                return error_of(Error(ErrorCode::kInvalidInput, "sort: must be 'recent' or 'name'"),
                                request);
            }
            q.sort = std::string(*sort);
        }
        if (auto type = request.query_param("type")) q.type = std::string(*type);
        if (auto search = request.query_param("search")) {
            if (search->size() > 200) {
                return error_of(Error(ErrorCode::kInvalidInput, "search: at most 200 bytes"),
                                request);
            }
            q.search = std::string(*search);
        }
        if (auto tags = request.query_param("tags")) {
            q.tags = split_tags(*tags);
            if (q.tags.size() > 20) {
                return error_of(Error(ErrorCode::kInvalidInput, "tags: at most 20 tags"), request);
            }
        }
        auto body = app.agents->public_catalogue(q);
        if (!body) return error_of(body.error(), request);
        http::Response r;
        r.body = **body;
        return r;
    });

    router.add("GET", "/public/agents/{org}/{agent}/{version}", [&app](http::Request& request) {
        auto a = app.agents->find_public(request.param("org"), request.param("agent"),
                                        request.param("version"));
        if (!a) return error_of(a.error(), request);
        http::Response r = json_response(200, runtime::public_detail(*a, app.clock->now_ms()));
        add_deprecation_headers(r, *a);
        return r;
    });

    router.add("GET", "/public/agents/{org}/{agent}/{version}/download",
               [&app](http::Request& request) {
                   auto a = app.agents->find_public(request.param("org"), request.param("agent"),
                                                   request.param("version"));
                   if (!a) return error_of(a.error(), request);
                   if (auto refused = refuse_download(*a, request)) return *refused;
                   http::Response r = json_response(200, runtime::download_view(*a));
                   add_deprecation_headers(r, *a);
                   return r;
               });

    router.add("GET", "/public/agents/{org}/{agent}/{version}/bundle",
               [&app](http::Request& request) {
                   auto a = app.agents->find_public(request.param("org"), request.param("agent"),
                                                   request.param("version"));
                   if (!a) return error_of(a.error(), request);
                   if (auto refused = refuse_download(*a, request)) return *refused;
                   http::Response r = bundle_response(app, *a, request);
                   add_deprecation_headers(r, *a);
                   return r;
               });
}

}  // namespace orchagent::api
