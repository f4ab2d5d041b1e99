// The bundle extraction (runtime/unpack.hpp) called directly, against archives generated
// here with libarchive's writer: good bundles in each format, then each attack, refused with
// its message and the filesystem checked for anything written outside the target. Also the
// zip writer of `orchagent bundle` (runtime/bundle_writer.hpp).
#include "runtime/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/bundle.hpp"
#include "runtime/bundle_writer.hpp"
#include "tests/support/archives.hpp"

namespace orchagent::runtime {
namespace {

namespace fs = std::filesystem;
using namespace orchagent::testing;  // Entry, Format, file, dir, link, make_archive, read_file

mode_t mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

// Every path under `root`, symlinks not followed, relative, "/"-separated.
std::set<std::string> tree(const fs::path& root) {
    std::set<std::string> out;
    if (!fs::exists(fs::symlink_status(root))) return out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        out.insert(it->path().lexically_relative(root).string());
    }
    return out;
}

class UnpackTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/unpack_test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        // The target lives two levels down so "../" and "../../" land in folders we watch.
        out_ = base_ / "a" / "out";
        fs::create_directories(out_);
        std::ofstream(base_ / "sentinel.txt") << "outside";
        before_ = outside();
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    // Everything under base_ except the target and the archive file.
    std::set<std::string> outside() {
        std::set<std::string> out;
        for (const auto& p : tree(base_)) {
            if (p == "a/out" || p.starts_with("a/out/") || p == "bundle") continue;
            out.insert(p);
        }
        return out;
    }

    UnpackResult unpack(const std::string& bytes, const UnpackLimits& limits = {}) {
        fs::path archive = base_ / "bundle";
        std::ofstream(archive, std::ios::binary) << bytes;
        int in = ::open(archive.c_str(), O_RDONLY | O_CLOEXEC);
        int root = ::open(out_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        EXPECT_GE(in, 0);
        EXPECT_GE(root, 0);
        auto r = unpack_archive(in, root, limits);
        ::close(in);
        ::close(root);
        return r;
    }

    // Refused with exactly `message`, and nothing appeared outside the target; every
    // symlink left in the target stays inside.
    void expect_refused(const std::string& bytes, const std::string& message,
                        const UnpackLimits& limits = {}) {
        auto r = unpack(bytes, limits);
        ASSERT_FALSE(r.has_value()) << "accepted; expected: " << message;
        EXPECT_EQ(r.error().message, message);
        EXPECT_EQ(outside(), before_);
        EXPECT_EQ(read_file(base_ / "sentinel.txt"), "outside");
        for (const auto& p : tree(out_)) {
            fs::path full = out_ / p;
            if (!fs::is_symlink(full)) continue;
            fs::path resolved = fs::weakly_canonical(full);
            EXPECT_TRUE(resolved.string().starts_with(fs::canonical(out_).string()))
                << p << " -> " << resolved;
        }
    }

    fs::path base_;
    fs::path out_;
    std::set<std::string> before_;
};

const std::vector<Entry> kGoodEntries = {
    file("orchagent.json", R"({"name": "demo"})"), file("main.py", "print('hi')\n", 0755),
    file("lib/util/helpers.py", "X = 1\n"),        link("lib/current", "util/helpers.py"),
    link("lib/util/up", "../../main.py"),
};

void expect_good_tree(const fs::path& out) {
    EXPECT_EQ(read_file(out / "orchagent.json"), R"({"name": "demo"})");
    EXPECT_EQ(read_file(out / "main.py"), "print('hi')\n");
    EXPECT_EQ(read_file(out / "lib/util/helpers.py"), "X = 1\n");
    EXPECT_EQ(mode_of(out / "main.py"), 0755u);
    EXPECT_EQ(mode_of(out / "orchagent.json"), 0644u);
    EXPECT_EQ(mode_of(out / "lib"), 0755u);
    EXPECT_EQ(mode_of(out / "lib/util"), 0755u);
    EXPECT_TRUE(fs::is_symlink(out / "lib/current"));
    EXPECT_EQ(fs::read_symlink(out / "lib/current"), "util/helpers.py");
    EXPECT_EQ(read_file(out / "lib/util/up"), "print('hi')\n");
}

TEST_F(UnpackTest, GoodZipWithoutDirectoryEntries) {
    auto r = unpack(make_archive(Format::kZip, kGoodEntries));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->files, 3u);
    EXPECT_EQ(r->symlinks, 2u);
    EXPECT_EQ(r->bytes, 16u + 12u + 6u);
    expect_good_tree(out_);
    EXPECT_EQ(outside(), before_);
}

TEST_F(UnpackTest, GoodZipWithDirectoryEntries) {
    std::vector<Entry> entries = {dir("./"), dir("lib/")};
    entries.insert(entries.end(), kGoodEntries.begin(), kGoodEntries.end());
    // A directory entry after its contents is tolerated too.
    entries.push_back(dir("lib/util"));
    auto r = unpack(make_archive(Format::kZip, entries));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(r->files, 3u);
    expect_good_tree(out_);
}

TEST_F(UnpackTest, GoodTar) {
    auto r = unpack(make_archive(Format::kTar, kGoodEntries));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    expect_good_tree(out_);
}

TEST_F(UnpackTest, GoodTarGz) {
    auto r = unpack(make_archive(Format::kTarGz, kGoodEntries));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    expect_good_tree(out_);
}

TEST_F(UnpackTest, GoodUtf8NamesAndLimitsAtTheEdge) {
    std::string deep;
    for (int i = 0; i < 31; ++i) deep += "d/";
    auto r = unpack(
        make_archive(Format::kZip, {file("caf\xc3\xa9.txt", "x"), file(std::string(255, 'n'), "y"),
                                    file(deep + "leaf", "z")}));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(read_file(out_ / "caf\xc3\xa9.txt"), "x");
    EXPECT_EQ(read_file(out_ / std::string(255, 'n')), "y");
    EXPECT_EQ(read_file(out_ / (deep + "leaf")), "z");
}

TEST_F(UnpackTest, DotDotEntriesRefused) {
    expect_refused(make_archive(Format::kZip, {file("ok.txt", "a"), file("../evil.txt", "x")}),
                   "bundle entry '../evil.txt': '..' component");
    expect_refused(make_archive(Format::kTar, {file("x/../../../evil.txt", "x")}),
                   "bundle entry 'x/../../../evil.txt': '..' component");
    EXPECT_FALSE(fs::exists(base_ / "a/evil.txt"));
    EXPECT_FALSE(fs::exists(base_ / "evil.txt"));
}

TEST_F(UnpackTest, AbsolutePathRefused) {
    std::string target = base_.string() + "/abs.txt";
    expect_refused(make_archive(Format::kZip, {file(target, "x")}),
                   "bundle entry '" + target + "': absolute path");
    expect_refused(make_archive(Format::kTar, {file(target, "x")}),
                   "bundle entry '" + target + "': absolute path");
    EXPECT_FALSE(fs::exists(target));
}

TEST_F(UnpackTest, SymlinkPointingOutsideRefused) {
    expect_refused(make_archive(Format::kZip, {link("l", "../sentinel.txt")}),
                   "bundle entry 'l': symlink target points outside the bundle");
    expect_refused(make_archive(Format::kTar, {link("d/l", "../../../sentinel.txt")}),
                   "bundle entry 'd/l': symlink target points outside the bundle");
    expect_refused(make_archive(Format::kTar, {link("abs", "/etc/passwd")}),
                   "bundle entry 'abs': symlink target is an absolute path");
    // Lexically inside, physically not once "up" is itself a link to the root.
    expect_refused(make_archive(Format::kTar, {link("d/up", ".."), link("d/out", "up/..")}),
                   "bundle entry 'd/out': symlink target has '..' after a name");
    EXPECT_FALSE(fs::exists(fs::symlink_status(out_ / "l")));
    EXPECT_FALSE(fs::exists(fs::symlink_status(out_ / "abs")));
}

TEST_F(UnpackTest, NothingWrittenThroughASymlink) {
    // The link itself is harmless (inside); the next entry must not go through it.
    expect_refused(
        make_archive(Format::kZip, {dir("real/"), link("l", "real"), file("l/x.txt", "x")}),
        "bundle entry 'l/x.txt': parent 'l' is a symlink");
    EXPECT_FALSE(fs::exists(out_ / "real/x.txt"));
    // A file entry of the link's own name must not write through it either.
    expect_refused(make_archive(Format::kTar, {file("t.txt", "orig"), link("m", "t.txt"),
                                               file("m", "overwrite")}),
                   "bundle entry 'm': duplicate entry");
    EXPECT_EQ(read_file(out_ / "t.txt"), "orig");
}

TEST_F(UnpackTest, HardlinksRefused) {
    expect_refused(
        make_archive(Format::kTar, {file("a.txt", "a"), {.name = "b.txt", .hardlink = "a.txt"}}),
        "bundle entry 'b.txt': hardlinks are not allowed");
    expect_refused(make_archive(Format::kTar, {{.name = "p", .hardlink = "/etc/passwd"}}),
                   "bundle entry 'p': hardlinks are not allowed");
    EXPECT_FALSE(fs::exists(out_ / "b.txt"));
    EXPECT_FALSE(fs::exists(out_ / "p"));
}

TEST_F(UnpackTest, DeviceNodesFifosAndSocketsRefused) {
    expect_refused(make_archive(Format::kTar, {{.name = "null", .type = AE_IFCHR}}),
                   "bundle entry 'null': device nodes are not allowed");
    expect_refused(make_archive(Format::kTar, {{.name = "disk", .type = AE_IFBLK}}),
                   "bundle entry 'disk': device nodes are not allowed");
    expect_refused(make_archive(Format::kTar, {{.name = "pipe", .type = AE_IFIFO}}),
                   "bundle entry 'pipe': fifos are not allowed");
    EXPECT_TRUE(tree(out_).empty());
}

TEST_F(UnpackTest, SetuidSetgidStickyStripped) {
    auto r = unpack(make_archive(Format::kTar, {dir("shared", 01777), file("shared/su", "x", 04755),
                                                file("sg", "y", 02644), file("w", "z", 0666)}));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    EXPECT_EQ(mode_of(out_ / "shared"), 0755u);
    EXPECT_EQ(mode_of(out_ / "shared/su"), 0755u);
    EXPECT_EQ(mode_of(out_ / "sg"), 0644u);
    EXPECT_EQ(mode_of(out_ / "w"), 0644u);
}

TEST_F(UnpackTest, TooManyEntriesRefused) {
    std::vector<Entry> entries;
    for (int i = 0; i < 6; ++i) entries.push_back(file("f" + std::to_string(i), "x"));
    expect_refused(make_archive(Format::kZip, entries), "bundle entry 'f5': more than 5 entries",
                   {.max_entries = 5});
    EXPECT_FALSE(fs::exists(out_ / "f5"));
}

TEST_F(UnpackTest, TooManyBytesRefused) {
    std::string data;
    for (int i = 0; i < 3000; ++i) data += static_cast<char>('a' + (i * 7919) % 26);
    expect_refused(make_archive(Format::kTar, {file("a", data.substr(0, 900)), file("b", data)}),
                   "bundle entry 'b': unpacked size over the limit of 2000 bytes",
                   {.max_bytes = 2000});
    EXPECT_FALSE(fs::exists(out_ / "b"));
}

TEST_F(UnpackTest, ZipBombRefusedByRatio) {
    std::string zeros(20u << 20, '\0');
    auto zip = make_archive(Format::kZip, {file("bomb", zeros)});
    ASSERT_LT(zip.size(), 200u << 10);
    expect_refused(zip, "bundle entry 'bomb': expands more than 100 times its compressed size");
    EXPECT_LT(fs::file_size(out_ / "bomb"), 4u << 20);  // stopped early, not after 20 MiB
    fs::remove(out_ / "bomb");
    auto tgz = make_archive(Format::kTarGz, {file("bomb", zeros)});
    expect_refused(tgz, "bundle entry 'bomb': expands more than 100 times its compressed size");
    // Many small entries, each within the per-entry slack, still hit the archive's ratio.
    std::vector<Entry> many;
    for (int i = 0; i < 40; ++i) {
        many.push_back(file("z" + std::to_string(i), zeros.substr(0, 1 << 20)));
    }
    auto r = unpack(make_archive(Format::kTarGz, many));
    ASSERT_FALSE(r.has_value());
    EXPECT_NE(r.error().message.find("expands more than 100 times"), std::string::npos)
        << r.error().message;
}

TEST_F(UnpackTest, LongNamesRefused) {
    std::string long_name(256, 'n');
    expect_refused(make_archive(Format::kZip, {file("d/" + long_name, "x")}),
                   "bundle entry 'd/" + long_name.substr(0, 198) +
                       "...': name component longer than 255 bytes");
    std::string total;
    for (int i = 0; i < 20; ++i) total += std::string(250, 'p') + "/";
    total += "f";
    auto r = unpack(make_archive(Format::kZip, {file(total, "x")}));
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().message.ends_with("': name longer than 4096 bytes")) << r.error().message;
    EXPECT_EQ(outside(), before_);
}

TEST_F(UnpackTest, NonUtf8NamesRefused) {
    expect_refused(make_archive(Format::kZip, {file("caf\xe9.txt", "x")}),
                   "bundle entry 'caf\\xe9.txt': name is not valid UTF-8");
    expect_refused(make_archive(Format::kTar, {file("over\xc0\xaflong", "x")}),
                   "bundle entry 'over\\xc0\\xaflong': name is not valid UTF-8");
    expect_refused(make_archive(Format::kTar, {file("new\nline", "x")}),
                   "bundle entry 'new\\x0aline': name contains a control character");
    EXPECT_TRUE(tree(out_).empty());
}

TEST_F(UnpackTest, DepthOver32Refused) {
    std::string deep;
    for (int i = 0; i < 32; ++i) deep += "d/";
    expect_refused(make_archive(Format::kZip, {file(deep + "leaf", "x")}),
                   "bundle entry '" + deep + "leaf': more than 32 levels deep");
    EXPECT_TRUE(tree(out_).empty());
}

TEST_F(UnpackTest, DuplicateEntriesRefused) {
    expect_refused(make_archive(Format::kZip, {file("a.txt", "first"), file("a.txt", "second")}),
                   "bundle entry 'a.txt': duplicate entry");
    EXPECT_EQ(read_file(out_ / "a.txt"), "first");
    fs::remove_all(out_);
    fs::create_directories(out_);
    expect_refused(make_archive(Format::kTar, {file("b/c", "1"), file("./b//c", "2")}),
                   "bundle entry './b//c': duplicate entry");
    fs::remove_all(out_);
    fs::create_directories(out_);
    expect_refused(make_archive(Format::kTar, {file("f", "1"), file("f/g", "2")}),
                   "bundle entry 'f/g': parent 'f' is not a directory");
}

TEST_F(UnpackTest, NotAnArchiveRefused) {
    auto r = unpack("this is not an archive at all, just text");
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().message.starts_with("bundle: not a readable zip, tar or tar.gz archive"))
        << r.error().message;
}

TEST(UnpackJsonTest, OneLineResults) {
    EXPECT_EQ(unpack_result_json(UnpackStats{.files = 3, .bytes = 42}),
              R"({"files": 3, "bytes": 42})");
    UnpackResult bad = std::unexpected(UnpackError{"bundle entry 'a\"b\\c\xff': \"..\" component"});
    EXPECT_EQ(unpack_result_json(bad),
              R"({"error": {"code": "INVALID_INPUT", )"
              R"("message": "bundle entry 'a\"b\\c\\xff': \"..\" component"}})");
}

TEST(UnpackFlagsTest, ParsesAndRefuses) {
    auto l = parse_unpack_flags({"--max-entries", "7", "--max-bytes=1024", "--max-ratio", "9"});
    ASSERT_TRUE(l.has_value()) << l.error();
    EXPECT_EQ(l->max_entries, 7u);
    EXPECT_EQ(l->max_bytes, 1024u);
    EXPECT_EQ(l->max_ratio, 9u);
    auto d = parse_unpack_flags({});
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->max_entries, 10'000u);
    EXPECT_EQ(d->max_bytes, 256ull << 20);
    EXPECT_EQ(d->max_ratio, 100u);
    EXPECT_FALSE(parse_unpack_flags({"--max-ratio", "0"}).has_value());
    EXPECT_FALSE(parse_unpack_flags({"--max-bytes", "12k"}).has_value());
    EXPECT_FALSE(parse_unpack_flags({"--other", "1"}).has_value());
    EXPECT_FALSE(parse_unpack_flags({"--max-entries"}).has_value());
}

TEST(UnpackHashTest, Sha256OfAFile) {
    char tmpl[] = "/tmp/unpack_hash.XXXXXX";
    int fd = ::mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, "abc", 3), 3);
    ::close(fd);
    auto h = sha256_file(tmpl);
    ::unlink(tmpl);
    ASSERT_TRUE(h.has_value()) << h.error().message();
    EXPECT_EQ(*h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_FALSE(sha256_file("/nonexistent/x").has_value());
}

class BundleWriterTest : public UnpackTest {};

TEST_F(BundleWriterTest, ZipsLikeTheHostedCli) {
    fs::path agent = base_ / "agent";
    auto put = [&](const std::string& rel, const std::string& data) {
        fs::create_directories((agent / rel).parent_path());
        std::ofstream(agent / rel) << data;
    };
    put("orchagent.json", "{}");
    put("main.py", "print(1)");
    put("requirements.txt", "requests\n");
    put("package.json", "{}");
    put("src/lib.py", "X = 1");
    put("src/__pycache__/lib.pyc", "junk");
    put(".env", "SECRET=1");
    put(".git/config", "x");
    put(".venv/bin/python", "x");
    put("venv/bin/python", "x");
    put("node_modules/a/index.js", "x");
    put("tests/test_main.py", "x");
    put("test/x.py", "x");
    put("docs/readme.md", "x");
    put("old.zip", "x");
    put("src/nested.zip", "x");
    fs::create_symlink("src/lib.py", agent / "lib_link");
    fs::create_symlink("../sentinel.txt", agent / "escape");
    fs::create_symlink("/etc/passwd", agent / "passwd");
    fs::path zip = base_ / "bundle.zip";
    auto report = write_bundle_zip(agent.string(), zip.string());
    ASSERT_TRUE(report.has_value()) << report.error().message();
    EXPECT_EQ(report->files, 5u);
    EXPECT_EQ(report->symlinks, 1u);
    ASSERT_EQ(report->warnings.size(), 2u);
    EXPECT_EQ(report->warnings[0], "skipped 'escape': symlink target points outside the bundle");
    EXPECT_EQ(report->warnings[1], "skipped 'passwd': symlink target is an absolute path");

    auto r = unpack(read_file(zip));
    ASSERT_TRUE(r.has_value()) << r.error().message;
    std::set<std::string> expected = {"lib_link",     "main.py",          "orchagent.json",
                                      "package.json", "requirements.txt", "src",
                                      "src/lib.py"};
    EXPECT_EQ(tree(out_), expected);
    EXPECT_EQ(read_file(out_ / "lib_link"), "X = 1");
    EXPECT_EQ(read_file(out_ / "requirements.txt"), "requests\n");
}

TEST(BundleWriterNamesTest, Exclusions) {
    EXPECT_TRUE(excluded_from_bundle(".env", false));
    EXPECT_TRUE(excluded_from_bundle(".venv", true));
    EXPECT_TRUE(excluded_from_bundle("node_modules", true));
    EXPECT_TRUE(excluded_from_bundle("bundle.zip", false));
    EXPECT_FALSE(excluded_from_bundle("tests", false));  // a file named tests is kept
    EXPECT_FALSE(excluded_from_bundle("requirements.txt", false));
    EXPECT_FALSE(excluded_from_bundle("package.json", false));
}

}  // namespace
}  // namespace orchagent::runtime
