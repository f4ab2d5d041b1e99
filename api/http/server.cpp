#include "api/http/server.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <pistache/peer.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>
#include <unordered_map>

#include "api/http/server_core.hpp"

namespace orchagent::http {
namespace {

namespace Ph = Pistache::Http;
namespace Tcp = Pistache::Tcp;

// Pistache's own timers (header, body, keep-alive) measure from when its parser was last
// reset, not from the last byte, ignore a request still on a worker, and close the fd
// without calling onDisconnection. They are pushed out of reach; ServerCore::reap does the
// job instead.
constexpr auto kNever = std::chrono::hours(24 * 365 * 10);

// "127.0.0.1:40312" or "[::1]:40312" from the socket itself: Pistache 0.0.5's
// Peer::address() reports the port in network byte order (40312 reads as 30877).
std::string peer_address(int fd) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    char ip[INET6_ADDRSTRLEN] = {};
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
    if (addr.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
        if (::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip) == nullptr) return "unknown";
        return fmt::format("{}:{}", ip, ntohs(in->sin_port));
    }
    if (addr.ss_family == AF_INET6) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
        if (::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip) == nullptr) return "unknown";
        return fmt::format("[{}]:{}", ip, ntohs(in6->sin6_port));
    }
    return "unknown";
}

// One clone per reactor thread (Pistache's prototype pattern): its connection table is only
// ever touched by that thread, so it needs no lock.
class PistacheHandler final : public Ph::Handler {
  public:
    HTTP_PROTOTYPE(PistacheHandler)

    explicit PistacheHandler(ServerCore* core) : core_(core) {}
    PistacheHandler(const PistacheHandler& other) : Ph::Handler(other), core_(other.core_) {}

    // Never called: Pistache's request parser never sees a byte (onInput does not pass
    // them on). Answer something sane should that ever change.
    void onRequest(const Ph::Request&, Ph::ResponseWriter response) override {
        response.send(Ph::Code::Internal_Server_Error);
    }

    void onConnection(const std::shared_ptr<Tcp::Peer>& peer) override {
        try {
            // What Http::Handler::onConnection (private, so not callable) does: Pistache's
            // idle-peer timer looks this parser up on every peer and throws if it is missing.
            peer->putData(Ph::Handler::ParserData,
                          std::make_shared<Ph::RequestParser>(getMaxRequestSize()));
            auto conn = std::make_shared<Conn>();
            conn->transport = transport();
            conn->fd = peer->fd();
            conn->peer = peer_address(peer->fd());
            conn->phase_since = std::chrono::steady_clock::now();
            conns_.emplace(peer.get(), conn);
            core_->add(conn);
            if (core_->draining.load()) {
                // Accepted just before the listening socket closed: refuse it.
                ::shutdown(conn->fd, SHUT_RDWR);
            }
        } catch (const std::exception& e) {
            spdlog::error("http: new connection: {}", e.what());
            ::shutdown(peer->fd(), SHUT_RDWR);
        }
    }

    void onDisconnection(const std::shared_ptr<Tcp::Peer>& peer) override {
        auto it = conns_.find(peer.get());
        if (it == conns_.end()) return;
        core_->on_disconnect(it->second);
        conns_.erase(it);
    }

    void onInput(const char* buffer, size_t len, const std::shared_ptr<Tcp::Peer>& peer) override {
        auto it = conns_.find(peer.get());
        if (it == conns_.end()) return;
        try {
            core_->on_input(it->second, std::string_view(buffer, len));
        } catch (const std::exception& e) {
            // Nothing may escape into Pistache's reactor loop: it would end the thread.
            spdlog::error("http: {}: reading a request: {}", it->second->peer, e.what());
            ::shutdown(peer->fd(), SHUT_RDWR);
        }
    }

  private:
    ServerCore* core_;
    std::unordered_map<const Tcp::Peer*, std::shared_ptr<Conn>> conns_;
};

// Pistache keeps its listening socket private. Find it: the one socket in this process
// listening on our address and port (only one can, without SO_REUSEPORT).
int find_listen_fd(const std::string& host, uint16_t port) {
    int found = -1;
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) return -1;
    in_addr want4{};
    const bool have4 = inet_pton(AF_INET, host.c_str(), &want4) == 1;
    while (dirent* entry = readdir(dir)) {
        char* end = nullptr;
        const long fd = std::strtol(entry->d_name, &end, 10);
        if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) continue;
        int listening = 0;
        socklen_t len = sizeof listening;
        if (getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
            listening == 0) {
            continue;
        }
        sockaddr_storage addr{};
        socklen_t addr_len = sizeof addr;
        if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
            continue;
        }
        if (addr.ss_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
            if (ntohs(in->sin_port) != port) continue;
            if (have4 && in->sin_addr.s_addr != want4.s_addr) continue;
        } else if (addr.ss_family == AF_INET6) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
            if (ntohs(in6->sin6_port) != port) continue;
        } else {
            continue;
        }
        if (found != -1) {  // two candidates: guessing could close someone else's socket
            found = -2;
            break;
        }
        found = static_cast<int>(fd);
    }
    closedir(dir);
    return found >= 0 ? found : -1;
}

// Closes the listening socket under Pistache's feet without freeing its fd number:
// a fresh unbound socket takes the number (dup3), so Pistache's accept thread sees no event
// (closing the last reference also removes it from Pistache's epoll set) and its later
// close() closes our placeholder. New connection attempts are refused by the kernel.
void close_listener(int listen_fd) {
    const int placeholder = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (placeholder < 0) {
        spdlog::warn("http: drain: socket(): {}", errno_name(errno));
        return;
    }
    if (::dup3(placeholder, listen_fd, O_CLOEXEC) < 0) {
        spdlog::warn("http: drain: dup3(): {}", errno_name(errno));
    }
    ::close(placeholder);
}

}  // namespace

Server::Server() = default;

Result<std::unique_ptr<Server>> Server::start(std::shared_ptr<const Router> router,
                                              ServerOptions options,
                                              std::shared_ptr<Metrics> metrics) {
    if (!router) return fail(ErrorCode::kInternalError, "http server: no router");
    if (auto ok = router->check(); !ok) return std::unexpected(ok.error());
    if (options.reactor_threads == 0) {
        return fail(ErrorCode::kInternalError, "http server: reactor_threads must be >= 1");
    }
    if (options.max_queue == 0) {
        return fail(ErrorCode::kInternalError, "http server: max_queue must be >= 1");
    }
    if (options.workers == 0) {
        options.workers = 2 * std::max(1u, std::thread::hardware_concurrency());
    }
    if (!metrics) metrics = std::make_shared<Metrics>();
    const auto routes = router->routes();
    if (std::any_of(routes.begin(), routes.end(), [](const RouteInfo& r) { return r.spool; })) {
        // Not fatal: the folder may appear later; until then large bodies get 503.
        if (auto probe = open_spool_file(options.spool_dir); !probe) {
            spdlog::warn("http: large request bodies cannot be spooled: {}",
                         probe.error().message());
        }
    }

    std::unique_ptr<Server> server(new Server());
    server->core_ = std::make_unique<ServerCore>(std::move(router), options, std::move(metrics));
    try {
        server->endpoint_ = std::make_unique<Ph::Endpoint>(
            Pistache::Address(options.host, Pistache::Port(options.port)));
        auto opts =
            Ph::Endpoint::options()
                .threads(static_cast<int>(options.reactor_threads))
                .threadsName("oa-http")
                .flags(Tcp::Options::ReuseAddr | Tcp::Options::NoDelay | Tcp::Options::CloseOnExec)
                .backlog(1024)
                // Pistache's parser never sees a byte (onInput keeps them); should
                // it ever, it still refuses anything past our cap plus a head.
                .maxRequestSize(options.max_body_cap + wire::kMaxHead + 1024)
                .headerTimeout(kNever)
                .bodyTimeout(kNever)
                .keepaliveTimeout(kNever);
        server->endpoint_->init(opts);
        server->endpoint_->setHandler(std::make_shared<PistacheHandler>(server->core_.get()));
        server->endpoint_->serveThreaded();
    } catch (const std::exception& e) {
        server->endpoint_.reset();
        return fail(ErrorCode::kInternalError, fmt::format("http server: listen on {}:{}: {}",
                                                           options.host, options.port, e.what()));
    }
    server->port_ = static_cast<uint16_t>(server->endpoint_->getPort());
    server->listen_fd_ = find_listen_fd(options.host, server->port_);
    if (server->listen_fd_ < 0) {
        spdlog::warn(
            "http: could not find the listening socket; during a drain new "
            "connections will be accepted and closed at once");
    }
    server->core_->start_reaper();
    return server;
}

void Server::shutdown(std::chrono::milliseconds grace) {
    std::lock_guard lock(shutdown_mutex_);
    if (stopped_) return;
    stopped_ = true;
    const auto deadline = std::chrono::steady_clock::now() + grace;

    if (listen_fd_ >= 0) close_listener(listen_fd_);
    core_->begin_drain();
    while (!core_->quiet() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    core_->stop_reaper();
    core_->pool.stop();
    if (core_->long_pool) core_->long_pool->stop();
    core_->close_all();  // from here on, a late answer is dropped, never sent to Pistache
    try {
        endpoint_->shutdown();
    } catch (const std::exception& e) {
        spdlog::warn("http: stopping Pistache: {}", e.what());
    }
}

Server::~Server() {
    if (core_ && endpoint_) shutdown(std::chrono::milliseconds(0));
    if (core_) {
        core_->pool.stop();
        if (core_->long_pool) core_->long_pool->stop();
        core_->pool.join();  // a handler past its grace still returns here
        if (core_->long_pool) core_->long_pool->join();
    }
    endpoint_.reset();
    core_.reset();
}

}  // namespace orchagent::http
