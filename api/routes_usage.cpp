// GET /usage, /usage/timeseries, /usage/breakdown, /usage/logs, /usage/compute: the caller
// org's own calls (CONTRACT.md section 5). Totals come from the hourly and daily rollups
// the store keeps in step with the usage records; the logs are the records themselves.
#include <fmt/format.h>

#include "api/app.hpp"

namespace orchagent::api {
namespace {

constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr size_t kMaxFilterBytes = 256;

// The window of `?days=N`: whole UTC days, today included, up to now.
struct Window {
    int64_t start_ms = 0;
    int64_t end_ms = 0;  // now
};

Result<Window> window_of(const http::Request& request, const App& app, int64_t fallback_days,
                         int64_t max_days) {
    auto days = int_param(request, "days", fallback_days, 1, max_days);
    if (!days) return std::unexpected(days.error());
    const int64_t now = app.clock->now_ms();
    return Window{(now / kDayMs - (*days - 1)) * kDayMs, now};
}

// A text filter from the query: bounded, and "" when absent.
Result<std::string> text_param(const http::Request& request, std::string_view name,
                               std::string_view alias = {}) {
    auto raw = request.query_param(name);
    if (!raw && !alias.empty()) raw = request.query_param(alias);
    if (!raw) return std::string();
    if (raw->size() > kMaxFilterBytes) {
        return fail(ErrorCode::kInvalidInput, fmt::format("{}: at most {} bytes", name, kMaxFilterBytes));
    }
    return std::string(*raw);
}

Result<std::string> status_param(const http::Request& request) {
    auto status = text_param(request, "status");
    if (!status) return status;
    if (!status->empty() && *status != "success" && *status != "error" && *status != "timeout" &&
        *status != "running") {
        return fail(ErrorCode::kInvalidInput, "status: must be success, error, timeout or running");
    }
    return status;
}

// ?agent=, ?tenant= (or tenant_id), ?status= over the window.
Result<store::UsageFilter> filter_of(const http::Request& request, const Window& w,
                                     bool with_status) {
    store::UsageFilter f{.from_ms = w.start_ms, .to_ms = w.end_ms + 1};
    auto agent = text_param(request, "agent");
    if (!agent) return std::unexpected(agent.error());
    auto tenant = text_param(request, "tenant", "tenant_id");
    if (!tenant) return std::unexpected(tenant.error());
    f.agent = std::move(*agent);
    f.tenant = std::move(*tenant);
    if (with_status) {
        auto status = status_param(request);
        if (!status) return std::unexpected(status.error());
        f.status = std::move(*status);
    }
    return f;
}

double seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

Json totals_json(const store::UsageTotals& t) {
    return {{"calls", t.calls},
            {"successful_calls", t.successes},
            {"failed_calls", t.errors},
            {"timeouts", t.timeouts},
            {"executions", t.executions},
            {"compute_seconds", seconds(t.cpu_ms)},
            {"gb_seconds", t.gb_seconds},
            {"avg_duration_ms", t.calls > 0 ? t.duration_ms / t.calls : 0}};
}

// null when the plan has no such limit.
Json remaining(int64_t limit, int64_t used) {
    if (limit <= 0) return nullptr;
    return std::max<int64_t>(0, limit - used);
}
Json limit_json(int64_t limit) { return limit > 0 ? Json(limit) : Json(); }

// /usage/logs cursor: "<started_at>.<run id>" of the last record of the previous page.
Result<std::optional<store::LogCursor>> cursor_param(const http::Request& request) {
    auto raw = request.query_param("cursor");
    if (!raw || raw->empty()) return std::optional<store::LogCursor>();
    const size_t dot = raw->find('.');
    auto bad = [] { return fail(ErrorCode::kInvalidInput, "cursor: not a cursor this server gave"); };
    if (dot == std::string_view::npos || raw->size() > 128) return bad();
    auto at = parse_int(raw->substr(0, dot), "cursor", 0, INT64_MAX);
    if (!at) return bad();
    std::string id(raw->substr(dot + 1));
    if (!id.starts_with("run_")) return bad();
    return std::optional(store::LogCursor{*at, std::move(id)});
}

// A time bound: RFC 3339 or epoch milliseconds.
Result<std::optional<int64_t>> time_param(const http::Request& request, std::string_view name) {
    auto raw = request.query_param(name);
    if (!raw || raw->empty()) return std::optional<int64_t>();
    if (auto t = parse_rfc3339(*raw)) return std::optional(*t);
    auto ms = parse_int(*raw, name, 0, INT64_MAX / 2);
    if (!ms) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("{}: expected an RFC 3339 time or epoch milliseconds", name));
    }
    return std::optional(*ms);
}

// "a/b@v1,c/d" -> ["a/b@v1", "c/d"].
Json skills_json(const std::string& joined) {
    Json out = Json::array();
    size_t start = 0;
    while (start < joined.size()) {
        const size_t comma = std::min(joined.find(',', start), joined.size());
        out.push_back(joined.substr(start, comma - start));
        start = comma + 1;
    }
    return out;
}

Json log_json(const store::UsageRecord& r) {
    return {{"id", r.id},
            {"run_id", r.id},
            {"request_id", r.request_id},
            {"agent_id", r.agent_id},
            {"agent_name", r.agent_name},
            {"version", r.version},
            {"endpoint", r.endpoint},
            {"tenant", r.tenant.empty() ? Json() : Json(r.tenant)},
            {"status", r.status},
            {"error_code", r.error_code.empty() ? Json() : Json(r.error_code)},
            {"http_status", r.http_status},
            {"started_at", format_rfc3339(r.started_at)},
            {"completed_at", r.completed_at ? Json(format_rfc3339(*r.completed_at)) : Json()},
            {"duration_ms", r.duration_ms},
            {"execution_ms", r.execution_ms},
            {"cpu_ms", r.cpu_ms},
            {"peak_memory_bytes", r.peak_memory_bytes},
            {"exit_code", r.exit_code ? Json(*r.exit_code) : Json()},
            {"skills", skills_json(r.skills)},
            {"parent_run_id", r.parent_run_id.empty() ? Json() : Json(r.parent_run_id)},
            {"price_cents", r.price_cents},
            {"charge_state", r.charge_state.empty() ? Json() : Json(r.charge_state)}};
}

}  // namespace

void register_usage_routes(http::Router& router, App& app) {
    router.add("GET", "/usage",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto w = window_of(request, app, 30, 366);
                   if (!w) return error_of(w.error(), request);
                   auto f = filter_of(request, *w, false);
                   if (!f) return error_of(f.error(), request);
                   auto totals = app.store->usage_totals(who.org.id, *f);
                   if (!totals) return error_of(totals.error(), request);
                   auto today = app.store->plan_usage(who.org.id, w->end_ms / kDayMs);
                   if (!today) return error_of(today.error(), request);
                   const runtime::PlanLimits plan = app.calls->plan_for(who.org);
                   Json body = totals_json(*totals);
                   body["total_calls"] = totals->calls;
                   body["calls_today"] = today->calls;
                   body["calls_remaining"] = remaining(plan.calls_per_day, today->calls);
                   body["executions_today"] = today->executions;
                   body["executions_remaining"] = remaining(plan.executions_per_day, today->executions);
                   body["plan"] = {{"calls_per_day", limit_json(plan.calls_per_day)},
                                   {"executions_per_day", limit_json(plan.executions_per_day)}};
                   body["period_start"] = format_rfc3339(w->start_ms);
                   body["period_end"] = format_rfc3339(w->end_ms);
                   return json_response(200, body);
               }));

    router.add("GET", "/usage/timeseries",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   const std::string interval(request.query_param("interval").value_or("day"));
                   if (interval != "hour" && interval != "day") {
                       return error_of(Error(ErrorCode::kInvalidInput, "interval: must be hour or day"), request);
                   }
                   const bool hourly = interval == "hour";
                   // An hourly series is at most 31 days (744 points), a daily one a year.
                   auto w = window_of(request, app, hourly ? 1 : 30, hourly ? 31 : 366);
                   if (!w) return error_of(w.error(), request);
                   auto f = filter_of(request, *w, false);
                   if (!f) return error_of(f.error(), request);
                   const int64_t step = hourly ? kHourMs : kDayMs;
                   auto buckets = app.store->usage_timeseries(who.org.id, *f, step);
                   if (!buckets) return error_of(buckets.error(), request);
                   // Every bucket of the window, empty ones as zeros, oldest first.
                   Json points = Json::array();
                   size_t next = 0;
                   for (int64_t at = w->start_ms; at <= w->end_ms; at += step) {
                       store::UsageTotals t;
                       if (next < buckets->size() && (*buckets)[next].start_ms == at) t = (*buckets)[next++].totals;
                       Json p = totals_json(t);
                       p["timestamp"] = format_rfc3339(at);
                       points.push_back(std::move(p));
                   }
                   return json_response(200, {{"interval", interval},
                                              {"period_start", format_rfc3339(w->start_ms)},
                                              {"period_end", format_rfc3339(w->end_ms)},
                                              {"points", std::move(points)}});
               }));

    router.add("GET", "/usage/breakdown",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   const std::string by(request.query_param("by").value_or("agent"));
                   store::UsageDimension dim;
                   if (by == "agent") dim = store::UsageDimension::kAgent;
                   else if (by == "version") dim = store::UsageDimension::kVersion;
                   else if (by == "endpoint") dim = store::UsageDimension::kEndpoint;
                   else if (by == "tenant") dim = store::UsageDimension::kTenant;
                   else if (by == "status") dim = store::UsageDimension::kStatus;
                   else {
                       return error_of(Error(ErrorCode::kInvalidInput,
                                             "by: must be agent, version, endpoint, tenant or status"),
                                       request);
                   }
                   auto w = window_of(request, app, 30, 366);
                   if (!w) return error_of(w.error(), request);
                   auto f = filter_of(request, *w, true);
                   if (!f) return error_of(f.error(), request);
                   auto limit = int_param(request, "limit", 100, 1, 1000);
                   if (!limit) return error_of(limit.error(), request);
                   auto groups = app.store->usage_breakdown(who.org.id, *f, dim, static_cast<int>(*limit));
                   if (!groups) return error_of(groups.error(), request);
                   Json items = Json::array();
                   for (const auto& g : *groups) {
                       Json item = totals_json(g.totals);
                       item["key"] = g.key;
                       item[by] = g.key;
                       if (dim == store::UsageDimension::kVersion) item["agent_id"] = g.agent_id;
                       items.push_back(std::move(item));
                   }
                   return json_response(200, {{"by", by},
                                              {"period_start", format_rfc3339(w->start_ms)},
                                              {"period_end", format_rfc3339(w->end_ms)},
                                              {"items", std::move(items)}});
               }));

    router.add("GET", "/usage/logs",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto w = window_of(request, app, 30, 366);
                   if (!w) return error_of(w.error(), request);
                   auto f = filter_of(request, *w, true);
                   if (!f) return error_of(f.error(), request);
                   auto since = time_param(request, "since");
                   if (!since) return error_of(since.error(), request);
                   auto until = time_param(request, "until");
                   if (!until) return error_of(until.error(), request);
                   // since/until, when given, replace either end of the ?days window.
                   if (*since) f->from_ms = **since;
                   if (*until) f->to_ms = **until;
                   if (f->from_ms >= f->to_ms) {
                       return error_of(Error(ErrorCode::kInvalidInput, "since: must be before until"), request);
                   }
                   auto limit = int_param(request, "limit", 50, 1, 500);
                   if (!limit) return error_of(limit.error(), request);
                   auto cursor = cursor_param(request);
                   if (!cursor) return error_of(cursor.error(), request);
                   auto records = app.store->usage_logs(who.org.id, *f, *cursor, static_cast<int>(*limit));
                   if (!records) return error_of(records.error(), request);
                   Json logs = Json::array();
                   for (const auto& r : *records) logs.push_back(log_json(r));
                   Json next;
                   if (static_cast<int64_t>(records->size()) == *limit) {
                       next = fmt::format("{}.{}", records->back().started_at, records->back().id);
                   }
                   const bool more = !next.is_null();
                   return json_response(200, {{"logs", std::move(logs)},
                                              {"next_cursor", std::move(next)},
                                              {"has_more", more}});
               }));

    router.add("GET", "/usage/compute",
               authed(app, [&app](http::Request& request, const runtime::Principal& who) {
                   auto w = window_of(request, app, 30, 366);
                   if (!w) return error_of(w.error(), request);
                   auto f = filter_of(request, *w, false);
                   if (!f) return error_of(f.error(), request);
                   auto totals = app.store->usage_totals(who.org.id, *f);
                   if (!totals) return error_of(totals.error(), request);
                   auto by_agent = app.store->usage_breakdown(who.org.id, *f,
                                                              store::UsageDimension::kAgent, 1000);
                   if (!by_agent) return error_of(by_agent.error(), request);
                   auto today = app.store->plan_usage(who.org.id, w->end_ms / kDayMs);
                   if (!today) return error_of(today.error(), request);
                   const runtime::PlanLimits plan = app.calls->plan_for(who.org);
                   Json agents = Json::array();
                   for (const auto& g : *by_agent) {
                       if (g.totals.executions == 0) continue;
                       agents.push_back({{"agent_name", g.key},
                                         {"agent_id", g.agent_id},
                                         {"executions", g.totals.executions},
                                         {"compute_seconds", seconds(g.totals.cpu_ms)},
                                         {"wall_seconds", seconds(g.totals.execution_ms)},
                                         {"gb_seconds", g.totals.gb_seconds}});
                   }
                   return json_response(
                       200, {{"total_executions", totals->executions},
                             {"executions_today", today->executions},
                             {"executions_remaining", remaining(plan.executions_per_day, today->executions)},
                             {"total_compute_seconds", seconds(totals->cpu_ms)},
                             {"total_wall_seconds", seconds(totals->execution_ms)},
                             {"total_gb_seconds", totals->gb_seconds},
                             {"period_start", format_rfc3339(w->start_ms)},
                             {"period_end", format_rfc3339(w->end_ms)},
                             {"by_agent", std::move(agents)}});
               }));
}

}  // namespace orchagent::api
