// The agent gateway: how a jailed agent with dependencies reaches the daemon to call them
// (CONTRACT.md section 4; docs/architecture.md, "Agent-to-agent calls").
//
// The jail has only a loopback interface. For such a run the jail's child makes a listening
// socket at 127.0.0.1:port inside the run's own network namespace and hands it to the
// launcher before the program starts (JailSpec::listener); the launcher passes it here. One
// epoll thread accepts on every run's listener and forwards each connection byte for byte to
// the daemon's own HTTP listener, where the call route accepts the run's service key only
// on those upstream connections (ServiceKeys::find). When the run ends, its listener, its
// connections and its key go, before Session's destructor returns.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "core/error.hpp"
#include "core/unique_fd.hpp"
#include "runtime/executor.hpp"
#include "runtime/service_keys.hpp"

namespace orchagent::runtime {

struct GatewayOptions {
    uint16_t port = 8765;                  // the listener's port inside each jail
    uint32_t max_connections = 16;         // open at once per run; more are closed at accept
    uint32_t max_total_connections = 256;  // per run, over its life
    uint64_t max_bytes = 64ull << 20;      // per run and direction; past it the connection closes
};

class Gateway {
  public:
    static Result<std::unique_ptr<Gateway>> create(GatewayOptions options = {});
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Where connections go: the daemon's HTTP listener. "0.0.0.0", "" and "localhost" mean
    // 127.0.0.1; IPv4 only. Until it is set, the agents' connections are closed at once.
    Result<void> set_upstream(const std::string& host, uint16_t port);

    ServiceKeys& keys() { return keys_; }
    const GatewayOptions& options() const { return options_; }

    // One run's gateway: its key is live and its listener is served until the executor
    // calls RunGateway::close (when the program is gone, before its slot is reused) or the
    // Session goes, whichever is first; then the key is revoked and the listener and every
    // connection of the run are closed before that call returns.
    class Session {
      public:
        Session(Session&& other) noexcept;
        Session(const Session&) = delete;
        Session& operator=(const Session&) = delete;
        ~Session();
        // What the executor gives the jail: the port, the agent's variables
        // (ORCHAGENT_GATEWAY_URL, ORCHAGENT_SERVICE_KEY) and who takes the listener.
        const RunGateway& run_gateway() const { return run_; }
        const std::string& key() const { return key_; }

      private:
        friend class Gateway;
        Session(Gateway* gateway, uint64_t id, std::string key, RunGateway run)
            : gateway_(gateway), id_(id), key_(std::move(key)), run_(std::move(run)) {}
        Gateway* gateway_;
        uint64_t id_;
        std::string key_;
        RunGateway run_;
    };
    Session open(std::shared_ptr<const ServiceGrant> grant);

    // What is open now, for tests and metrics.
    struct Stats {
        size_t runs = 0;
        size_t listeners = 0;
        size_t connections = 0;
    };
    Stats stats() const;

  private:
    struct Run;
    struct Conn;
    explicit Gateway(GatewayOptions options);
    void attach(uint64_t run, UniqueFd listener);
    void detach(uint64_t run);
    void close(uint64_t run, const std::string& key);  // revoke, then detach; idempotent
    void loop();
    // The handlers below run with mutex_ held.
    void accept_all(uint64_t run_id, Run& run);
    void on_side(uint64_t conn_id, bool up, uint32_t events);
    void update(uint64_t conn_id, Conn& conn);
    void close_conn(uint64_t conn_id);

    const GatewayOptions options_;
    ServiceKeys keys_;
    UniqueFd epoll_;
    UniqueFd wake_;  // eventfd: stop
    std::thread thread_;

    mutable std::mutex mutex_;
    bool stopping_ = false;
    bool have_upstream_ = false;
    sockaddr_storage upstream_{};
    socklen_t upstream_len_ = 0;
    uint64_t next_id_ = 1;
    std::unordered_map<uint64_t, std::unique_ptr<Run>> runs_;
    std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns_;
};

}  // namespace orchagent::runtime
