// The HTTP server: Pistache accepts connections and moves bytes; this layer reads requests
// (api/http/connection.cpp), runs handlers on a worker pool (never on a reactor thread),
// and writes answers through Pistache's per-reactor write queue. docs/http.md explains why
// and what each Pistache trap needed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "api/http/metrics.hpp"
#include "api/http/router.hpp"
#include "core/error.hpp"

namespace Pistache::Http {
class Endpoint;
}

namespace orchagent::http {

struct ServerOptions {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;  // 0: any free port, read it back with Server::port()
    unsigned reactor_threads = 2;
    unsigned workers = 0;     // handler threads; 0 = 2 * hardware_concurrency
    // Threads of a second pool for HandlerPool::kLong routes (with the same max_queue);
    // 0: those routes run on the main pool too.
    unsigned long_workers = 0;
    size_t max_queue = 1024;  // requests waiting for a worker; beyond it 503 + Retry-After
    uint64_t max_body_cap = 64ull << 20;         // no route may accept more
    std::chrono::seconds header_timeout{10};     // first byte to end of head (and connect to
                                                 // first byte); past it the connection closes
    std::chrono::seconds body_timeout{60};       // end of head to end of body
    std::chrono::seconds keepalive_timeout{60};  // idle time between requests
    // Bodies of spooling routes (router.hpp, BodyStorage) past spool_threshold bytes are
    // written, as they arrive, to an anonymous O_TMPFILE file in spool_dir (empty: /tmp).
    // A file that cannot be created or written answers 503 SERVICE_UNAVAILABLE and closes.
    std::string spool_dir;
    uint64_t spool_threshold = 256 * 1024;
};

struct ServerCore;

class Server {
  public:
    static Result<std::unique_ptr<Server>> start(std::shared_ptr<const Router> router,
                                                 ServerOptions options,
                                                 std::shared_ptr<Metrics> metrics);
    uint16_t port() const { return port_; }

    // Graceful drain: stop accepting new connections/requests, let in-flight requests finish
    // and be answered (up to `grace`), then stop Pistache. Idempotent. A handler still
    // running after `grace` keeps its worker thread until it returns (its answer is
    // dropped); the destructor waits for it.
    void shutdown(std::chrono::milliseconds grace);
    ~Server();  // shutdown(0) if still running

    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

  private:
    Server();

    std::unique_ptr<ServerCore> core_;
    std::unique_ptr<Pistache::Http::Endpoint> endpoint_;
    uint16_t port_ = 0;
    int listen_fd_ = -1;  // Pistache's listening socket, found after bind (-1: not found)
    std::mutex shutdown_mutex_;
    bool stopped_ = false;
};

}  // namespace orchagent::http
