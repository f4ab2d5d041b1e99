// The HTTP layer's plain values: what a route handler sees and what it returns. Handlers
// never touch Pistache; api/http/server.cpp translates both ways and runs handlers on the
// worker pool, never on a reactor thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/unique_fd.hpp"

namespace orchagent::http {

// A request body the server spooled to disk (routes that allow large bodies, once the body
// passes ServerOptions::spool_threshold): an anonymous file (O_TMPFILE) in
// ServerOptions::spool_dir. It has no name, so it disappears with its last descriptor, which
// closes when the handler returns. Read it with pread (no shared file offset), or through
// Request::for_each_body_chunk; never write to it.
struct BodyFile {
    UniqueFd fd;
    uint64_t size = 0;
};

// The size of the pieces Request::for_each_body_chunk hands out.
inline constexpr size_t kBodyChunk = 64 * 1024;

struct Request {
    std::string method;        // "GET", upper case as sent
    std::string path;          // percent-decoded path, without the query
    std::string raw_query;     // after '?', as sent
    std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::vector<std::pair<std::string, std::string>> params;   // {name} segments of the route
    // The body is in exactly one of these: `body` (memory), or `body_file` (spooled, and then
    // `body` is empty). Handlers of spooling routes (Router::add, BodyStorage) must read it
    // with for_each_body_chunk or body_text; other routes may keep reading `body`.
    std::string body;
    std::shared_ptr<const BodyFile> body_file;
    std::string request_id;  // "req_<hex>", also sent back as X-Request-Id
    std::string route;       // the matched pattern, e.g. "/agents/{id}" (metrics label)
    std::string peer;        // "127.0.0.1:53422"

    // First header with this (case-insensitive) name.
    std::optional<std::string_view> header(std::string_view name) const;
    // First query parameter with this name.
    std::optional<std::string_view> query_param(std::string_view name) const;
    // A path parameter of the route ("" if the route has none of that name).
    std::string_view param(std::string_view name) const;

    uint64_t body_size() const { return body_file ? body_file->size : body.size(); }
    // Calls `chunk` with the body in order, in pieces of at most kBodyChunk bytes (none for an
    // empty body), whether it is in memory or spooled; stops at the first error and returns
    // it. Reading a spooled body costs one 64 KiB buffer, whatever its size.
    Result<void> for_each_body_chunk(
        const std::function<Result<void>(std::string_view)>& chunk) const;
    // The whole body as text, for small bodies (JSON): DOCUMENT_TOO_LARGE past `max` bytes.
    Result<std::string> body_text(uint64_t max) const;
};

struct Response {
    int status = 200;
    std::vector<std::pair<std::string, std::string>> headers;  // extra headers
    std::string content_type = "application/json";
    std::string body;

    Response& header(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
};

using Handler = std::function<Response(Request&)>;

// What the router knows of a route: for the OpenAPI comparison test and for the body limit
// checked against Content-Length before any body byte is read.
struct RouteInfo {
    std::string method;
    std::string pattern;      // "/agents/{id}/upload"; "{name}" matches one non-empty segment
    uint64_t max_body_bytes;  // larger Content-Length: 413 DOCUMENT_TOO_LARGE, body unread
    bool spool = false;       // large bodies reach the handler as Request::body_file
};

}  // namespace orchagent::http
