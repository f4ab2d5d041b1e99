#include "core/http_client.hpp"

#include <gtest/gtest.h>

#include "tests/support/fake_http.hpp"

namespace orchagent {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;

TEST(HttpClient, PostsHeadersAndBodyAndReadsTheAnswer) {
    FakeHttpServer server([](const FakeRequest& r) {
        return FakeResponse{.status = 201, .body = "{\"echo\":\"" + r.body + "\"}"};
    });
    auto r = http_client::send({.url = server.url() + "/v1/x?y=1",
                                .headers = {{"Authorization", "Bearer k"}},
                                .body = "a=b"});
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->status, 201);
    EXPECT_EQ(r->body, "{\"echo\":\"a=b\"}");
    EXPECT_EQ(r->header("content-type"), "application/json");
    const auto seen = server.requests();
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].target, "/v1/x?y=1");
    EXPECT_EQ(seen[0].headers.at("authorization"), "Bearer k");
}

TEST(HttpClient, TimeoutRefusalOversizeAndBadUrlAreErrors) {
    FakeHttpServer slow([](const FakeRequest&) { return FakeResponse{.body = "{}", .delay_ms = 1500}; });
    auto late = http_client::send({.url = slow.url(), .timeout = std::chrono::milliseconds(200)});
    ASSERT_FALSE(late.has_value());
    EXPECT_EQ(late.error().code(), ErrorCode::kServiceUnavailable);

    FakeHttpServer big([](const FakeRequest&) { return FakeResponse{.body = std::string(5000, 'x')}; });
    auto over = http_client::send({.url = big.url(), .max_response_bytes = 1000});
    ASSERT_FALSE(over.has_value());
    EXPECT_NE(over.error().message().find("more than 1000 bytes"), std::string::npos);

    auto refused = http_client::send({.url = "http://127.0.0.1:1/"});
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().code(), ErrorCode::kServiceUnavailable);

    auto file = http_client::send({.url = "file:///etc/passwd"});
    ASSERT_FALSE(file.has_value());
    EXPECT_EQ(file.error().code(), ErrorCode::kInvalidInput);
}

TEST(HttpClient, FormEncoding) {
    EXPECT_EQ(http_client::form_encode({{"line_items[0][quantity]", "1"}, {"u", "https://x/?a=b c"}}),
              "line_items%5B0%5D%5Bquantity%5D=1&u=https%3A%2F%2Fx%2F%3Fa%3Db%20c");
}

}  // namespace
}  // namespace orchagent
