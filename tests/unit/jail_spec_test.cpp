#include "sandbox/jail_spec.hpp"

#include <gtest/gtest.h>

#include <functional>

namespace orchagent::sandbox {
namespace {

JailSpec good() {
    JailSpec spec;
    spec.argv = {"/bin/true"};
    spec.env = {"PATH=/usr/bin:/bin"};
    spec.mounts = {{.kind = MountKind::kBind, .source = "/usr", .target = "/usr"},
                   {.kind = MountKind::kTmpfs, .target = "/tmp", .size_bytes = 1 << 20}};
    return spec;
}

// Each broken spec must be refused with INVALID_INPUT naming the field.
void expect_invalid(const std::function<void(JailSpec&)>& breakit, const std::string& field) {
    JailSpec spec = good();
    breakit(spec);
    auto r = validate(spec);
    ASSERT_FALSE(r.has_value()) << "accepted a spec with a bad " << field;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    EXPECT_TRUE(r.error().message().starts_with(field)) << r.error().message();
}

TEST(JailSpec, GoodSpecPasses) { EXPECT_TRUE(validate(good()).has_value()); }

TEST(JailSpec, RefusesEachBadField) {
    expect_invalid([](JailSpec& s) { s.argv.clear(); }, "argv");
    expect_invalid([](JailSpec& s) { s.argv = {""}; }, "argv");
    expect_invalid([](JailSpec& s) { s.argv.push_back(std::string("a\0b", 3)); }, "argv[1]");
    expect_invalid([](JailSpec& s) { s.argv = {"bin/../true"}; }, "argv[0]");
    expect_invalid([](JailSpec& s) { s.env.push_back("NOEQUALS"); }, "env[1]");
    expect_invalid([](JailSpec& s) { s.env.push_back("=value"); }, "env[1]");
    expect_invalid([](JailSpec& s) { s.env.push_back(std::string(2 << 20, 'x') + "=1"); },
                   "argv/env");
    expect_invalid([](JailSpec& s) { s.cwd = "relative"; }, "cwd");
    expect_invalid([](JailSpec& s) { s.cwd = "/home/../etc"; }, "cwd");
    expect_invalid([](JailSpec& s) { s.mounts[0].target = "/"; }, "mounts[0].target");
    expect_invalid([](JailSpec& s) { s.mounts[0].target = "/a//b"; }, "mounts[0].target");
    expect_invalid([](JailSpec& s) { s.mounts[0].source = "usr"; }, "mounts[0].source");
    expect_invalid([](JailSpec& s) { s.mounts[1].size_bytes = 0; }, "mounts[1].size_bytes");
    expect_invalid([](JailSpec& s) { s.mounts[1].mode = 010000; }, "mounts[1].mode");
    expect_invalid(
        [](JailSpec& s) {
            s.mounts.push_back({.kind = MountKind::kFile,
                                .source = std::string(2 << 20, 'x'),
                                .target = "/etc/big"});
        },
        "mounts[2].source");
    expect_invalid(
        [](JailSpec& s) { s.mounts.push_back({.kind = MountKind::kSymlink, .target = "/l"}); },
        "mounts[2].source");
    expect_invalid([](JailSpec& s) { s.mounts.resize(300, s.mounts[1]); }, "mounts");
    expect_invalid(
        [](JailSpec& s) {
            s.mounts.push_back({.kind = MountKind::kOverlay, .source = "/srv/b", .target = "/w"});
        },
        "mounts[2].size_bytes");
    expect_invalid(
        [](JailSpec& s) {
            s.mounts.push_back({.kind = MountKind::kOverlay,
                                .source = "b",
                                .target = "/w",
                                .size_bytes = 1 << 20});
        },
        "mounts[2].source");
    expect_invalid([](JailSpec& s) { s.identity.run_uid = 0; }, "identity.run_uid");
    expect_invalid([](JailSpec& s) { s.identity.run_gid = 70000; }, "identity.run_gid");
    expect_invalid([](JailSpec& s) { s.identity.range = 0; }, "identity.range");
    expect_invalid([](JailSpec& s) { s.identity.host_base = 0xFFFFFF00u; }, "identity.host_base");
    expect_invalid([](JailSpec& s) { s.limits.memory_bytes = 1024; }, "limits.memory_bytes");
    expect_invalid([](JailSpec& s) { s.limits.max_pids = 0; }, "limits.max_pids");
    expect_invalid([](JailSpec& s) { s.limits.cpu_millicores = 1; }, "limits.cpu_millicores");
    expect_invalid([](JailSpec& s) { s.limits.max_open_files = 2; }, "limits.max_open_files");
    expect_invalid([](JailSpec& s) { s.limits.stack_bytes = 1024; }, "limits.stack_bytes");
    expect_invalid([](JailSpec& s) { s.output.stdout_max_bytes = 0; }, "output.stdout_max_bytes");
    expect_invalid([](JailSpec& s) { s.output.stderr_tail_bytes = 0; }, "output.stderr_tail_bytes");
    expect_invalid([](JailSpec& s) { s.timeout = std::chrono::milliseconds(0); }, "timeout");
    expect_invalid([](JailSpec& s) { s.hostname = "bad host"; }, "hostname");
    expect_invalid([](JailSpec& s) { s.hostname = ""; }, "hostname");
}

TEST(JailSpec, CleanAbsolutePaths) {
    EXPECT_TRUE(is_clean_absolute_path("/"));
    EXPECT_TRUE(is_clean_absolute_path("/usr/lib"));
    EXPECT_TRUE(is_clean_absolute_path("/a.b/..c"));
    EXPECT_FALSE(is_clean_absolute_path(""));
    EXPECT_FALSE(is_clean_absolute_path("usr"));
    EXPECT_FALSE(is_clean_absolute_path("/usr/"));
    EXPECT_FALSE(is_clean_absolute_path("/usr//lib"));
    EXPECT_FALSE(is_clean_absolute_path("/usr/./lib"));
    EXPECT_FALSE(is_clean_absolute_path("/usr/../etc"));
    EXPECT_FALSE(is_clean_absolute_path("/" + std::string(300, 'a')));
    EXPECT_FALSE(is_clean_absolute_path(std::string("/a\0b", 4)));
}

}  // namespace
}  // namespace orchagent::sandbox
