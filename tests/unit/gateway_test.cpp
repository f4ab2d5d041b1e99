// The agent gateway without a jail: service keys and their peer binding, nested downstream
// budgets, and the forwarder between a listener (here on the host's loopback, in a run on
// the jail's) and an upstream echo server standing in for the daemon's HTTP listener.
#include "runtime/gateway.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace orchagent::runtime {
namespace {

using namespace std::chrono_literals;

UniqueFd listen_loopback(uint16_t& port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::listen(fd.get(), 16), 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    return fd;
}

UniqueFd connect_to(uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return {};
    return fd;
}

// Reads until `want` bytes, EOF, an error or the timeout. Sets `eof` when the peer closed.
std::string read_some(int fd, size_t want, bool* eof = nullptr,
                      std::chrono::milliseconds timeout = 3s) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < want) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) != 1) break;
        char buf[65536];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) {
            if (eof) *eof = true;
            break;
        }
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// Stands in for the daemon's HTTP listener: echoes every connection, half-closes at EOF,
// and remembers each connection's peer address (what Request::peer would say).
class EchoServer {
  public:
    EchoServer() : listener_(listen_loopback(port_)) {
        thread_ = std::thread([this] {
            for (;;) {
                int c = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
                if (c < 0 || stop_) {
                    if (c >= 0) ::close(c);
                    return;
                }
                sockaddr_in peer{};
                socklen_t len = sizeof peer;
                ::getpeername(c, reinterpret_cast<sockaddr*>(&peer), &len);
                char ip[INET_ADDRSTRLEN] = {};
                ::inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof ip);
                {
                    std::lock_guard lock(mutex_);
                    peers_.push_back(std::string(ip) + ":" + std::to_string(ntohs(peer.sin_port)));
                }
                workers_.emplace_back([c] {
                    char buf[65536];
                    ssize_t n;
                    while ((n = ::read(c, buf, sizeof buf)) > 0) {
                        if (::send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
                    }
                    ::shutdown(c, SHUT_WR);
                    ::close(c);
                });
            }
        });
    }
    ~EchoServer() {
        stop_ = true;
        UniqueFd wake = connect_to(port_);
        thread_.join();
        for (auto& w : workers_) w.join();
    }
    uint16_t port() const { return port_; }
    std::vector<std::string> peers() {
        std::lock_guard lock(mutex_);
        return peers_;
    }

  private:
    uint16_t port_ = 0;
    UniqueFd listener_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::vector<std::string> peers_;
};

std::shared_ptr<ServiceGrant> grant_for(const std::string& run_id, int64_t budget = 0) {
    auto g = std::make_shared<ServiceGrant>();
    g->run_id = run_id;
    g->budget = std::make_shared<DownstreamBudget>(budget, nullptr);
    return g;
}

TEST(ServiceKeys, AKeyIsGoodOnlyFromItsOwnRunsConnectionsUntilRevoked) {
    ServiceKeys keys;
    const std::string key = keys.mint(grant_for("run_a"));
    const std::string other = keys.mint(grant_for("run_b"));
    EXPECT_TRUE(key.starts_with("sk_svc_"));
    EXPECT_EQ(key.size(), 7u + 64u);
    EXPECT_NE(key, other);
    keys.bind_peer("127.0.0.1:4000", "run_a");
    keys.bind_peer("127.0.0.1:4001", "run_b");
    ASSERT_NE(keys.find(key, "127.0.0.1:4000"), nullptr);
    EXPECT_EQ(keys.find(key, "127.0.0.1:4000")->run_id, "run_a");
    EXPECT_EQ(keys.find(key, "127.0.0.1:4001"), nullptr);  // another run's connection
    EXPECT_EQ(keys.find(key, "127.0.0.1:9999"), nullptr);  // not a gateway connection
    EXPECT_EQ(keys.find("sk_live_" + key.substr(7), "127.0.0.1:4000"), nullptr);
    keys.unbind_peer("127.0.0.1:4000");
    EXPECT_EQ(keys.find(key, "127.0.0.1:4000"), nullptr);
    keys.bind_peer("127.0.0.1:4000", "run_a");
    keys.revoke(key);
    EXPECT_EQ(keys.find(key, "127.0.0.1:4000"), nullptr);
    EXPECT_EQ(keys.live_keys(), 1u);
}

TEST(DownstreamBudget, NestedBudgetsSpendTheirAncestorsToo) {
    auto top = std::make_shared<DownstreamBudget>(7, nullptr);
    DownstreamBudget nested(10, top);
    EXPECT_TRUE(nested.take(0));
    EXPECT_TRUE(nested.take(5));
    EXPECT_EQ(top->remaining(), 2);
    EXPECT_EQ(nested.remaining(), 5);
    EXPECT_FALSE(nested.take(5));  // the top has 2 left: nothing is taken anywhere
    EXPECT_EQ(nested.remaining(), 5);
    EXPECT_EQ(top->remaining(), 2);
    EXPECT_TRUE(top->take(2));
    EXPECT_FALSE(top->take(1));
}

class GatewayForwarder : public ::testing::Test {
  protected:
    void make(GatewayOptions options = {}) {
        auto g = Gateway::create(options);
        ASSERT_TRUE(g.has_value()) << g.error().message();
        gateway_ = std::move(*g);
        ASSERT_TRUE(gateway_->set_upstream("127.0.0.1", echo_.port()).has_value());
    }
    // A session whose listener is on the host's loopback (a run's is in its jail).
    Gateway::Session open_with_listener(const std::string& run_id, uint16_t& port) {
        Gateway::Session session = gateway_->open(grant_for(run_id));
        session.run_gateway().attach(listen_loopback(port));
        return session;
    }
    EchoServer echo_;
    std::unique_ptr<Gateway> gateway_;
};

TEST_F(GatewayForwarder, ForwardsBothWaysAndBindsTheKeyToItsConnections) {
    make();
    uint16_t port = 0;
    std::optional<Gateway::Session> session(open_with_listener("run_x", port));
    const RunGateway& run = session->run_gateway();
    ASSERT_EQ(run.env.size(), 2u);
    EXPECT_EQ(run.env[0], (std::pair<std::string, std::string>("ORCHAGENT_GATEWAY_URL",
                                                               "http://127.0.0.1:8765")));
    EXPECT_EQ(run.env[1].first, "ORCHAGENT_SERVICE_KEY");
    EXPECT_EQ(run.env[1].second, session->key());
    EXPECT_EQ(run.port, 8765);

    UniqueFd client = connect_to(port);
    ASSERT_TRUE(client);
    const std::string big(300'000, 'x');  // several buffers' worth each way
    std::thread writer([&] {
        ASSERT_EQ(::send(client.get(), big.data(), big.size(), MSG_NOSIGNAL),
                  static_cast<ssize_t>(big.size()));
    });
    EXPECT_EQ(read_some(client.get(), big.size()), big);
    writer.join();
    // The upstream saw the forwarder's connection; the key works from there only.
    auto peers = echo_.peers();
    ASSERT_EQ(peers.size(), 1u);
    ASSERT_NE(gateway_->keys().find(session->key(), peers[0]), nullptr);
    EXPECT_EQ(gateway_->stats().connections, 1u);
    // A half-close passes through: the echo server sees EOF and closes; so do we.
    ::shutdown(client.get(), SHUT_WR);
    bool eof = false;
    EXPECT_EQ(read_some(client.get(), 1, &eof), "");
    EXPECT_TRUE(eof);
    for (int i = 0; i < 100 && gateway_->stats().connections > 0; ++i)
        std::this_thread::sleep_for(10ms);
    EXPECT_EQ(gateway_->stats().connections, 0u);
    EXPECT_EQ(gateway_->keys().find(session->key(), peers[0]), nullptr);  // unbound at close

    // The run ends: its listener, connections and key go before the session's destructor returns.
    UniqueFd open_conn = connect_to(port);
    ASSERT_TRUE(open_conn);
    ASSERT_EQ(::send(open_conn.get(), "ping", 4, MSG_NOSIGNAL), 4);
    EXPECT_EQ(read_some(open_conn.get(), 4), "ping");
    const std::string key = session->key();
    run.close();  // what the executor does when the program is gone
    EXPECT_EQ(gateway_->stats().runs, 0u);
    EXPECT_EQ(gateway_->stats().listeners, 0u);
    EXPECT_EQ(gateway_->stats().connections, 0u);
    EXPECT_EQ(gateway_->keys().live_keys(), 0u);
    eof = false;
    read_some(open_conn.get(), 1, &eof);
    EXPECT_TRUE(eof);
    EXPECT_FALSE(connect_to(port));  // nobody listens any more
    session.reset();                 // closing again is harmless
    EXPECT_EQ(gateway_->stats().runs, 0u);
}

TEST_F(GatewayForwarder, ConnectionsAndBytesAreCappedPerRun) {
    make({.max_connections = 2, .max_total_connections = 4, .max_bytes = 1 << 20});
    uint16_t port = 0;
    Gateway::Session session = open_with_listener("run_y", port);
    UniqueFd a = connect_to(port), b = connect_to(port), c = connect_to(port);
    ASSERT_TRUE(a && b && c);
    for (int fd : {a.get(), b.get()}) {
        ASSERT_EQ(::send(fd, "hi", 2, MSG_NOSIGNAL), 2);
        EXPECT_EQ(read_some(fd, 2), "hi");
    }
    // The third is over the concurrent cap: closed at once.
    bool eof = false;
    ::send(c.get(), "hi", 2, MSG_NOSIGNAL);
    EXPECT_EQ(read_some(c.get(), 2, &eof), "");
    EXPECT_TRUE(eof);
    // Bytes: past 1 MiB in one direction the connection is cut.
    const std::string flood(2 << 20, 'f');
    std::thread writer([&] { ::send(a.get(), flood.data(), flood.size(), MSG_NOSIGNAL); });
    eof = false;
    const std::string echoed = read_some(a.get(), flood.size(), &eof, 5s);
    ::shutdown(a.get(), SHUT_RDWR);
    writer.join();
    EXPECT_LE(echoed.size(), (size_t{1} << 20) + 65536);
    EXPECT_TRUE(eof);
    // The run is over its byte budget: no new connection is served.
    UniqueFd d = connect_to(port);
    ASSERT_TRUE(d);
    eof = false;
    ::send(d.get(), "hi", 2, MSG_NOSIGNAL);
    EXPECT_EQ(read_some(d.get(), 2, &eof), "");
    EXPECT_TRUE(eof);
}

TEST_F(GatewayForwarder, WithoutAnUpstreamConnectionsAreRefused) {
    auto g = Gateway::create();
    ASSERT_TRUE(g.has_value());
    gateway_ = std::move(*g);
    EXPECT_FALSE(gateway_->set_upstream("example.org", 80).has_value());
    uint16_t port = 0;
    Gateway::Session session = open_with_listener("run_z", port);
    UniqueFd c = connect_to(port);
    ASSERT_TRUE(c);
    bool eof = false;
    EXPECT_EQ(read_some(c.get(), 1, &eof), "");
    EXPECT_TRUE(eof);
}

}  // namespace
}  // namespace orchagent::runtime
