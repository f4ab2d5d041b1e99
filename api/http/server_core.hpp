// What the server's Pistache handler clones share: the route table, the worker pool, the
// open connections, and the rules for answering in order. Internal to api/http.
//
// Threads: a reactor thread feeds a connection's bytes in (on_input); a worker runs one
// handler at a time per connection and writes the answer; the reaper enforces timeouts.
// All of them touch a connection only under its mutex, and never touch its fd once
// `closed` is set, which Pistache's disconnect callback does before it closes the fd: a
// late answer can then never reach a new connection that reused the fd number.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/http/connection.hpp"
#include "api/http/metrics.hpp"
#include "api/http/router.hpp"
#include "api/http/server.hpp"
#include "api/http/worker_pool.hpp"

namespace orchagent::http {

struct ServerCore {
    ServerCore(std::shared_ptr<const Router> router_, ServerOptions options_,
               std::shared_ptr<Metrics> metrics_);
    ~ServerCore();

    const std::shared_ptr<const Router> router;
    const ServerOptions options;
    const std::shared_ptr<Metrics> metrics;
    WorkerPool pool;
    std::unique_ptr<WorkerPool> long_pool;  // HandlerPool::kLong routes, when configured
    std::atomic<bool> draining{false};

    void add(const std::shared_ptr<Conn>& conn);
    // Reactor thread, before Pistache closes the fd.
    void on_disconnect(const std::shared_ptr<Conn>& conn);
    // Reactor thread: bytes read from the connection.
    // What the reader needs of the server for one pass over a connection's input.
    ReadContext read_context() const;
    void on_input(const std::shared_ptr<Conn>& conn, std::string_view data);

    // Drain: closes idle connections and asks busy ones to close after their answers.
    void begin_drain();
    // True when no open connection has a request read, running, or an answer unwritten.
    bool quiet();
    // Marks every connection closed: nothing may reach Pistache after this.
    void close_all();

    void start_reaper();
    void stop_reaper();

  private:
    struct Pending;
    using Post = std::vector<Pending>;

    // The calls below run with conn->mutex held; they collect in `post` the Pistache
    // promises to watch once it is released (a promise's callback may run at once, on
    // this thread, and would deadlock on the mutex).
    void progress(const std::shared_ptr<Conn>& conn, Post& post);
    void answer(const std::shared_ptr<Conn>& conn, Item& item, const Response& response,
                Post& post);
    void write(const std::shared_ptr<Conn>& conn, std::string bytes, bool close, Post& post);
    void abort(Conn& conn);
    void forget_unanswered(Conn& conn);

    void run_post(Post& post);
    void run_item(const std::shared_ptr<Conn>& conn, Item& item);
    void flushed(const std::shared_ptr<Conn>& conn, bool close);
    void reap();
    std::vector<std::shared_ptr<Conn>> snapshot();

    std::mutex conns_mutex_;
    std::unordered_map<Conn*, std::shared_ptr<Conn>> conns_;

    std::mutex reaper_mutex_;
    std::condition_variable reaper_wake_;
    bool reaper_stop_ = false;
    std::thread reaper_;
};

}  // namespace orchagent::http
