// Bundles through the real jail: unpack_bundle runs orchagent-unpack inside the Launcher's
// jail, and the BundleCache unpacks a bundle once. Skips with the reason when this kernel
// or user cannot make the namespaces.
#include "runtime/bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "runtime/bundle_writer.hpp"
#include "sandbox/launcher.hpp"
#include "tests/support/archives.hpp"

namespace orchagent::runtime {
namespace {

namespace fs = std::filesystem;

// A slot of its own, away from the other jail tests' host ids.
constexpr uint32_t kHostBase = (1u << 30) + (16u << 16);

using namespace orchagent::testing;  // Entry, Format, make_archive, read_file

std::set<std::string> tree(const fs::path& root) {
    std::set<std::string> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
         ++it) {
        out.insert(it->path().lexically_relative(root).string());
    }
    return out;
}

class BundleTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
#ifndef ORCHAGENT_UNPACK_PATH
        skip_reason_ = "ORCHAGENT_UNPACK_PATH is not defined for jail_tests";
        return;
#else
        auto created = sandbox::Launcher::create();
        if (!created) {
            skip_reason_ = "launcher: " + created.error().message();
            return;
        }
        launcher_ = std::move(*created);
        auto jail = make_unpack_jail(std::string(ORCHAGENT_SOURCE_DIR) + "/images/host.yaml",
                                     ORCHAGENT_UNPACK_PATH);
        ASSERT_TRUE(jail.has_value()) << jail.error().message();
        jail_ = new UnpackJail(std::move(*jail));
#endif
    }
    static void TearDownTestSuite() {
        launcher_.reset();
        delete jail_;
        jail_ = nullptr;
    }
    void SetUp() override {
        if (!skip_reason_.empty()) GTEST_SKIP() << "jail unavailable: " << skip_reason_;
        char tmpl[] = "/tmp/bundle_test.XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        std::ofstream(base_ / "sentinel.txt") << "outside";
    }
    void TearDown() override {
        if (!base_.empty()) (void)remove_tree(base_.string());
    }

    fs::path write(const std::string& name, const std::string& bytes) {
        fs::path p = base_ / name;
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }

    Result<UnpackedBundle> unpack(const fs::path& archive, const fs::path& target,
                                  const UnpackLimits& limits = {}) {
        auto r =
            unpack_bundle(*launcher_, *jail_, archive.string(), target.string(), limits, kHostBase);
        if (!r && r.error().sys_errno() == EPERM) {
            ADD_FAILURE() << "jail refused (EPERM): " << r.error().message();
        }
        return r;
    }

    static inline std::unique_ptr<sandbox::Launcher> launcher_;
    static inline UnpackJail* jail_ = nullptr;
    static inline std::string skip_reason_;
    fs::path base_;
};

TEST_F(BundleTest, GoodBundleUnpacksSealed) {
    fs::path agent = base_ / "agent";
    fs::create_directories(agent / "src");
    std::ofstream(agent / "orchagent.json") << R"({"name": "demo"})";
    std::ofstream(agent / "src/main.py") << "print('hi')\n";
    fs::permissions(agent / "src/main.py", fs::perms::owner_exec, fs::perm_options::add);
    fs::create_symlink("src/main.py", agent / "entry");
    auto written = write_bundle_zip(agent.string(), (base_ / "b.zip").string());
    ASSERT_TRUE(written.has_value()) << written.error().message();

    fs::path out = base_ / "out";
    auto r = unpack(base_ / "b.zip", out);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->files, 2u);
    EXPECT_EQ(r->bytes, 16u + 12u);
    EXPECT_EQ(r->dir, out.string());
    EXPECT_EQ((std::set<std::string>{"entry", "orchagent.json", "src", "src/main.py"}), tree(out));
    EXPECT_EQ(read_file(out / "entry"), "print('hi')\n");
    struct stat st {};
    ASSERT_EQ(::stat((out / "src/main.py").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0777u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    ASSERT_EQ(::stat((out / "orchagent.json").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0666u);
    ASSERT_EQ(::stat(out.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0777u);
    EXPECT_EQ(st.st_uid, ::geteuid());
}

TEST_F(BundleTest, HostileBundlesRefusedAndRemoved) {
    std::string zeros(20u << 20, '\0');
    struct Case {
        std::string name;
        std::string bytes;
        std::string message;
    };
    std::vector<Case> cases = {
        {"dotdot",
         make_archive(Format::kZip, {{.name = "ok", .data = "1"}, {.name = "../../evil"}}),
         "bundle entry '../../evil': '..' component"},
        {"abs", make_archive(Format::kTar, {{.name = "/tmp/bundle_test_abs_evil"}}),
         "bundle entry '/tmp/bundle_test_abs_evil': absolute path"},
        {"symlink",
         make_archive(Format::kTar,
                      {{.name = "l", .type = AE_IFLNK, .perm = 0777, .symlink = "../.."}}),
         "bundle entry 'l': symlink target points outside the bundle"},
        {"through",
         make_archive(Format::kTar, {{.name = "d", .type = AE_IFDIR},
                                     {.name = "l", .type = AE_IFLNK, .perm = 0777, .symlink = "d"},
                                     {.name = "l/x", .data = "x"}}),
         "bundle entry 'l/x': parent 'l' is a symlink"},
        {"hardlink", make_archive(Format::kTar, {{.name = "h", .hardlink = "/etc/passwd"}}),
         "bundle entry 'h': hardlinks are not allowed"},
        {"fifo", make_archive(Format::kTar, {{.name = "p", .type = AE_IFIFO}}),
         "bundle entry 'p': fifos are not allowed"},
        {"bomb", make_archive(Format::kZip, {{.name = "bomb", .data = zeros}}),
         "bundle entry 'bomb': expands more than 100 times its compressed size"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.name);
        fs::path archive = write(c.name + ".bin", c.bytes);
        fs::path out = base_ / "deep" / c.name;
        fs::create_directories(out.parent_path());
        auto r = unpack(archive, out);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
        EXPECT_EQ(r.error().message(), c.message);
        EXPECT_FALSE(fs::exists(fs::symlink_status(out))) << "partial target left behind";
    }
    EXPECT_FALSE(fs::exists("/tmp/bundle_test_abs_evil"));
    EXPECT_FALSE(fs::exists(base_ / "evil"));
    EXPECT_EQ(read_file(base_ / "sentinel.txt"), "outside");
    // Only the archives, the sentinel and the (now empty) parent of the targets remain.
    std::set<std::string> left = tree(base_);
    for (const auto& c : cases) left.erase(c.name + ".bin");
    EXPECT_EQ(left, (std::set<std::string>{"deep", "sentinel.txt"}));
}

TEST_F(BundleTest, LimitsComeFromTheCaller) {
    fs::path archive =
        write("many.zip", make_archive(Format::kZip, {{.name = "a", .data = "1"}, {.name = "b"}}));
    auto r = unpack(archive, base_ / "out", {.max_entries = 1});
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().message(), "bundle entry 'b': more than 1 entries");
}

TEST_F(BundleTest, NotAnArchiveAndExistingTargetRefused) {
    fs::path junk = write("junk", "not an archive");
    auto r = unpack(junk, base_ / "out");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    EXPECT_TRUE(r.error().message().starts_with("bundle: not a readable")) << r.error().message();
    fs::create_directories(base_ / "exists");
    auto again = unpack(junk, base_ / "exists");
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().sys_errno(), EEXIST);
    EXPECT_TRUE(fs::exists(base_ / "exists"));
}

TEST_F(BundleTest, CacheUnpacksIdenticalBytesOnce) {
    std::string bytes = make_archive(Format::kZip, {{.name = "main.py", .data = "print(1)"}});
    fs::path first = write("first.zip", bytes);
    fs::path second = write("second.zip", bytes);  // same bytes, another file
    fs::path other = write("other.zip", make_archive(Format::kZip, {{.name = "x", .data = "2"}}));
    // Left by a process that died mid-unpack two hours ago, and one by a live unpack.
    fs::create_directories(base_ / "cache/.tmp-crashed/sub");
    fs::last_write_time(base_ / "cache/.tmp-crashed",
                        fs::file_time_type::clock::now() - std::chrono::hours(2));
    fs::create_directories(base_ / "cache/.tmp-running");
    BundleCache cache(*launcher_, *jail_, (base_ / "cache").string(), {}, kHostBase);

    auto a = cache.get_or_unpack(first.string());
    EXPECT_FALSE(fs::exists(base_ / "cache/.tmp-crashed"));
    EXPECT_TRUE(fs::exists(base_ / "cache/.tmp-running"));
    fs::remove(base_ / "cache/.tmp-running");
    ASSERT_TRUE(a.has_value()) << a.error().message();
    auto hash = sha256_file(first.string());
    ASSERT_TRUE(hash.has_value());
    EXPECT_EQ(*a, (base_ / "cache" / *hash).string());
    EXPECT_EQ(read_file(fs::path(*a) / "main.py"), "print(1)");
    auto b = cache.get_or_unpack(second.string());
    ASSERT_TRUE(b.has_value()) << b.error().message();
    EXPECT_EQ(*a, *b);
    EXPECT_EQ(cache.unpack_count(), 1u);

    auto c = cache.get_or_unpack(other.string());
    ASSERT_TRUE(c.has_value()) << c.error().message();
    EXPECT_NE(*a, *c);
    EXPECT_EQ(cache.unpack_count(), 2u);
    // Only the two hash folders: no temporary folder left behind.
    EXPECT_EQ(tree(base_ / "cache").size(), 4u);  // 2 folders + 1 file each

    fs::path hostile =
        write("hostile.zip", make_archive(Format::kZip, {{.name = "../x", .data = "1"}}));
    auto d = cache.get_or_unpack(hostile.string());
    ASSERT_FALSE(d.has_value());
    EXPECT_EQ(d.error().message(), "bundle entry '../x': '..' component");
    EXPECT_EQ(tree(base_ / "cache").size(), 4u);
}

}  // namespace
}  // namespace orchagent::runtime
