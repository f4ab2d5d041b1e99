// The route table and the path/query decoding it matches against.
#include "api/http/router.hpp"

#include <gtest/gtest.h>

#include "api/http/wire.hpp"

namespace orchagent::http {
namespace {

Handler named(std::string name) {
    return [name](Request&) {
        Response r;
        r.body = name;
        return r;
    };
}

std::string run(const RouteMatch& m) {
    Request request;
    return m.route->handler(request).body;
}

TEST(Router, LiteralSegmentsWinOverParams) {
    Router router;
    router.add("GET", "/agents/{id}", named("param"));
    router.add("GET", "/agents/x", named("literal"));
    router.add("GET", "/agents/{id}/runs/latest", named("param-literal"));
    router.add("GET", "/agents/{id}/runs/{run}", named("param-param"));
    router.add("GET", "/agents/x/runs/{run}", named("literal-param"));

    EXPECT_EQ(run(router.match("GET", "/agents/x")), "literal");
    auto m = router.match("GET", "/agents/y");
    ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
    EXPECT_EQ(run(m), "param");
    ASSERT_EQ(m.params.size(), 1u);
    EXPECT_EQ(m.params[0], (std::pair<std::string, std::string>{"id", "y"}));
    // The leftmost difference decides: literal "x" beats {id} even though the other route
    // has a literal later on.
    EXPECT_EQ(run(router.match("GET", "/agents/x/runs/latest")), "literal-param");
    EXPECT_EQ(run(router.match("GET", "/agents/y/runs/latest")), "param-literal");
    auto pp = router.match("GET", "/agents/y/runs/7");
    EXPECT_EQ(run(pp), "param-param");
    EXPECT_EQ(pp.params,
              (std::vector<std::pair<std::string, std::string>>{{"id", "y"}, {"run", "7"}}));
}

TEST(Router, ParamsMatchOneNonEmptySegment) {
    Router router;
    router.add("GET", "/agents/{id}", named("a"));
    EXPECT_EQ(router.match("GET", "/agents/").kind, RouteMatch::Kind::kNotFound);
    EXPECT_EQ(router.match("GET", "/agents").kind, RouteMatch::Kind::kNotFound);
    EXPECT_EQ(router.match("GET", "/agents/a/b").kind, RouteMatch::Kind::kNotFound);
    EXPECT_EQ(router.match("GET", "/agents/a b").kind, RouteMatch::Kind::kFound);
    EXPECT_EQ(router.match("GET", "agents/a").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, RootAndTrailingSlashAreDistinct) {
    Router router;
    router.add("GET", "/", named("root"));
    router.add("GET", "/a", named("a"));
    EXPECT_EQ(run(router.match("GET", "/")), "root");
    EXPECT_EQ(run(router.match("GET", "/a")), "a");
    EXPECT_EQ(router.match("GET", "/a/").kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, WrongMethodListsAllowedMethods) {
    Router router;
    router.add("GET", "/agents/{id}", named("get"));
    router.add("DELETE", "/agents/{id}", named("delete"));
    router.add("POST", "/agents/x", named("post"));
    auto m = router.match("PUT", "/agents/x");
    ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
    EXPECT_EQ(m.allow, "GET, DELETE, POST, HEAD");
    // A method takes the most specific route that has it, not the most specific route.
    EXPECT_EQ(run(router.match("DELETE", "/agents/x")), "delete");
    EXPECT_EQ(run(router.match("POST", "/agents/x")), "post");
}

TEST(Router, HeadFallsBackToGet) {
    Router router;
    router.add("GET", "/a", named("get"));
    router.add("GET", "/b", named("get-b"));
    router.add("HEAD", "/b", named("head-b"));
    EXPECT_EQ(run(router.match("HEAD", "/a")), "get");
    EXPECT_EQ(run(router.match("HEAD", "/b")), "head-b");
}

TEST(Router, RoutesInRegistrationOrderWithLimits) {
    Router router;
    router.add("POST", "/agents/{id}/upload", named("u"), 50 << 20);
    router.add("GET", "/agents", named("l"));
    auto routes = router.routes();
    ASSERT_EQ(routes.size(), 2u);
    EXPECT_EQ(routes[0].method, "POST");
    EXPECT_EQ(routes[0].pattern, "/agents/{id}/upload");
    EXPECT_EQ(routes[0].max_body_bytes, 50u << 20);
    EXPECT_EQ(routes[1].max_body_bytes, kDefaultMaxBody);
    EXPECT_EQ(router.max_body("POST", "/agents/7/upload"), 50u << 20);
    EXPECT_EQ(router.max_body("POST", "/nowhere"), kDefaultMaxBody);
    EXPECT_TRUE(router.check().has_value());
}

TEST(Router, BadPatternsAndClashesAreReported) {
    for (const std::string& pattern :
         std::vector<std::string>{"agents", "/a/{}", "/a/{x", "/a/x}", "/a/{x}/{x}", "/a/{x-y}"}) {
        Router router;
        router.add("GET", pattern, named("x"));
        EXPECT_FALSE(router.check().has_value()) << pattern;
        EXPECT_TRUE(router.routes().empty()) << pattern;
    }
    Router clash;
    clash.add("GET", "/a/{x}", named("1"));
    clash.add("GET", "/a/{y}", named("2"));
    EXPECT_FALSE(clash.check().has_value());
    Router method;
    method.add("get", "/a", named("1"));
    EXPECT_FALSE(method.check().has_value());
}

TEST(Router, SplitPath) {
    EXPECT_EQ(split_path("/"), std::vector<std::string_view>{});
    EXPECT_EQ(split_path("/a/b"), (std::vector<std::string_view>{"a", "b"}));
    EXPECT_EQ(split_path("/a//b/"), (std::vector<std::string_view>{"a", "", "b", ""}));
}

TEST(PathDecode, DecodesAndRefusesTraversal) {
    EXPECT_EQ(*wire::decode_path("/a%20b/c%2Fd"), "/a b/c/d");
    EXPECT_EQ(*wire::decode_path("/a+b"), "/a+b");  // '+' is only a space in queries
    EXPECT_EQ(*wire::decode_path("/.well-known/x"), "/.well-known/x");
    EXPECT_EQ(*wire::decode_path("/a..b/..c"), "/a..b/..c");
    for (const std::string& bad :
         std::vector<std::string>{"/..", "/a/../b", "/a/%2E%2E/b", "/./a", "/a%00", "/a%", "/a%2",
                                  "/a%g0", "relative", ""}) {
        auto r = wire::decode_path(bad);
        ASSERT_FALSE(r.has_value()) << bad;
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    }
}

TEST(PathDecode, QueryPlusIsSpace) {
    auto q = wire::decode_query("a=1+2&&b=%26%3D&c&=v&d=");
    ASSERT_TRUE(q.has_value());
    EXPECT_EQ(*q, (wire::Pairs{{"a", "1 2"}, {"b", "&="}, {"c", ""}, {"", "v"}, {"d", ""}}));
    EXPECT_FALSE(wire::decode_query("a=%zz").has_value());
}

TEST(PathDecode, HeadParsing) {
    auto head = wire::parse_head(
        "POST http://example.com/x/y?z=1 HTTP/1.1\r\nHost: e\r\nContent-Length: 0010\r\n"
        "Connection: Keep-Alive, Close\r\nEXPECT: 100-Continue\r\n\r\n");
    ASSERT_TRUE(head.has_value()) << head.error().message();
    EXPECT_EQ(head->method, "POST");
    EXPECT_EQ(head->path, "/x/y");
    EXPECT_EQ(head->raw_query, "z=1");
    EXPECT_EQ(head->content_length, 10u);
    EXPECT_FALSE(head->keep_alive);
    EXPECT_TRUE(head->expect_continue);
    EXPECT_EQ(head->headers[3].first, "expect");

    auto huge = wire::parse_head(
        "POST / HTTP/1.1\r\nHost: e\r\nContent-Length: "
        "99999999999999999999999\r\n\r\n");
    ASSERT_FALSE(huge.has_value());
    EXPECT_EQ(huge.error().code(), ErrorCode::kDocumentTooLarge);
}

TEST(PathDecode, ChunkedDecoder) {
    wire::ChunkedDecoder decoder(10);
    std::string out;
    std::string_view data = "3\r\nabc\r\n0\r\n\r\nNEXT";
    EXPECT_EQ(decoder.feed(data, &out), wire::ChunkedDecoder::Status::kDone);
    EXPECT_EQ(out, "abc");
    EXPECT_EQ(data, "NEXT");  // the next request's bytes are left alone

    wire::ChunkedDecoder small(10);
    std::string_view big = "b\r\n";
    EXPECT_EQ(small.feed(big, nullptr), wire::ChunkedDecoder::Status::kTooLarge);
    wire::ChunkedDecoder bad(10);
    std::string_view junk = "3\r\nabcXY";
    EXPECT_EQ(bad.feed(junk, nullptr), wire::ChunkedDecoder::Status::kMalformed);
    wire::ChunkedDecoder overflow(UINT64_MAX);
    std::string_view digits = "ffffffffffffffffff\r\n";
    EXPECT_EQ(overflow.feed(digits, nullptr), wire::ChunkedDecoder::Status::kTooLarge);
}

}  // namespace
}  // namespace orchagent::http
