// GET /org, /workspaces, /api-keys.
#include "api/app.hpp"

#include <fmt/format.h>

namespace orchagent::api {
namespace {

Json org_json(const store::Org& o) {
    return {{"id", o.id}, {"slug", o.slug}, {"name", o.name},
            {"created_at", format_rfc3339(o.created_at)}};
}

Json workspace_json(const store::Workspace& w) {
    return {{"id", w.id},         {"org_id", w.org_id},
            {"name", w.name},     {"slug", w.slug},
            {"member_count", 1},  {"created_at", format_rfc3339(w.created_at)}};
}

Json key_json(const store::ApiKey& k) {
    return {{"id", k.id},
            {"name", k.name},
            {"prefix", k.prefix},
            {"created_at", format_rfc3339(k.created_at)},
            {"last_used_at", k.last_used_at ? Json(format_rfc3339(*k.last_used_at)) : Json()}};
}

// A string field of a JSON object body: INVALID_INPUT naming it when absent or not a string.
Result<std::string> string_field(const Json& body, const char* name, bool required) {
    auto it = body.find(name);
    if (it == body.end() || it->is_null()) {
        if (required) return fail(ErrorCode::kInvalidInput, fmt::format("{}: required", name));
        return std::string();
    }
    if (!it->is_string()) {
        return fail(ErrorCode::kInvalidInput, fmt::format("{}: must be a string", name));
    }
    return it->get<std::string>();
}

Result<Json> object_body(const http::Request& request) {
    auto body = json_body(request, Json::object());
    if (!body) return body;
    if (!body->is_object()) return fail(ErrorCode::kInvalidInput, "body: must be a JSON object");
    return body;
}

// "My Team" -> "my-team": a slug from a display name when none is given.
std::string slug_from(std::string_view name) {
    std::string slug;
    for (char c : name) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u)) {
            slug.push_back(static_cast<char>(std::tolower(u)));
        } else if (!slug.empty() && slug.back() != '-') {
            slug.push_back('-');
        }
        if (slug.size() >= 50) break;
    }
    while (!slug.empty() && slug.back() == '-') slug.pop_back();
    return slug;
}

}  // namespace

void register_account_routes(http::Router& router, App& app) {
    router.add("GET", "/org", authed(app, [](http::Request&, const runtime::Principal& who) {
                   return json_response(200, org_json(who.org));
               }));

    router.add("GET", "/workspaces",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto all = app.store->list_workspaces(who.org.id);
                   if (!all) return error_of(all.error(), request);
                   Json list = Json::array();
                   for (const auto& w : *all) list.push_back(workspace_json(w));
                   return json_response(200, {{"workspaces", list}});
               }));

    router.add("POST", "/workspaces",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto body = object_body(request);
                   if (!body) return error_of(body.error(), request);
                   auto name = string_field(*body, "name", true);
                   if (!name) return error_of(name.error(), request);
                   auto slug = string_field(*body, "slug", false);
                   if (!slug) return error_of(slug.error(), request);
                   auto w = app.accounts->create_workspace(
                       who.org, *name, slug->empty() ? slug_from(*name) : *slug);
                   if (!w) return error_of(w.error(), request);
                   return json_response(201, {{"workspace", workspace_json(*w)}});
               }));

    router.add("GET", "/api-keys",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto keys = app.store->list_keys(who.org.id);
                   if (!keys) return error_of(keys.error(), request);
                   Json list = Json::array();
                   for (const auto& k : *keys) list.push_back(key_json(k));
                   return json_response(200, list);
               }));

    router.add("POST", "/api-keys",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto body = object_body(request);
                   if (!body) return error_of(body.error(), request);
                   auto name = string_field(*body, "name", false);
                   if (!name) return error_of(name.error(), request);
                   auto created = app.accounts->create_key(who.org, name->empty() ? "api key" : *name);
                   if (!created) return error_of(created.error(), request);
                   Json out = key_json(created->key);
                   out.erase("last_used_at");
                   out["key"] = created->secret;
                   return json_response(201, out);
               }));

    router.add("DELETE", "/api-keys/{id}",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   const std::string id(request.param("id"));
                   auto deleted = app.store->delete_key(who.org.id, id, app.clock->now_ms());
                   if (!deleted) return error_of(deleted.error(), request);
                   if (!*deleted)
                       return error_of(Error(ErrorCode::kNotFound, "API key not found"), request);
                   return json_response(200, {{"deleted", true}, {"id", id}});
               }));
}

}  // namespace orchagent::api
