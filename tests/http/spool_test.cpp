// The pieces of body spooling that need no server: Request's body readers over memory and
// over a file, the spool file itself, and which routes spool (server_test.cpp, SpoolTest,
// drives the whole path over a socket).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "api/http/connection.hpp"
#include "api/http/router.hpp"
#include "api/http/types.hpp"

namespace orchagent::http {
namespace {

std::string pattern_bytes(size_t n) {
    std::string out(n, '\0');
    for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>((i * 7 + i / 251) & 0xff);
    return out;
}

// A spooled body holding `bytes`, made the way the server makes one.
std::shared_ptr<BodyFile> file_with(const std::string& bytes) {
    auto fd = open_spool_file("");
    EXPECT_TRUE(fd.has_value());
    if (!fd) return nullptr;
    EXPECT_EQ(::write(fd->get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    auto file = std::make_shared<BodyFile>();
    file->fd = std::move(*fd);
    file->size = bytes.size();
    return file;
}

struct Chunks {
    std::string joined;
    std::vector<size_t> sizes;
};

Result<Chunks> chunks_of(const Request& request) {
    Chunks out;
    auto r = request.for_each_body_chunk([&](std::string_view chunk) -> Result<void> {
        out.joined.append(chunk);
        out.sizes.push_back(chunk.size());
        return {};
    });
    if (!r) return std::unexpected(r.error());
    return out;
}

TEST(RequestBody, MemoryBodyComesIn64KiBPieces) {
    Request request;
    request.body = pattern_bytes(2 * kBodyChunk + 5);
    auto chunks = chunks_of(request);
    ASSERT_TRUE(chunks);
    EXPECT_EQ(chunks->joined, request.body);
    EXPECT_EQ(chunks->sizes, (std::vector<size_t>{kBodyChunk, kBodyChunk, 5}));
    EXPECT_EQ(request.body_size(), request.body.size());

    Request empty;
    auto none = chunks_of(empty);
    ASSERT_TRUE(none);
    EXPECT_TRUE(none->sizes.empty());
}

TEST(RequestBody, SpooledBodyIsReadBackExactly) {
    const std::string bytes = pattern_bytes(3 * kBodyChunk + 12345);
    Request request;
    request.body_file = file_with(bytes);
    ASSERT_TRUE(request.body_file);
    EXPECT_EQ(request.body_size(), bytes.size());
    // Twice: reading uses pread, so the descriptor's offset does not matter.
    for (int round = 0; round < 2; ++round) {
        auto chunks = chunks_of(request);
        ASSERT_TRUE(chunks);
        EXPECT_TRUE(chunks->joined == bytes);
        EXPECT_EQ(chunks->sizes.size(), 4u);
        for (size_t s : chunks->sizes) EXPECT_LE(s, kBodyChunk);
    }
}

TEST(RequestBody, TheFirstErrorStopsTheReading) {
    Request request;
    request.body_file = file_with(pattern_bytes(5 * kBodyChunk));
    int calls = 0;
    auto r = request.for_each_body_chunk([&](std::string_view) -> Result<void> {
        if (++calls == 2) return fail(ErrorCode::kInvalidInput, "stop here");
        return {};
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "stop here");
    EXPECT_EQ(calls, 2);
}

TEST(RequestBody, FileShorterThanItsSizeIsAnError) {
    Request request;
    auto file = file_with("abc");
    ASSERT_TRUE(file);
    file->size = 10;
    request.body_file = file;
    auto chunks = chunks_of(request);
    ASSERT_FALSE(chunks);
    EXPECT_EQ(chunks.error().code(), ErrorCode::kInternalError);
    EXPECT_FALSE(request.body_text(100));
}

TEST(RequestBody, BodyTextReadsMemoryOrFileUpToItsLimit) {
    Request memory;
    memory.body = R"({"a":1})";
    auto m = memory.body_text(7);
    ASSERT_TRUE(m);
    EXPECT_EQ(*m, memory.body);
    auto over = memory.body_text(6);
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error().code(), ErrorCode::kDocumentTooLarge);

    const std::string json = "{\"x\":\"" + std::string(300 * 1024, 'y') + "\"}";
    Request spooled;
    spooled.body_file = file_with(json);
    auto f = spooled.body_text(json.size());
    ASSERT_TRUE(f);
    EXPECT_TRUE(*f == json);
    auto too_big = spooled.body_text(json.size() - 1);
    ASSERT_FALSE(too_big);
    EXPECT_EQ(too_big.error().code(), ErrorCode::kDocumentTooLarge);
}

TEST(SpoolFile, IsAnonymousAndRefusesAMissingFolder) {
    auto fd = open_spool_file("");
    ASSERT_TRUE(fd) << fd.error().message();
    struct stat st {};
    ASSERT_EQ(::fstat(fd->get(), &st), 0);
    EXPECT_EQ(st.st_nlink, 0u);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_NE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC, 0);

    auto missing = open_spool_file("/nonexistent-spool-folder");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code(), ErrorCode::kServiceUnavailable);
    EXPECT_EQ(missing.error().sys_errno(), ENOENT);
}

TEST(SpoolRoutes, LargeLimitsSpoolUnlessTheRouteSaysOtherwise) {
    Router router;
    auto h = [](Request&) { return Response{}; };
    router.add("POST", "/small", h);
    router.add("POST", "/publish", h, 4ull << 20);  // 4 MiB: handlers read Request::body
    router.add("POST", "/at", h, kSpoolRoutesOver);
    router.add("POST", "/upload", h, 26ull << 20);
    router.add("POST", "/forced", h, 1024, BodyStorage::kSpool);
    router.add("POST", "/kept", h, 26ull << 20, BodyStorage::kMemory);
    ASSERT_TRUE(router.check());
    std::vector<std::pair<std::string, bool>> got;
    for (const auto& r : router.routes()) got.emplace_back(r.pattern, r.spool);
    EXPECT_EQ(got, (std::vector<std::pair<std::string, bool>>{{"/small", false},
                                                              {"/publish", false},
                                                              {"/at", false},
                                                              {"/upload", true},
                                                              {"/forced", true},
                                                              {"/kept", false}}));
    auto m = router.match("POST", "/upload");
    ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
    EXPECT_TRUE(m.route->spool);
}

}  // namespace
}  // namespace orchagent::http
