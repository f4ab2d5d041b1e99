#include "api/http/router.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api/http/metrics.hpp"

namespace orchagent::http {
namespace {

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_method_char(char c) { return (c >= 'A' && c <= 'Z') || c == '-' || c == '_'; }

Result<std::vector<Route::Segment>> parse_pattern(std::string_view pattern) {
    if (pattern.empty() || pattern.front() != '/') {
        return fail(ErrorCode::kInternalError,
                    fmt::format("route pattern '{}' must start with '/'", pattern));
    }
    std::vector<Route::Segment> segments;
    for (std::string_view seg : split_path(pattern)) {
        const bool is_param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
        std::string_view text = is_param ? seg.substr(1, seg.size() - 2) : seg;
        const bool bad_name =
            is_param && (text.empty() || !std::all_of(text.begin(), text.end(), is_name_char));
        const bool stray_brace = !is_param && text.find_first_of("{}") != std::string_view::npos;
        if (bad_name || stray_brace) {
            return fail(ErrorCode::kInternalError,
                        fmt::format("route pattern '{}': bad segment '{}'", pattern, seg));
        }
        for (const auto& earlier : segments) {
            if (is_param && earlier.is_param && earlier.text == text) {
                return fail(
                    ErrorCode::kInternalError,
                    fmt::format("route pattern '{}': parameter '{}' appears twice", pattern, text));
            }
        }
        segments.push_back({std::string(text), is_param});
    }
    return segments;
}

bool segments_match(const Route& route, const std::vector<std::string_view>& path) {
    if (route.segments.size() != path.size()) return false;
    for (size_t i = 0; i < path.size(); ++i) {
        const auto& seg = route.segments[i];
        if (seg.is_param ? path[i].empty() : seg.text != path[i]) return false;
    }
    return true;
}

// True when a is more specific than b: at the first segment where one is a literal and the
// other a parameter, the literal wins.
bool more_specific(const Route& a, const Route& b) {
    for (size_t i = 0; i < a.segments.size() && i < b.segments.size(); ++i) {
        if (a.segments[i].is_param != b.segments[i].is_param) return !a.segments[i].is_param;
    }
    return false;
}

bool same_shape(const Route& a, const Route& b) {
    if (a.segments.size() != b.segments.size()) return false;
    for (size_t i = 0; i < a.segments.size(); ++i) {
        const auto& x = a.segments[i];
        const auto& y = b.segments[i];
        if (x.is_param != y.is_param || (!x.is_param && x.text != y.text)) return false;
    }
    return true;
}

}  // namespace

std::vector<std::string_view> split_path(std::string_view path) {
    std::vector<std::string_view> out;
    if (path.size() <= 1) return out;  // "/" (or malformed empty): no segments
    size_t start = 1;
    for (;;) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            out.push_back(path.substr(start));
            return out;
        }
        out.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
}

void Router::add(std::string method, std::string pattern, Handler handler, uint64_t max_body_bytes,
                 BodyStorage storage, HandlerPool pool) {
    auto record = [this](Error error) {
        if (!error_) error_ = std::move(error);
    };
    if (method.empty() || !std::all_of(method.begin(), method.end(), is_method_char)) {
        record(Error(ErrorCode::kInternalError,
                     fmt::format("route {} {}: bad method", method, pattern)));
        return;
    }
    if (!handler) {
        record(Error(ErrorCode::kInternalError,
                     fmt::format("route {} {}: empty handler", method, pattern)));
        return;
    }
    auto segments = parse_pattern(pattern);
    if (!segments) {
        record(segments.error());
        return;
    }
    Route route{.method = std::move(method),
                .pattern = std::move(pattern),
                .handler = std::move(handler),
                .max_body_bytes = max_body_bytes,
                .spool = storage == BodyStorage::kSpool ||
                         (storage == BodyStorage::kAuto && max_body_bytes > kSpoolRoutesOver),
                .pool = pool,
                .segments = std::move(*segments),
                .metric_label = {}};
    route.metric_label = escape_label_value(route.pattern);
    for (const auto& other : routes_) {
        if (other.method == route.method && same_shape(other, route)) {
            record(Error(ErrorCode::kInternalError,
                         fmt::format("route {} {} clashes with {} {}", route.method, route.pattern,
                                     other.method, other.pattern)));
            return;
        }
    }
    routes_.push_back(std::move(route));
}

std::vector<RouteInfo> Router::routes() const {
    std::vector<RouteInfo> out;
    out.reserve(routes_.size());
    for (const auto& r : routes_) out.push_back({r.method, r.pattern, r.max_body_bytes, r.spool});
    return out;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
    RouteMatch result;
    if (path.empty() || path.front() != '/') return result;
    const auto segments = split_path(path);

    const Route* best = nullptr;
    const Route* get_for_head = nullptr;
    std::vector<std::string_view> allowed;
    for (const auto& route : routes_) {
        if (!segments_match(route, segments)) continue;
        if (std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
            allowed.push_back(route.method);
        }
        if (route.method == method) {
            if (best == nullptr || more_specific(route, *best)) best = &route;
        } else if (method == "HEAD" && route.method == "GET") {
            if (get_for_head == nullptr || more_specific(route, *get_for_head)) {
                get_for_head = &route;
            }
        }
    }
    if (best == nullptr) best = get_for_head;
    if (best != nullptr) {
        result.kind = RouteMatch::Kind::kFound;
        result.route = best;
        for (size_t i = 0; i < segments.size(); ++i) {
            if (best->segments[i].is_param) {
                result.params.emplace_back(best->segments[i].text, std::string(segments[i]));
            }
        }
        return result;
    }
    if (!allowed.empty()) {
        const bool has_get = std::find(allowed.begin(), allowed.end(), "GET") != allowed.end();
        const bool has_head = std::find(allowed.begin(), allowed.end(), "HEAD") != allowed.end();
        if (has_get && !has_head) allowed.push_back("HEAD");
        result.kind = RouteMatch::Kind::kMethodNotAllowed;
        result.allow = fmt::format("{}", fmt::join(allowed, ", "));
    }
    return result;
}

uint64_t Router::max_body(std::string_view method, std::string_view path) const {
    auto m = match(method, path);
    return m.kind == RouteMatch::Kind::kFound ? m.route->max_body_bytes : kDefaultMaxBody;
}

Result<void> Router::check() const {
    if (error_) return std::unexpected(*error_);
    return {};
}

}  // namespace orchagent::http
