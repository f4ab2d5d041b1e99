#include "sandbox/image.hpp"

#include <gtest/gtest.h>

namespace orchagent::sandbox {
namespace {

TEST(Image, ParsesEveryField) {
    auto image = parse_image(R"(
name: test
description: d
binds:
  - /usr
  - {source: /opt/x, target: /x, optional: true}
files:
  /etc/passwd: "user:x:1000:1000::/home/user:/bin/sh\n"
env:
  PATH: /usr/bin
)",
                             "test.yaml");
    ASSERT_TRUE(image.has_value()) << image.error().message();
    EXPECT_EQ(image->name, "test");
    ASSERT_EQ(image->mounts.size(), 3u);
    EXPECT_EQ(image->mounts[0].kind, MountKind::kBind);
    EXPECT_EQ(image->mounts[0].target, "/usr");
    EXPECT_FALSE(image->mounts[0].writable);
    EXPECT_EQ(image->mounts[1].source, "/opt/x");
    EXPECT_EQ(image->mounts[1].target, "/x");
    EXPECT_TRUE(image->mounts[1].optional);
    EXPECT_EQ(image->mounts[2].kind, MountKind::kFile);
    EXPECT_EQ(image->mounts[2].target, "/etc/passwd");
    auto env = jail_env(*image, {{"PATH", "/bin"}, {"X", "1"}});
    EXPECT_EQ(env, (std::vector<std::string>{"PATH=/bin", "X=1"}));
}

TEST(Image, RefusesWithLineNumbers) {
    struct Case {
        const char* yaml;
        const char* expected;
    };
    const Case cases[] = {
        {"name: x\nbogus: 1\n", "test.yaml:2: image: unknown key 'bogus'"},
        {"description: no name\n", "name: required"},
        {"name: Bad_Name\n", "name: [a-z0-9-]{1,64}"},
        {"name: x\nbinds: /usr\n", "binds: a list"},
        {"name: x\nbinds:\n  - usr\n", "normalised absolute"},
        {"name: x\nbinds:\n  - {source: /usr, extra: 1}\n", "unknown key 'extra'"},
        {"name: x\nbinds: [/usr]\nrootfs: /srv\n", "exclude each other"},
        {"name: x\nfiles:\n  etc/passwd: x\n", "not a clean absolute path"},
        {"name: [unclosed\n", "test.yaml:"},
    };
    for (const auto& c : cases) {
        auto image = parse_image(c.yaml, "test.yaml");
        ASSERT_FALSE(image.has_value()) << c.yaml;
        EXPECT_EQ(image.error().code(), ErrorCode::kInvalidInput);
        EXPECT_NE(image.error().message().find(c.expected), std::string::npos)
            << image.error().message();
    }
}

TEST(Image, DefaultImageLoads) {
    auto image = load_image(std::string(ORCHAGENT_TEST_SOURCE_DIR) + "/images/host.yaml");
    ASSERT_TRUE(image.has_value()) << image.error().message();
    EXPECT_EQ(image->name, "host");
    auto mounts = jail_mounts(*image, {});
    JailSpec spec;
    spec.argv = {"/bin/true"};
    spec.mounts = mounts;
    EXPECT_TRUE(validate(spec).has_value());
}

}  // namespace
}  // namespace orchagent::sandbox
