// A small HTTP/1.1 server for tests that stand in for a service the daemon calls out to
// (Stripe's API, an OpenAI-compatible LLM endpoint). One thread accepts; each connection
// carries one request (Content-Length bodies only) and is closed after the answer.
// Every request is kept for the test to inspect.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace orchagent::testing {

struct FakeRequest {
    std::string method;
    std::string target;                         // path and query
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
};

struct FakeResponse {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    int delay_ms = 0;  // wait this long before answering
};

class FakeHttpServer {
  public:
    using Handler = std::function<FakeResponse(const FakeRequest&)>;

    explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket");
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 64) != 0) {
            throw std::runtime_error("bind/listen");
        }
        socklen_t len = sizeof addr;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { accept_loop(); });
    }
    ~FakeHttpServer() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        for (auto& t : connections_) t.join();
        ::close(fd_);
    }
    FakeHttpServer(const FakeHttpServer&) = delete;
    FakeHttpServer& operator=(const FakeHttpServer&) = delete;

    int port() const { return port_; }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

    std::vector<FakeRequest> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    void accept_loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            std::lock_guard lock(mutex_);
            connections_.emplace_back([this, c] { serve(c); });
        }
    }

    void serve(int c) {
        std::string data;
        char buf[65536];
        size_t head_end = std::string::npos;
        size_t need = 0;
        while (true) {
            if (head_end == std::string::npos) {
                head_end = data.find("\r\n\r\n");
                if (head_end != std::string::npos) need = head_end + 4 + content_length(data.substr(0, head_end));
            }
            if (head_end != std::string::npos && data.size() >= need) break;
            const ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0) {
                ::close(c);
                return;
            }
            data.append(buf, static_cast<size_t>(n));
        }
        FakeRequest request;
        const std::string head = data.substr(0, head_end);
        size_t line_end = head.find("\r\n");
        const std::string first = head.substr(0, line_end);
        const size_t sp1 = first.find(' ');
        const size_t sp2 = first.find(' ', sp1 + 1);
        request.method = first.substr(0, sp1);
        request.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
        size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
        while (pos < head.size()) {
            size_t end = head.find("\r\n", pos);
            if (end == std::string::npos) end = head.size();
            const std::string line = head.substr(pos, end - pos);
            const size_t colon = line.find(':');
            if (colon != std::string::npos) {
                std::string name = line.substr(0, colon);
                std::ranges::transform(name, name.begin(), [](unsigned char ch) { return std::tolower(ch); });
                size_t v = colon + 1;
                while (v < line.size() && line[v] == ' ') ++v;
                request.headers[name] = line.substr(v);
            }
            pos = end + 2;
        }
        request.body = data.substr(head_end + 4, need - head_end - 4);
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(request);
        }
        const FakeResponse response = handler_(request);
        if (response.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(response.delay_ms));
        const std::string out = "HTTP/1.1 " + std::to_string(response.status) + " X\r\nContent-Type: " +
                                response.content_type + "\r\nContent-Length: " +
                                std::to_string(response.body.size()) + "\r\nConnection: close\r\n\r\n" +
                                response.body;
        size_t sent = 0;
        while (sent < out.size()) {
            const ssize_t n = ::send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<size_t>(n);
        }
        ::close(c);
    }

    static size_t content_length(const std::string& head) {
        std::string lower = head;
        std::ranges::transform(lower, lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
        const size_t at = lower.find("\r\ncontent-length:");
        if (at == std::string::npos) return 0;
        return static_cast<size_t>(std::stoull(lower.substr(at + 17)));
    }

    Handler handler_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::thread> connections_;
    std::vector<FakeRequest> requests_;
};

}  // namespace orchagent::testing
