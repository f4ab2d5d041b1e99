// The HTTP layer's plain values: what a route handler sees and what it returns. Handlers
// never touch Pistache; api/http/server.cpp translates both ways and runs handlers on the
// worker pool, never on a reactor thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orchagent::http {

struct Request {
    std::string method;        // "GET", upper case as sent
    std::string path;          // percent-decoded path, without the query
    std::string raw_query;     // after '?', as sent
    std::vector<std::pair<std::string, std::string>> query;    // decoded, in order
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::vector<std::pair<std::string, std::string>> params;   // {name} segments of the route
    std::string body;
    std::string request_id;  // "req_<hex>", also sent back as X-Request-Id
    std::string route;       // the matched pattern, e.g. "/agents/{id}" (metrics label)
    std::string peer;        // "127.0.0.1:53422"

    // First header with this (case-insensitive) name.
    std::optional<std::string_view> header(std::string_view name) const;
    // First query parameter with this name.
    std::optional<std::string_view> query_param(std::string_view name) const;
    // A path parameter of the route ("" if the route has none of that name).
    std::string_view param(std::string_view name) const;
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
};

}  // namespace orchagent::http
