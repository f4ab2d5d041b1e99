#include "api/http/connection.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "api/http/envelope.hpp"
#include "api/http/metrics.hpp"

namespace orchagent::http {
namespace {

SteadyTime now() { return std::chrono::steady_clock::now(); }

// The request under construction becomes the next Item to answer.
void finish_current(Conn& conn) {
    conn.ready.push_back(std::move(conn.current));
    conn.current = Item{};
    conn.chunked.reset();
    conn.continue_owed = false;
    conn.phase = Conn::Phase::kIdle;
    conn.phase_since = now();
}

// Answers the current request with `error` and closes the connection after it: whatever
// follows on the wire can no longer be framed (or we refuse to read it).
void refuse(Conn& conn, const Error& error) {
    conn.current.answer = error_response(error, conn.current.request.request_id);
    conn.current.route = nullptr;
    conn.current.close_after = true;
    finish_current(conn);
    conn.phase = Conn::Phase::kDiscard;
}

void on_head(Conn& conn, std::string_view text, const ReadContext& context) {
    conn.requests++;
    conn.open_requests++;
    context.metrics.add_gauge(kInFlight, "", 1);
    Item& item = conn.current;
    item.received = now();
    item.request.request_id = wire::new_request_id();
    item.request.peer = conn.peer;

    auto head = wire::parse_head(text);
    if (!head) {
        // The method is unknown or untrusted: count it under a fixed label.
        item.request.method = "INVALID";
        refuse(conn, head.error());
        return;
    }
    Request& request = item.request;
    request.method = std::move(head->method);
    request.path = std::move(head->path);
    request.raw_query = std::move(head->raw_query);
    request.query = std::move(head->query);
    request.headers = std::move(head->headers);
    item.keep_alive = head->keep_alive;
    item.http10 = head->http10;
    item.head_only = request.method == "HEAD";

    const bool has_body = head->chunked || head->content_length.value_or(0) > 0;
    RouteMatch match = context.router.match(request.method, request.path);
    if (match.kind == RouteMatch::Kind::kFound) item.metric_route = match.route->metric_label;
    if (context.draining) {
        refuse(conn, Error(ErrorCode::kServiceUnavailable, "the server is shutting down"));
        return;
    }
    const uint64_t limit = std::min(
        match.kind == RouteMatch::Kind::kFound ? match.route->max_body_bytes : kDefaultMaxBody,
        context.max_body_cap);
    if (head->content_length.value_or(0) > limit) {
        refuse(conn, Error(ErrorCode::kDocumentTooLarge,
                           fmt::format("request body of {} bytes is over this route's limit "
                                       "of {} bytes",
                                       *head->content_length, limit)));
        return;
    }
    if (match.kind == RouteMatch::Kind::kFound) {
        item.route = match.route;
        request.route = match.route->pattern;
        request.params = std::move(match.params);
        conn.keep_body = true;
    } else {
        Error error =
            match.kind == RouteMatch::Kind::kNotFound
                ? Error(ErrorCode::kNotFound, fmt::format("no route for {}", request.path))
                : Error(ErrorCode::kMethodNotAllowed,
                        fmt::format("{} is not allowed on {}", request.method, request.path));
        item.answer = error_response(error, request.request_id);
        if (!match.allow.empty()) item.answer->header("Allow", match.allow);
        conn.keep_body = false;
        if (has_body && head->expect_continue) {
            // The client waits for our word before sending the body: the final answer
            // tells it not to, and the connection closes so nothing is left unread.
            item.close_after = true;
            finish_current(conn);
            conn.phase = Conn::Phase::kDiscard;
            return;
        }
    }
    if (!has_body) {
        finish_current(conn);
        return;
    }
    conn.phase = Conn::Phase::kBody;
    conn.phase_since = now();
    if (head->chunked) {
        conn.chunked.emplace(limit);
    } else {
        conn.body_left = *head->content_length;
        // Reserve what was announced, but not more than 64 KiB up front: a client that
        // announces 64 MiB and sends nothing must not cost 64 MiB.
        if (conn.keep_body) {
            request.body.reserve(std::min<uint64_t>(conn.body_left, 64 * 1024));
        }
    }
    conn.continue_owed = head->expect_continue;
}

// Reads body bytes from the front of data.
void read_body(Conn& conn, std::string_view& data) {
    std::string* sink = conn.keep_body ? &conn.current.request.body : nullptr;
    if (!conn.chunked) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(conn.body_left, data.size()));
        if (sink != nullptr) sink->append(data.data(), n);
        data.remove_prefix(n);
        conn.body_left -= n;
        if (conn.body_left == 0) finish_current(conn);
        return;
    }
    switch (conn.chunked->feed(data, sink)) {
        case wire::ChunkedDecoder::Status::kMore:
            return;
        case wire::ChunkedDecoder::Status::kDone:
            finish_current(conn);
            return;
        case wire::ChunkedDecoder::Status::kTooLarge:
            // An answer chosen for a 404/405 stands; otherwise the body is too large.
            conn.current.answer.reset();
            refuse(conn, Error(ErrorCode::kDocumentTooLarge,
                               "chunked request body is over this route's limit"));
            return;
        case wire::ChunkedDecoder::Status::kMalformed:
            conn.current.answer.reset();
            refuse(conn, Error(ErrorCode::kInvalidInput, "malformed chunked body"));
            return;
    }
}

// Reads head bytes from the front of data; true when a head is complete in conn.head.
bool read_head(Conn& conn, std::string_view& data) {
    if (conn.head.empty()) {
        // RFC 9112 2.2: empty lines before a request line are ignored.
        while (!data.empty() && (data.front() == '\r' || data.front() == '\n')) {
            data.remove_prefix(1);
        }
        if (data.empty()) return false;
        conn.phase = Conn::Phase::kHead;
        conn.phase_since = now();
    }
    const size_t old = conn.head.size();
    // Copy at most one byte past the limit: enough to know the head is too long.
    const size_t take = std::min(data.size(), wire::kMaxHead + 1 - std::min(old, wire::kMaxHead));
    conn.head.append(data.data(), take);
    const size_t end = conn.head.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    if (end == std::string::npos) {
        data.remove_prefix(take);
        return false;
    }
    const size_t head_size = end + 4;
    data.remove_prefix(head_size - old);
    conn.head.resize(head_size);
    return true;
}

}  // namespace

bool read_input(Conn& conn, std::string_view data, const ReadContext& context) {
    while (!data.empty()) {
        if (conn.phase == Conn::Phase::kDiscard) return true;
        if (conn.phase == Conn::Phase::kBody) {
            read_body(conn, data);
            continue;
        }
        if (conn.ready.size() >= kMaxPipeline) {
            // Enough parsed requests wait: hold the raw bytes until some are answered.
            if (conn.stash.size() + data.size() > kMaxStash) return false;
            conn.stash.append(data);
            return true;
        }
        if (!read_head(conn, data)) {
            if (conn.head.size() > wire::kMaxHead) {
                conn.head.clear();
                conn.requests++;
                conn.open_requests++;
                context.metrics.add_gauge(kInFlight, "", 1);
                conn.current.request.request_id = wire::new_request_id();
                conn.current.request.method = "INVALID";
                conn.current.received = now();
                refuse(conn,
                       Error(ErrorCode::kInvalidInput, "request line and headers exceed 16 KiB"));
            }
            continue;
        }
        const std::string head = std::move(conn.head);
        conn.head.clear();
        on_head(conn, head, context);
    }
    return true;
}

uint64_t drop_unanswered(Conn& conn) {
    uint64_t dropped = conn.ready.size();
    conn.ready.clear();
    if (conn.phase == Conn::Phase::kBody) ++dropped;
    conn.phase = Conn::Phase::kDiscard;
    conn.stash.clear();
    conn.open_requests -= std::min(dropped, conn.open_requests);
    return dropped;
}

}  // namespace orchagent::http
