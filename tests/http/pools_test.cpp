// The two handler pools: routes marked HandlerPool::kLong (agent calls, uploads) run on a pool
// of their own, so handlers that hold their thread for long never delay the short routes.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "api/http/metrics.hpp"
#include "api/http/router.hpp"
#include "api/http/server.hpp"
#include "core/http_client.hpp"

namespace orchagent::http {
namespace {

TEST(HandlerPools, BusyLongHandlersDoNotDelayShortRoutes) {
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    std::atomic<int> slow_started{0};
    auto router = std::make_shared<Router>();
    router->add(
        "GET", "/slow",
        [&](Request&) {
            slow_started++;
            released.wait();
            Response r;
            r.body = "slow";
            return r;
        },
        kDefaultMaxBody, BodyStorage::kAuto, HandlerPool::kLong);
    router->add("GET", "/fast", [](Request&) {
        Response r;
        r.body = "fast";
        return r;
    });
    ServerOptions options;
    options.port = 0;
    options.workers = 1;
    options.long_workers = 2;
    auto server = Server::start(router, options, std::make_shared<Metrics>());
    ASSERT_TRUE(server) << server.error().message();
    const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());

    // Three slow requests: two hold the long pool's threads, the third waits in its queue.
    std::vector<std::future<Result<http_client::Response>>> slow;
    for (int i = 0; i < 3; ++i) {
        slow.push_back(std::async(std::launch::async, [&] {
            return http_client::send({.method = "GET", .url = base + "/slow", .timeout = std::chrono::seconds(60)});
        }));
    }
    while (slow_started.load() < 2) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // The short route answers while every long thread is held (it would wait for them, and
    // time out, if both kinds shared one pool).
    for (int i = 0; i < 5; ++i) {
        auto fast = http_client::send({.method = "GET", .url = base + "/fast", .timeout = std::chrono::seconds(5)});
        ASSERT_TRUE(fast) << fast.error().message();
        EXPECT_EQ(fast->status, 200);
        EXPECT_EQ(fast->body, "fast");
    }
    EXPECT_EQ(slow_started.load(), 2);
    release.set_value();
    for (auto& s : slow) {
        auto r = s.get();
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "slow");
    }
    EXPECT_EQ(slow_started.load(), 3);
    (*server)->shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace orchagent::http
