#include "api/http/connection.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "api/http/envelope.hpp"
#include "api/http/metrics.hpp"

namespace orchagent::http {
namespace {

SteadyTime now() { return std::chrono::steady_clock::now(); }

// The request under construction becomes the next Item to answer.
void finish_current(Conn& conn) {
    conn.ready.push_back(std::move(conn.current));
    conn.current = Item{};
    conn.spool.reset();  // a body refused half-way: its file closes (and vanishes) now
    conn.chunked.reset();
    conn.continue_owed = false;
    conn.phase = Conn::Phase::kIdle;
    conn.phase_since = now();
}

// Answers the current request with `error` and closes the connection after it: whatever
// follows on the wire can no longer be framed (or we refuse to read it).
void refuse(Conn& conn, const Error& error) {
    std::string().swap(conn.current.request.body);  // the answer needs none of it
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

Result<void> write_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("write", "spooled request body", errno,
                              ErrorCode::kServiceUnavailable);
        }
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

// The body of a spooling route could not be stored: 503 (retryable), and the connection
// closes, since the rest of the body will not be read.
void refuse_spool(Conn& conn, const Error& cause) {
    spdlog::error("http: {} {} {}: cannot spool the request body: {}",
                  conn.current.request.request_id, conn.current.request.method,
                  conn.current.request.path, cause.message());
    const int err = cause.sys_errno();
    const char* description = err != 0 ? strerrordesc_np(err) : nullptr;
    refuse(conn, Error(ErrorCode::kServiceUnavailable,
                       fmt::format("the server could not store the request body ({}: {}, {}); "
                                   "retry later",
                                   cause.syscall(), errno_name(err),
                                   description != nullptr ? description : "?")));
}

bool spooling(const Conn& conn) {
    return conn.keep_body && conn.current.route != nullptr && conn.current.route->spool;
}

// A spooling route's body, after each piece read: once past the threshold, the bytes go to
// the spool file, written every kSpoolFlush bytes and at the end, so memory stays bounded
// however large the body. `done`: the body is complete; a spooled one becomes
// request.body_file. False when the file could not be created or written (the request is
// then refused).
bool spill(Conn& conn, const ReadContext& context, bool done) {
    Request& request = conn.current.request;
    std::string& pending = request.body;
    if (!conn.spool) {
        if (pending.size() <= context.spool_threshold) return true;  // small: stays in memory
        auto fd = open_spool_file(context.spool_dir);
        if (!fd) {
            refuse_spool(conn, fd.error());
            return false;
        }
        conn.spool = std::make_shared<BodyFile>();
        conn.spool->fd = std::move(*fd);
    }
    if (pending.size() >= kSpoolFlush || (done && !pending.empty())) {
        if (auto written = write_all(conn.spool->fd.get(), pending); !written) {
            refuse_spool(conn, written.error());
            return false;
        }
        conn.spool->size += pending.size();
        if (pending.capacity() > 2 * kSpoolFlush) {
            // The in-memory start of the body grew past the threshold: give it back.
            std::string fresh;
            fresh.reserve(kSpoolFlush + 16 * 1024);
            pending.swap(fresh);
        } else {
            pending.clear();
        }
    }
    if (done) {
        std::string().swap(pending);
        request.body_file = std::move(conn.spool);
    }
    return true;
}

// Reads body bytes from the front of data.
void read_body(Conn& conn, std::string_view& data, const ReadContext& context) {
    std::string* sink = conn.keep_body ? &conn.current.request.body : nullptr;
    const bool spool = spooling(conn);
    if (!conn.chunked) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(conn.body_left, data.size()));
        if (sink != nullptr) sink->append(data.data(), n);
        data.remove_prefix(n);
        conn.body_left -= n;
        const bool done = conn.body_left == 0;
        if (spool && !spill(conn, context, done)) return;
        if (done) finish_current(conn);
        return;
    }
    switch (conn.chunked->feed(data, sink)) {
        case wire::ChunkedDecoder::Status::kMore:
            if (spool) spill(conn, context, false);
            return;
        case wire::ChunkedDecoder::Status::kDone:
            if (spool && !spill(conn, context, true)) return;
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

Result<UniqueFd> open_spool_file(const std::string& dir) {
    const std::string where = dir.empty() ? std::string("/tmp") : dir;
    UniqueFd fd(::open(where.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
    if (fd) return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR) {
        return fail_errno("open", where, errno, ErrorCode::kServiceUnavailable);
    }
    // No O_TMPFILE on this file system (EISDIR: a kernel that predates it): a named file,
    // unlinked at once. It cannot be linked back into a folder; copies still work.
    std::string name = where + "/.orchagent-body-XXXXXX";
    fd = UniqueFd(::mkostemp(name.data(), O_CLOEXEC));
    if (!fd) return fail_errno("mkostemp", name, errno, ErrorCode::kServiceUnavailable);
    ::unlink(name.c_str());
    return fd;
}

bool read_input(Conn& conn, std::string_view data, const ReadContext& context) {
    while (!data.empty()) {
        if (conn.phase == Conn::Phase::kDiscard) return true;
        if (conn.phase == Conn::Phase::kBody) {
            read_body(conn, data, context);
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
    conn.spool.reset();
    conn.current = Item{};
    conn.stash.clear();
    conn.open_requests -= std::min(dropped, conn.open_requests);
    return dropped;
}

}  // namespace orchagent::http
