// manifest/stdin_manifest: the stdin manifest of multipart calls and upload-name sanitising.
#include <gtest/gtest.h>

#include "manifest/stdin_manifest.hpp"

namespace orchagent::manifest {
namespace {

using nlohmann::json;

TEST(StdinManifest, ExactShape) {
    std::vector<UploadedFile> files = {
        {"/tmp/uploads/0_report.pdf", "report.pdf", "application/pdf", 1234},
        {"/tmp/uploads/1_a.txt", "../a.txt", "text/plain", 0},
    };
    json m = build_stdin_manifest(files, json{{"lang", "en"}});
    EXPECT_EQ(m.dump(),
              R"({"files":[{"content_type":"application/pdf","original_name":"report.pdf",)"
              R"("path":"/tmp/uploads/0_report.pdf","size_bytes":1234},)"
              R"({"content_type":"text/plain","original_name":"../a.txt",)"
              R"("path":"/tmp/uploads/1_a.txt","size_bytes":0}],"metadata":{"lang":"en"}})");
    EXPECT_EQ(m.size(), 2u);
    EXPECT_EQ(m["files"][0].size(), 4u);
}

TEST(StdinManifest, EmptyAndNullMetadata) {
    EXPECT_EQ(build_stdin_manifest({}, nullptr).dump(), R"({"files":[],"metadata":{}})");
    EXPECT_EQ(build_stdin_manifest({}, json::object()).dump(), R"({"files":[],"metadata":{}})");
}

TEST(StdinManifest, InvalidUtf8NamesStillSerialise) {
    json m = build_stdin_manifest({{"/tmp/uploads/0_x", "bad\xff\xfe.txt", "text/plain", 1}},
                                  json::object());
    EXPECT_NO_THROW(m.dump());
    EXPECT_EQ(m["files"][0]["original_name"], "bad\xEF\xBF\xBD\xEF\xBF\xBD.txt");
}

TEST(StdinManifest, ValidUtf8Untouched) {
    EXPECT_EQ(to_valid_utf8("résumé ✓ 😀"), "résumé ✓ 😀");
    EXPECT_EQ(to_valid_utf8(std::string("\xC0\xAF", 2)), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong
    EXPECT_EQ(to_valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
    EXPECT_EQ(to_valid_utf8("\xE2\x82"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // truncated
}

TEST(UploadName, PlainNamesGetTheIndexPrefix) {
    EXPECT_EQ(sanitize_upload_name("report.pdf", 0), "0_report.pdf");
    EXPECT_EQ(sanitize_upload_name("data-1_final.tar.gz", 12), "12_data-1_final.tar.gz");
    EXPECT_EQ(upload_path("report.pdf", 3), "/tmp/uploads/3_report.pdf");
}

TEST(UploadName, DirectoriesAreStripped) {
    EXPECT_EQ(sanitize_upload_name("../../x", 0), "0_x");
    EXPECT_EQ(sanitize_upload_name("/etc/passwd", 1), "1_passwd");
    EXPECT_EQ(sanitize_upload_name("C:\\Users\\me\\a.doc", 2), "2_a.doc");
    EXPECT_EQ(sanitize_upload_name("dir/", 0), "0_file");
}

TEST(UploadName, ControlCharsAndNulDropped) {
    EXPECT_EQ(sanitize_upload_name(std::string_view("a\0b.txt", 7), 0), "0_ab.txt");
    EXPECT_EQ(sanitize_upload_name("a\nb\r\t\x7f.txt", 0), "0_ab.txt");
    EXPECT_EQ(sanitize_upload_name(std::string_view("\0", 1), 0), "0_file");
}

TEST(UploadName, OtherCharactersReplaced) {
    EXPECT_EQ(sanitize_upload_name("my file (1).pdf", 0), "0_my_file__1_.pdf");
    EXPECT_EQ(sanitize_upload_name("a;rm -rf $HOME`.sh", 0), "0_a_rm_-rf__HOME_.sh");
    // One '_' per UTF-8 character, not per byte.
    EXPECT_EQ(sanitize_upload_name("résumé.pdf", 0), "0_r_sum_.pdf");
    EXPECT_EQ(sanitize_upload_name("日本語.txt", 4), "4____.txt");
    EXPECT_EQ(sanitize_upload_name("😀", 0), "0__");
    EXPECT_EQ(sanitize_upload_name("bad\xff.txt", 0), "0_bad_.txt");
}

TEST(UploadName, NeverEmptyDotOrDotDot) {
    EXPECT_EQ(sanitize_upload_name("", 0), "0_file");
    EXPECT_EQ(sanitize_upload_name(".", 1), "1_file");
    EXPECT_EQ(sanitize_upload_name("..", 2), "2_file");
    EXPECT_EQ(sanitize_upload_name("a/..", 3), "3_file");
    EXPECT_EQ(sanitize_upload_name("...", 0), "0_...");
    EXPECT_EQ(sanitize_upload_name(".env", 0), "0_.env");
}

TEST(UploadName, LongNamesCutTo255KeepingTheExtension) {
    const std::string name = std::string(300, 'a') + ".pdf";
    const std::string out = sanitize_upload_name(name, 7);
    EXPECT_EQ(out.size(), 255u);
    EXPECT_TRUE(out.starts_with("7_aaa"));
    EXPECT_TRUE(out.ends_with("a.pdf"));
    const std::string big_index = sanitize_upload_name(name, 123456);
    EXPECT_EQ(big_index.size(), 255u);
    EXPECT_TRUE(big_index.starts_with("123456_a"));
    EXPECT_TRUE(big_index.ends_with(".pdf"));
    // No extension, or one too long to be one: a plain cut.
    EXPECT_EQ(sanitize_upload_name(std::string(300, 'b'), 0), "0_" + std::string(253, 'b'));
    const std::string long_ext = sanitize_upload_name("a." + std::string(298, 'x'), 0);
    EXPECT_EQ(long_ext.size(), 255u);
    // 300 bytes of multi-byte characters.
    std::string utf8;
    for (int i = 0; i < 100; ++i) utf8 += "é";
    EXPECT_EQ(sanitize_upload_name(utf8 + ".txt", 0), "0_" + std::string(100, '_') + ".txt");
    // Exactly at the limit: untouched.
    const std::string exact = std::string(249, 'c') + ".txt";
    EXPECT_EQ(sanitize_upload_name(exact, 0), "0_" + exact);
}

TEST(UploadName, OutputIsAlwaysSafe) {
    const std::string hostile[] = {
        "../../x", "..\\..\\y", "/",    "\\", "a/b/../c", "\x01\x02", std::string(1000, '/'),
        "con",     "-rf",       "~root"};
    for (std::size_t i = 0; i < std::size(hostile); ++i) {
        const std::string out = sanitize_upload_name(hostile[i], i);
        EXPECT_LE(out.size(), 255u);
        EXPECT_EQ(out.find('/'), std::string::npos) << out;
        EXPECT_EQ(out.find('\\'), std::string::npos) << out;
        for (char c : out) {
            EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                        c == '-')
                << out;
        }
    }
}

}  // namespace
}  // namespace orchagent::manifest
