// The route table: method + pattern -> handler and body limit. Patterns are literal segments
// and "{name}" segments; matching runs on the percent-decoded path. The server asks the
// router twice per request: once when the head arrives (for the body limit, before any body
// byte is read) and that same match then carries the handler to a worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http/types.hpp"
#include "core/error.hpp"

namespace orchagent::http {

inline constexpr uint64_t kDefaultMaxBody = 1 << 20;

// Where a route's request bodies are kept while they arrive (docs/http.md, "Spooled request
// bodies").
// Which worker pool runs a route's handler: kLong for handlers that may hold their thread for
// seconds (agent calls, bundle uploads, a payment provider's answer), so that they never
// crowd out the short ones (ServerOptions::long_workers).
enum class HandlerPool { kShort, kLong };

enum class BodyStorage {
    kAuto,    // kSpool when the route's limit is over kSpoolRoutesOver, else kMemory
    kMemory,  // always Request::body
    kSpool,   // Request::body up to ServerOptions::spool_threshold, else Request::body_file
};
// Routes allowing more than this spool by default (the upload and call routes, 26 MiB);
// smaller ones (publishing, 4 MiB) keep their bodies in memory, where handlers read `body`.
inline constexpr uint64_t kSpoolRoutesOver = 8ull << 20;

struct Route {
    std::string method;
    std::string pattern;
    Handler handler;
    uint64_t max_body_bytes;
    bool spool;  // BodyStorage resolved: large bodies go to a file
    HandlerPool pool = HandlerPool::kShort;
    // The pattern's segments; a "{name}" segment is stored as its name with is_param set.
    struct Segment {
        std::string text;
        bool is_param;
    };
    std::vector<Segment> segments;
    std::string metric_label;  // the pattern, escaped for a Prometheus label value
};

struct RouteMatch {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed };
    Kind kind = Kind::kNotFound;
    const Route* route = nullptr;  // kFound
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // kMethodNotAllowed: "GET, HEAD, POST"
};

class Router {
  public:
    // pattern: "/agents/{id}/upload"; a {name} segment matches one non-empty segment; literal
    // segments win over {params} when both match ("/agents/x" vs "/agents/{id}"). A malformed
    // pattern or a second route of the same method and shape is not added; check() reports it
    // (Server::start refuses such a router). A spooling route's handler must read the body
    // with Request::for_each_body_chunk or body_text (Request::body is empty when spooled).
    void add(std::string method, std::string pattern, Handler handler,
             uint64_t max_body_bytes = kDefaultMaxBody, BodyStorage storage = BodyStorage::kAuto,
             HandlerPool pool = HandlerPool::kShort);

    std::vector<RouteInfo> routes() const;  // in registration order

    // The route for this method and percent-decoded path. A GET route also answers HEAD
    // when no HEAD route matches (the server then sends no body).
    RouteMatch match(std::string_view method, std::string_view path) const;

    // The most body a request for this method and path may carry: the matched route's
    // limit, or kDefaultMaxBody when nothing matches (the body is then read and dropped).
    uint64_t max_body(std::string_view method, std::string_view path) const;

    // The first registration error, if any (bad pattern, duplicate route).
    Result<void> check() const;

  private:
    std::vector<Route> routes_;
    std::optional<Error> error_;
};

// Splits "/a/b" into {"a", "b"}; "/" into {}; "/a/" into {"a", ""}. The path must start
// with '/'.
std::vector<std::string_view> split_path(std::string_view path);

}  // namespace orchagent::http
