// UploadSink: file parts stream to "<index>" files in the upload directory, other parts are
// bounded in-memory fields; the 25 MB streaming case checks bytes, size and bounded memory.
#include "api/upload_sink.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.hpp"

namespace orchagent::api {
namespace {

using namespace std::string_literals;

constexpr std::string_view kB = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

// A fresh directory, opened, removed with its contents at the end of the test.
class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "upload-test-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) return;
        path_ = tmpl;
        fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    int fd() const { return fd_.get(); }
    const std::string& path() const { return path_; }
    std::string read(std::string_view name) const {
        std::ifstream in(path_ + "/" + std::string(name), std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& entry : std::filesystem::directory_iterator(path_)) {
            out.push_back(entry.path().filename().string());
        }
        std::sort(out.begin(), out.end());
        return out;
    }

  private:
    std::string path_;
    UniqueFd fd_;
};

std::string part(std::string_view head, std::string_view data) {
    return "--"s + std::string(kB) + "\r\n" + std::string(head) + "\r\n" + std::string(data) +
           "\r\n";
}
std::string file_part(std::string_view name, std::string_view filename, std::string_view type,
                      std::string_view data) {
    return part("Content-Disposition: form-data; name=\"" + std::string(name) + "\"; filename=\"" +
                    std::string(filename) + "\"\r\nContent-Type: " + std::string(type) + "\r\n",
                data);
}
std::string field(std::string_view name, std::string_view value) {
    return part("Content-Disposition: form-data; name=\"" + std::string(name) + "\"\r\n", value);
}
std::string close_delimiter() { return "--"s + std::string(kB) + "--\r\n"; }

Result<void> parse_into(UploadSink& sink, std::string_view body, std::size_t step,
                        MultipartLimits limits = {}) {
    MultipartParser parser{std::string(kB), limits, sink};
    for (std::size_t at = 0; at < body.size(); at += step) {
        if (auto r = parser.feed(body.substr(at, step)); !r) return r;
    }
    return parser.finish();
}

TEST(UploadSink, FilesGoToDiskFieldsStayInMemory) {
    const std::string body =
        field("metadata", "{\"k\": 1}") + file_part("files[]", "a.txt", "text/plain", "alpha\r\n") +
        field("note", "") + file_part("files[]", "../../etc/passwd", "image/png", "\0\xff\r"s) +
        close_delimiter();
    for (std::size_t step : {body.size(), std::size_t{1}, std::size_t{5}}) {
        TempDir dir;
        ASSERT_GE(dir.fd(), 0);
        UploadSink sink(dir.fd(), {"file", "files[]"});
        ASSERT_TRUE(parse_into(sink, body, step)) << "step " << step;
        ASSERT_EQ(sink.files().size(), 2u);
        const UploadedFile& a = sink.files()[0];
        EXPECT_EQ(a.field, "files[]");
        EXPECT_EQ(a.original_name, "a.txt");
        EXPECT_EQ(a.content_type, "text/plain");
        EXPECT_EQ(a.stored_name, "1");
        EXPECT_EQ(a.size_bytes, 7u);
        const UploadedFile& b = sink.files()[1];
        EXPECT_EQ(b.original_name, "../../etc/passwd");  // recorded, never used as a path
        EXPECT_EQ(b.stored_name, "3");
        EXPECT_EQ(b.size_bytes, 3u);
        EXPECT_EQ(dir.names(), (std::vector<std::string>{"1", "3"}));
        EXPECT_EQ(dir.read("1"), "alpha\r\n");
        EXPECT_EQ(dir.read("3"), "\0\xff\r"s);
        struct stat st {};
        ASSERT_EQ(::stat((dir.path() + "/1").c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600u);
        EXPECT_EQ(sink.fields(), (UploadSink::Fields{{"metadata", "{\"k\": 1}"}, {"note", ""}}));
    }
}

TEST(UploadSink, FilePartWithoutFilenameIsStillAFile) {
    TempDir dir;
    UploadSink sink(dir.fd(), {"file", "bundle"});
    const std::string body = field("bundle", "PK\x03\x04") + close_delimiter();
    ASSERT_TRUE(parse_into(sink, body, body.size()));
    ASSERT_EQ(sink.files().size(), 1u);
    EXPECT_EQ(sink.files()[0].field, "bundle");
    EXPECT_EQ(sink.files()[0].original_name, "");
    EXPECT_EQ(sink.files()[0].content_type, "text/plain");  // the parser's default
    EXPECT_EQ(dir.read("0"), "PK\x03\x04");
    EXPECT_TRUE(sink.fields().empty());
}

TEST(UploadSink, EmptyFileIsCreated) {
    TempDir dir;
    UploadSink sink(dir.fd(), {"file"});
    ASSERT_TRUE(parse_into(
        sink, file_part("file", "", "application/octet-stream", "") + close_delimiter(), 1));
    ASSERT_EQ(sink.files().size(), 1u);
    EXPECT_EQ(sink.files()[0].size_bytes, 0u);
    EXPECT_EQ(dir.names(), std::vector<std::string>{"0"});
}

TEST(UploadSink, RepeatedFieldIsAnError) {
    TempDir dir;
    UploadSink sink(dir.fd(), {"file"});
    auto r = parse_into(sink, field("a", "1") + field("a", "2") + close_delimiter(), 3);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    EXPECT_EQ(r.error().message(), "multipart: part 1: repeated field 'a'");
}

TEST(UploadSink, FieldLimit) {
    const std::string body = field("a", std::string(100, 'x')) + close_delimiter();
    {
        TempDir dir;
        UploadSink sink(dir.fd(), {"file"}, 100);
        ASSERT_TRUE(parse_into(sink, body, 7));
        EXPECT_EQ(sink.fields().at("a").size(), 100u);
    }
    TempDir dir;
    UploadSink sink(dir.fd(), {"file"}, 99);
    auto r = parse_into(sink, body, 7);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kDocumentTooLarge);
    EXPECT_EQ(r.error().message(), "multipart: field 'a' exceeds 99 bytes");
    // The default is MultipartLimits' 1 MiB.
    TempDir dir2;
    UploadSink sink2(dir2.fd(), {"file"});
    auto big =
        parse_into(sink2, field("a", std::string((1 << 20) + 1, 'x')) + close_delimiter(), 65536);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().message(), "multipart: field 'a' exceeds 1048576 bytes");
}

TEST(UploadSink, NeverOverwritesOrFollowsLinks) {
    TempDir dir;
    ASSERT_EQ(::symlinkat("/tmp/should-not-be-written", dir.fd(), "0"), 0);
    UploadSink sink(dir.fd(), {"file"});
    auto r = parse_into(sink, file_part("file", "x", "a/b", "data") + close_delimiter(), 4096);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().sys_errno(), EEXIST);
    EXPECT_EQ(r.error().message().rfind("openat '0': EEXIST", 0), 0u) << r.error().message();
    EXPECT_FALSE(std::filesystem::exists("/tmp/should-not-be-written"));
}

TEST(UploadSink, FilesWrittenBeforeAnErrorStay) {
    TempDir dir;
    UploadSink sink(dir.fd(), {"file"});
    const std::string body =
        file_part("file", "a", "a/b", "first") + field("x", "1") + field("x", "2");
    ASSERT_FALSE(parse_into(sink, body, 2));
    EXPECT_EQ(dir.read("0"), "first");
    EXPECT_EQ(sink.files().size(), 1u);
}

TEST(UploadSink, TwentyFiveMegabytesStreamedWithBoundedMemory) {
    constexpr std::size_t kSize = 25 * 1000 * 1000;
    // Deterministic bytes with near-delimiters sprinkled in, so the carry path runs too.
    std::string data(kSize, '\0');
    std::uint64_t x = 88172645463325252ULL;
    for (std::size_t i = 0; i < kSize; ++i) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        data[i] = static_cast<char>(x);
    }
    const std::string near = "\r\n--" + std::string(kB).substr(0, 20);
    for (std::size_t at = 1000; at + near.size() < kSize; at += 65536 + 17) {
        data.replace(at, near.size(), near);
    }
    const std::string body = field("metadata", "{}") +
                             file_part("file", "big.bin", "application/octet-stream", data) +
                             close_delimiter();

    TempDir dir;
    UploadSink sink(dir.fd(), {"file"});
    MultipartParser parser{std::string(kB), {}, sink};
    std::size_t max_buffered = 0;
    for (std::size_t at = 0; at < body.size(); at += 65536) {
        ASSERT_TRUE(parser.feed(std::string_view(body).substr(at, 65536)));
        max_buffered = std::max(max_buffered, parser.buffered_bytes());
    }
    ASSERT_TRUE(parser.finish());
    EXPECT_LT(max_buffered, 4096u);
    ASSERT_EQ(sink.files().size(), 1u);
    EXPECT_EQ(sink.files()[0].size_bytes, kSize);
    EXPECT_EQ(sink.files()[0].stored_name, "1");
    EXPECT_EQ(std::filesystem::file_size(dir.path() + "/1"), kSize);
    EXPECT_TRUE(dir.read("1") == data) << "file bytes differ";
    EXPECT_EQ(sink.fields().at("metadata"), "{}");
}

}  // namespace
}  // namespace orchagent::api
