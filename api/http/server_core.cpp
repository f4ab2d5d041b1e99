#include "api/http/server_core.hpp"

#include <fmt/format.h>
#include <pistache/transport.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>

#include "api/http/envelope.hpp"

namespace orchagent::http {
namespace {

using std::chrono::steady_clock;

// How long a connection we are closing may keep sending before we stop listening: long
// enough for the client to read our last answer instead of a reset.
constexpr auto kLinger = std::chrono::seconds(1);
constexpr auto kReapEvery = std::chrono::milliseconds(100);

// Methods are client-chosen: anything unusual is one label value, so a client cannot
// grow the metrics without bound.
std::string_view method_label(std::string_view method) {
    static constexpr std::array<std::string_view, 8> kKnown = {
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "INVALID"};
    return std::find(kKnown.begin(), kKnown.end(), method) != kKnown.end() ? method : "OTHER";
}

bool asks_to_close(const Response& response) {
    for (const auto& [name, value] : response.headers) {
        if (name.size() == 10 && strncasecmp(name.data(), "connection", 10) == 0 &&
            value.find("close") != std::string::npos) {
            return true;
        }
    }
    return false;
}

// What answer() needs of an item whose request moved into a job that never ran.
Item stub_of(const Item& item) {
    Item stub;
    stub.request.request_id = item.request.request_id;
    stub.request.method = item.request.method;
    stub.head_only = item.head_only;
    stub.keep_alive = item.keep_alive;
    stub.http10 = item.http10;
    stub.received = item.received;
    stub.metric_route = item.metric_route;
    return stub;
}

}  // namespace

struct ServerCore::Pending {
    Pistache::Async::Promise<ssize_t> promise;
    std::shared_ptr<Conn> conn;
    bool close;
};

ServerCore::ServerCore(std::shared_ptr<const Router> router_, ServerOptions options_,
                       std::shared_ptr<Metrics> metrics_)
    : router(std::move(router_)),
      options(std::move(options_)),
      metrics(std::move(metrics_)),
      pool(options.workers, options.max_queue),
      long_pool(options.long_workers > 0
                    ? std::make_unique<WorkerPool>(options.long_workers, options.max_queue)
                    : nullptr) {
    metrics->describe(kRequestsTotal, "counter",
                      "HTTP requests answered, by route pattern, method and status.");
    metrics->describe(kRequestDuration, "histogram",
                      "Seconds from a request's complete head to its answer being queued.");
    metrics->describe(kInFlight, "gauge", "HTTP requests read (head complete), not answered.");
    metrics->add_gauge(kInFlight, "", 0);
}

ServerCore::~ServerCore() { stop_reaper(); }

void ServerCore::add(const std::shared_ptr<Conn>& conn) {
    std::lock_guard lock(conns_mutex_);
    conns_.emplace(conn.get(), conn);
}

std::vector<std::shared_ptr<Conn>> ServerCore::snapshot() {
    std::lock_guard lock(conns_mutex_);
    std::vector<std::shared_ptr<Conn>> out;
    out.reserve(conns_.size());
    for (const auto& [_, conn] : conns_) out.push_back(conn);
    return out;
}

void ServerCore::on_disconnect(const std::shared_ptr<Conn>& conn) {
    {
        std::lock_guard lock(conn->mutex);
        conn->closed = true;
        conn->unflushed = 0;
        forget_unanswered(*conn);
    }
    std::lock_guard lock(conns_mutex_);
    conns_.erase(conn.get());
}

ReadContext ServerCore::read_context() const {
    return ReadContext{.router = *router,
                       .max_body_cap = options.max_body_cap,
                       .draining = draining.load(),
                       .metrics = *metrics,
                       .spool_dir = options.spool_dir,
                       .spool_threshold = options.spool_threshold};
}

void ServerCore::on_input(const std::shared_ptr<Conn>& conn, std::string_view data) {
    Post post;
    {
        std::lock_guard lock(conn->mutex);
        if (conn->closed || conn->closing) return;  // closing: the rest is dropped unread
        const ReadContext context = read_context();
        if (!read_input(*conn, data, context)) {
            spdlog::warn("http: {} pipelined more than {} KiB ahead; closing", conn->peer,
                         kMaxStash / 1024);
            forget_unanswered(*conn);
            abort(*conn);
            return;
        }
        progress(conn, post);
    }
    run_post(post);
}

void ServerCore::progress(const std::shared_ptr<Conn>& conn, Post& post) {
    for (;;) {
        while (!conn->running && !conn->ready.empty() && !conn->closing) {
            Item& front = conn->ready.front();
            if (front.answer) {
                Item item = std::move(front);
                conn->ready.pop_front();
                answer(conn, item, *item.answer, post);
                continue;
            }
            Item stub = stub_of(front);
            WorkerPool& workers =
                long_pool && front.route != nullptr && front.route->pool == HandlerPool::kLong
                    ? *long_pool
                    : pool;
            conn->running = true;
            WorkerPool::Job job = [this, conn, item = std::move(front)]() mutable {
                run_item(conn, item);
            };
            conn->ready.pop_front();
            if (!workers.try_submit(std::move(job))) {
                conn->running = false;
                answer(conn, stub,
                       error_response(Error(ErrorCode::kServiceUnavailable,
                                            "every worker is busy and the queue is full"),
                                      stub.request.request_id),
                       post);
            }
        }
        if (conn->running || !conn->ready.empty() || conn->closing || conn->closed) return;
        if (conn->continue_owed && conn->phase == Conn::Phase::kBody) {
            // Every earlier answer is out: the interim answer cannot interleave with one.
            conn->continue_owed = false;
            write(conn, "HTTP/1.1 100 Continue\r\n\r\n", false, post);
        }
        if (conn->stash.empty()) return;
        const std::string stash = std::move(conn->stash);
        conn->stash.clear();
        const ReadContext context = read_context();
        if (!read_input(*conn, stash, context)) {
            forget_unanswered(*conn);
            abort(*conn);
            return;
        }
    }
}

void ServerCore::answer(const std::shared_ptr<Conn>& conn, Item& item, const Response& response,
                        Post& post) {
    const bool close =
        item.close_after || !item.keep_alive || conn->drain_close || asks_to_close(response);
    const wire::Framing framing{
        .close = close, .keep_alive_10 = item.http10 && !close, .head_only = item.head_only};
    write(conn, wire::serialize(response, item.request.request_id, framing), close, post);

    const auto now = steady_clock::now();
    const std::string labels =
        fmt::format("route=\"{}\",method=\"{}\",status=\"{}\"", item.metric_route,
                    method_label(item.request.method), response.status);
    metrics->inc(kRequestsTotal, labels);
    metrics->observe(kRequestDuration, fmt::format("route=\"{}\"", item.metric_route),
                     std::chrono::duration<double>(now - item.received).count());
    metrics->add_gauge(kInFlight, "", -1);
    if (conn->open_requests > 0) conn->open_requests--;

    if (close) {
        conn->closing = true;
        conn->closing_since = now;
        forget_unanswered(*conn);
    } else if (conn->phase == Conn::Phase::kIdle) {
        conn->phase_since = now;  // the keep-alive idle time starts now
    }
}

void ServerCore::write(const std::shared_ptr<Conn>& conn, std::string bytes, bool close,
                       Post& post) {
    if (conn->closed) return;
    const size_t size = bytes.size();
    // Transport::asyncWrite only queues (a lock-free queue and an eventfd): the reactor
    // thread that owns the fd does the send(). Safe from any thread while `closed` is
    // false, see server_core.hpp.
    auto promise =
        conn->transport->asyncWrite(conn->fd, Pistache::RawBuffer(std::move(bytes), size));
    conn->unflushed++;
    post.push_back(Pending{std::move(promise), conn, close});
}

void ServerCore::run_post(Post& post) {
    for (auto& p : post) {
        auto done = [this, conn = p.conn, close = p.close](ssize_t) { flushed(conn, close); };
        auto failed = [this, conn = p.conn, close = p.close](std::exception_ptr&) {
            flushed(conn, close);
        };
        p.promise.then(done, failed);
    }
    post.clear();
}

void ServerCore::flushed(const std::shared_ptr<Conn>& conn, bool close) {
    std::lock_guard lock(conn->mutex);
    if (conn->closed) return;
    if (conn->unflushed > 0) conn->unflushed--;
    if (close && !conn->aborted) {
        // Our FIN follows the last answer; the client closes its side, or the reaper
        // stops waiting after kLinger.
        ::shutdown(conn->fd, SHUT_WR);
    } else if (conn->drain_close && conn->idle()) {
        abort(*conn);
    }
}

void ServerCore::run_item(const std::shared_ptr<Conn>& conn, Item& item) {
    Response response;
    try {
        response = item.route->handler(item.request);
    } catch (const std::exception& e) {
        spdlog::error("http: {} {} {} (route {}): handler threw: {}", item.request.request_id,
                      item.request.method, item.request.path, item.request.route, e.what());
        response = error_response(Error(ErrorCode::kInternalError, "internal error"),
                                  item.request.request_id);
    } catch (...) {
        spdlog::error("http: {} {} {} (route {}): handler threw a non-exception",
                      item.request.request_id, item.request.method, item.request.path,
                      item.request.route);
        response = error_response(Error(ErrorCode::kInternalError, "internal error"),
                                  item.request.request_id);
    }
    // A spooled body's file closes (and, being anonymous, vanishes) before the answer goes
    // out, unless the handler kept a reference.
    item.request.body_file.reset();
    if (response.status < 100 || response.status > 599) {
        spdlog::error("http: {} {} (route {}): handler answered status {}", item.request.request_id,
                      item.request.method, item.request.route, response.status);
        response = error_response(Error(ErrorCode::kInternalError, "internal error"),
                                  item.request.request_id);
    }
    Post post;
    {
        std::lock_guard lock(conn->mutex);
        conn->running = false;
        answer(conn, item, response, post);
        progress(conn, post);
    }
    run_post(post);
}

void ServerCore::abort(Conn& conn) {
    if (conn.closed || conn.aborted) return;
    // The reactor then reads EOF and removes the peer (calling on_disconnect first).
    ::shutdown(conn.fd, SHUT_RDWR);
    conn.aborted = true;
    if (!conn.closing) {
        conn.closing = true;
        conn.closing_since = steady_clock::now();
    }
}

void ServerCore::forget_unanswered(Conn& conn) {
    const uint64_t dropped = drop_unanswered(conn);
    if (dropped > 0) metrics->add_gauge(kInFlight, "", -static_cast<double>(dropped));
}

void ServerCore::begin_drain() {
    draining.store(true);
    for (const auto& conn : snapshot()) {
        std::lock_guard lock(conn->mutex);
        if (conn->closed) continue;
        conn->drain_close = true;
        if (conn->idle() && !conn->closing) abort(*conn);
    }
}

bool ServerCore::quiet() {
    for (const auto& conn : snapshot()) {
        std::lock_guard lock(conn->mutex);
        if (conn->closed) continue;
        if (conn->running || !conn->ready.empty() || conn->phase == Conn::Phase::kBody ||
            conn->unflushed > 0) {
            return false;
        }
    }
    return true;
}

void ServerCore::close_all() {
    for (const auto& conn : snapshot()) {
        std::lock_guard lock(conn->mutex);
        conn->closed = true;
    }
}

void ServerCore::reap() {
    const auto now = steady_clock::now();
    for (const auto& conn : snapshot()) {
        std::lock_guard lock(conn->mutex);
        if (conn->closed) continue;
        if (conn->closing) {
            if (!conn->aborted && now - conn->closing_since > kLinger) abort(*conn);
            continue;
        }
        if (conn->running || !conn->ready.empty()) continue;  // a handler has it
        std::chrono::seconds limit = options.header_timeout;
        switch (conn->phase) {
            case Conn::Phase::kIdle:
                // No first byte yet counts as a slow head; between requests, keep-alive.
                if (conn->requests > 0) limit = options.keepalive_timeout;
                break;
            case Conn::Phase::kHead:
                limit = options.header_timeout;
                break;
            case Conn::Phase::kBody:
                limit = options.body_timeout;
                break;
            case Conn::Phase::kDiscard:
                break;
        }
        if (now - conn->phase_since > limit) {
            // Like nginx, a client too slow to send its request gets no answer: it may not
            // be reading either.
            forget_unanswered(*conn);
            abort(*conn);
        }
    }
}

void ServerCore::start_reaper() {
    reaper_ = std::thread([this] {
        std::unique_lock lock(reaper_mutex_);
        while (!reaper_stop_) {
            reaper_wake_.wait_for(lock, kReapEvery);
            if (reaper_stop_) break;
            lock.unlock();
            try {
                reap();
            } catch (const std::exception& e) {
                spdlog::error("http: reaper: {}", e.what());
            }
            lock.lock();
        }
    });
}

void ServerCore::stop_reaper() {
    {
        std::lock_guard lock(reaper_mutex_);
        reaper_stop_ = true;
    }
    reaper_wake_.notify_all();
    if (reaper_.joinable()) reaper_.join();
}

}  // namespace orchagent::http
