// An outbound HTTP client (libcurl) for the few places the daemon talks to another service:
// the payment provider (Stripe's API) and the LLM provider of prompt agents. Every request
// has a deadline and a cap on the answer's size; nothing here retries.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace orchagent::http_client {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
    std::string method = "POST";
    std::string url;
    Headers headers;  // "Name", "value"
    std::string body;
    std::chrono::milliseconds timeout{30'000};        // the whole exchange
    std::chrono::milliseconds connect_timeout{5'000};
    std::size_t max_response_bytes = 4u << 20;  // a longer answer is an error
};

struct Response {
    long status = 0;
    Headers headers;  // names lower-cased
    std::string body;
    // The first header with this (lower-case) name, or "".
    std::string header(std::string_view name) const;
};

// Sends the request. A transport failure (refused, timed out, answer too large, bad URL)
// is a SERVICE_UNAVAILABLE error saying what happened; any HTTP status is a Response.
// Only http:// and https:// URLs are followed; redirects are not.
Result<Response> send(const Request& request);

// application/x-www-form-urlencoded, in the given order.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
std::string url_escape(std::string_view text);

}  // namespace orchagent::http_client
