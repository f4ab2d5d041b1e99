#include "runtime/gateway.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstring>
#include <set>

namespace orchagent::runtime {
namespace {

constexpr size_t kBuffer = 64 << 10;  // per connection and direction
constexpr int kAcceptBatch = 64;      // connections taken per listener event

// epoll tags: the object's id and what it is.
enum Kind : uint64_t { kWake = 0, kListener = 1, kDown = 2, kUp = 3 };
uint64_t tag(uint64_t id, Kind kind) { return (id << 2) | kind; }

// Sends as much of `buffer` as the socket takes. False on a real error.
bool flush(int fd, std::string& buffer) {
    size_t sent = 0;
    while (sent < buffer.size()) {
        ssize_t n = ::send(fd, buffer.data() + sent, buffer.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return false;
        }
    }
    buffer.erase(0, sent);
    return true;
}

}  // namespace

struct Gateway::Run {
    std::string run_id;
    UniqueFd listener;
    std::set<uint64_t> conns;
    uint64_t bytes_up = 0;    // agent -> daemon
    uint64_t bytes_down = 0;  // daemon -> agent
    uint32_t total = 0;       // connections accepted
};

// One agent connection ("down", in the jail's namespace) and its upstream twin ("up", to the
// daemon's HTTP listener).
struct Gateway::Conn {
    uint64_t run = 0;
    UniqueFd down, up;
    std::string peer;  // the upstream socket's local address, bound in keys_
    bool connecting = true;
    std::string to_up, to_down;
    bool down_eof = false, up_eof = false;    // that side sent FIN
    bool up_shut = false, down_shut = false;  // we sent FIN to that side
    bool up_hup = false;                      // the daemon's side is closed both ways
    bool down_registered = false, up_registered = false;
    uint32_t down_mask = 0, up_mask = 0;
};

Gateway::Gateway(GatewayOptions options) : options_(options) {}

Result<std::unique_ptr<Gateway>> Gateway::create(GatewayOptions options) {
    if (options.port == 0) return fail(ErrorCode::kInvalidInput, "gateway.port: 1 to 65535");
    if (options.max_connections == 0 || options.max_total_connections == 0 ||
        options.max_bytes == 0) {
        return fail(ErrorCode::kInvalidInput, "gateway limits: each at least 1");
    }
    std::unique_ptr<Gateway> g(new Gateway(options));
    g->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!g->epoll_) return fail_errno("epoll_create1", "gateway");
    g->wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!g->wake_) return fail_errno("eventfd", "gateway");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(0, kWake);
    if (::epoll_ctl(g->epoll_.get(), EPOLL_CTL_ADD, g->wake_.get(), &ev) != 0) {
        return fail_errno("epoll_ctl", "gateway wake fd");
    }
    g->thread_ = std::thread([p = g.get()] { p->loop(); });
    return g;
}

Gateway::~Gateway() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    std::vector<uint64_t> ids;
    for (const auto& [id, run] : runs_) ids.push_back(id);
    for (uint64_t id : ids) {
        auto it = runs_.find(id);
        std::vector<uint64_t> conns(it->second->conns.begin(), it->second->conns.end());
        for (uint64_t c : conns) close_conn(c);
    }
    runs_.clear();
}

Result<void> Gateway::set_upstream(const std::string& host, uint16_t port) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    const std::string ip =
        host.empty() || host == "0.0.0.0" || host == "localhost" ? "127.0.0.1" : host;
    if (port == 0 || ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
        return fail(
            ErrorCode::kInvalidInput,
            fmt::format("gateway upstream '{}:{}': an IPv4 address and a port", host, port));
    }
    std::lock_guard lock(mutex_);
    std::memcpy(&upstream_, &addr, sizeof addr);
    upstream_len_ = sizeof addr;
    have_upstream_ = true;
    return {};
}

Gateway::Session::Session(Session&& other) noexcept
    : gateway_(std::exchange(other.gateway_, nullptr)),
      id_(other.id_),
      key_(std::move(other.key_)),
      run_(std::move(other.run_)) {}

Gateway::Session::~Session() {
    if (gateway_ != nullptr) gateway_->close(id_, key_);
}

void Gateway::close(uint64_t run_id, const std::string& key) {
    // The key first: nothing the run started can authenticate once its run is over.
    keys_.revoke(key);
    detach(run_id);
}

Gateway::Session Gateway::open(std::shared_ptr<const ServiceGrant> grant) {
    uint64_t id;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
        auto run = std::make_unique<Run>();
        run->run_id = grant->run_id;
        runs_.emplace(id, std::move(run));
    }
    std::string key = keys_.mint(std::move(grant));
    RunGateway run;
    run.port = options_.port;
    run.env = {{"ORCHAGENT_GATEWAY_URL", fmt::format("http://127.0.0.1:{}", options_.port)},
               {"ORCHAGENT_SERVICE_KEY", key}};
    run.attach = [this, id](UniqueFd listener) { attach(id, std::move(listener)); };
    run.close = [this, id, key] { close(id, key); };
    return Session(this, id, std::move(key), std::move(run));
}

Gateway::Stats Gateway::stats() const {
    std::lock_guard lock(mutex_);
    Stats s;
    s.runs = runs_.size();
    s.connections = conns_.size();
    for (const auto& [id, run] : runs_) s.listeners += run->listener ? 1 : 0;
    return s;
}

void Gateway::attach(uint64_t run_id, UniqueFd listener) {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(run_id);
    if (it == runs_.end() || stopping_ || !listener) return;  // the listener closes here
    // Non-blocking: a connection reset between epoll and accept must not block the thread.
    const int flags = ::fcntl(listener.get(), F_GETFL);
    if (flags < 0 || ::fcntl(listener.get(), F_SETFL, flags | O_NONBLOCK) != 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag(run_id, kListener);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener.get(), &ev) != 0) return;
    it->second->listener = std::move(listener);
}

void Gateway::detach(uint64_t run_id) {
    std::lock_guard lock(mutex_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return;
    std::vector<uint64_t> conns(it->second->conns.begin(), it->second->conns.end());
    for (uint64_t c : conns) close_conn(c);
    if (it->second->listener) {
        // Removed before it closes: a spawning child may hold a copy of the fd until its
        // exec, and epoll forgets a file only when its last copy closes.
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second->listener.get(), nullptr);
    }
    runs_.erase(it);
}

void Gateway::loop() {
    epoll_event events[64];
    for (;;) {
        int n = ::epoll_wait(epoll_.get(), events, 64, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            return;
        }
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        for (int i = 0; i < n; ++i) {
            const uint64_t id = events[i].data.u64 >> 2;
            switch (static_cast<Kind>(events[i].data.u64 & 3)) {
                case kWake:
                    break;
                case kListener: {
                    // A stale event of a run detached in this batch finds nothing.
                    auto it = runs_.find(id);
                    if (it != runs_.end() && it->second->listener) accept_all(id, *it->second);
                    break;
                }
                case kDown:
                    on_side(id, false, events[i].events);
                    break;
                case kUp:
                    on_side(id, true, events[i].events);
                    break;
            }
        }
    }
}

void Gateway::accept_all(uint64_t run_id, Run& run) {
    for (int i = 0; i < kAcceptBatch; ++i) {
        UniqueFd down(
            ::accept4(run.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!down) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;  // EAGAIN: taken them all
        }
        // Over a limit: the connection is closed at once (the agent sees it reset or EOF).
        if (!have_upstream_ || run.conns.size() >= options_.max_connections ||
            run.total >= options_.max_total_connections || run.bytes_up >= options_.max_bytes ||
            run.bytes_down >= options_.max_bytes) {
            continue;
        }
        ++run.total;
        UniqueFd up(::socket(upstream_.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        if (!up) continue;
        const int connected =
            ::connect(up.get(), reinterpret_cast<const sockaddr*>(&upstream_), upstream_len_);
        if (connected != 0 && errno != EINPROGRESS) continue;
        // The daemon sees requests of this connection come from `local`: that is what binds
        // the run's key to its own gateway.
        sockaddr_in local{};
        socklen_t len = sizeof local;
        char ip[INET_ADDRSTRLEN] = {};
        if (::getsockname(up.get(), reinterpret_cast<sockaddr*>(&local), &len) != 0 ||
            ::inet_ntop(AF_INET, &local.sin_addr, ip, sizeof ip) == nullptr) {
            continue;
        }
        auto conn = std::make_unique<Conn>();
        conn->run = run_id;
        conn->down = std::move(down);
        conn->up = std::move(up);
        conn->connecting = connected != 0;
        conn->peer = fmt::format("{}:{}", ip, ntohs(local.sin_port));
        const uint64_t conn_id = next_id_++;
        keys_.bind_peer(conn->peer, run.run_id);
        run.conns.insert(conn_id);
        Conn& c = *conns_.emplace(conn_id, std::move(conn)).first->second;
        update(conn_id, c);
        if (!c.down_registered || !c.up_registered) close_conn(conn_id);
    }
}

void Gateway::on_side(uint64_t conn_id, bool up, uint32_t events) {
    auto it = conns_.find(conn_id);
    if (it == conns_.end()) return;  // closed earlier in this batch
    Conn& c = *it->second;
    Run& run = *runs_.at(c.run);
    if ((events & EPOLLERR) != 0) return close_conn(conn_id);
    if (up && c.connecting) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(c.up.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
            return close_conn(conn_id);
        }
        if ((events & (EPOLLOUT | EPOLLHUP)) == 0) return;
        c.connecting = false;
    }
    const int fd = up ? c.up.get() : c.down.get();
    std::string& inbox = up ? c.to_down : c.to_up;  // read here, for the other side
    bool& eof = up ? c.up_eof : c.down_eof;
    uint64_t& counted = up ? run.bytes_down : run.bytes_up;
    if ((events & (EPOLLIN | EPOLLHUP)) != 0 && !eof) {
        char chunk[16 << 10];
        while (inbox.size() < kBuffer) {
            ssize_t n = ::read(fd, chunk, std::min(sizeof chunk, kBuffer - inbox.size()));
            if (n > 0) {
                inbox.append(chunk, static_cast<size_t>(n));
                counted += static_cast<uint64_t>(n);
                if (counted > options_.max_bytes) return close_conn(conn_id);
            } else if (n == 0) {
                eof = true;
                break;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            } else {
                return close_conn(conn_id);
            }
        }
    }
    if ((events & EPOLLHUP) != 0) {
        // Closed both ways: an agent that is gone can take no answer; the daemon's side may
        // still have left an answer for the agent to read.
        if (!up) return close_conn(conn_id);
        c.up_hup = true;
    }
    if (!flush(c.down.get(), c.to_down)) return close_conn(conn_id);
    if (!c.connecting && !c.up_hup && !flush(c.up.get(), c.to_up)) return close_conn(conn_id);
    // Half-closes pass through once everything before them has.
    if (c.down_eof && c.to_up.empty() && !c.up_shut && !c.connecting) {
        ::shutdown(c.up.get(), SHUT_WR);
        c.up_shut = true;
    }
    if (c.up_eof && c.to_down.empty() && !c.down_shut) {
        ::shutdown(c.down.get(), SHUT_WR);
        c.down_shut = true;
    }
    const bool done = c.down_eof && c.up_eof && c.to_up.empty() && c.to_down.empty();
    if (done || (c.up_hup && c.up_eof && c.to_down.empty())) return close_conn(conn_id);
    update(conn_id, c);
}

void Gateway::update(uint64_t conn_id, Conn& c) {
    const uint32_t want_down = (c.down_eof || c.to_up.size() >= kBuffer ? 0u : uint32_t{EPOLLIN}) |
                               (c.to_down.empty() ? 0u : uint32_t{EPOLLOUT});
    uint32_t want_up = uint32_t{EPOLLOUT};
    if (!c.connecting) {
        want_up = (c.up_eof || c.to_down.size() >= kBuffer ? 0u : uint32_t{EPOLLIN}) |
                  (c.to_up.empty() || c.up_hup ? 0u : uint32_t{EPOLLOUT});
    }
    auto apply = [&](int fd, bool& registered, uint32_t& mask, uint32_t want, Kind kind,
                     bool hung_up) {
        // A hung-up socket reports EPOLLHUP whatever the mask: with nothing to do on it, it
        // leaves the set, or the thread would spin until the other side catches up.
        if (registered && want == 0 && hung_up) {
            ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
            registered = false;
            mask = 0;
            return;
        }
        if (registered && mask == want) return;
        if (!registered && want == 0 && hung_up) return;
        epoll_event ev{};
        ev.events = want;
        ev.data.u64 = tag(conn_id, kind);
        if (::epoll_ctl(epoll_.get(), registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0) {
            registered = true;
            mask = want;
        }
    };
    apply(c.down.get(), c.down_registered, c.down_mask, want_down, kDown, false);
    apply(c.up.get(), c.up_registered, c.up_mask, want_up, kUp, c.up_hup || c.up_eof);
}

void Gateway::close_conn(uint64_t conn_id) {
    auto it = conns_.find(conn_id);
    if (it == conns_.end()) return;
    Conn& c = *it->second;
    // Out of the set before the fds close (a spawning child may hold copies until exec).
    if (c.down_registered) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.down.get(), nullptr);
    if (c.up_registered) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.up.get(), nullptr);
    keys_.unbind_peer(c.peer);
    if (auto run = runs_.find(c.run); run != runs_.end()) run->second->conns.erase(conn_id);
    conns_.erase(it);
}

}  // namespace orchagent::runtime
