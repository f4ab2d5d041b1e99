#include "runtime/skills.hpp"

#include <gtest/gtest.h>

namespace orchagent::runtime {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using List = std::vector<std::string>;

TEST(Skills, HeadersAddReplaceOrDropTheDefaultsUnlessLocked) {
    const List defaults{"acme/tone@v1", "acme/style"};
    auto add = parse_skill_headers({{"x-orchagent-skills", " acme/extra@v2 , acme/tone@v1"}});
    ASSERT_TRUE(add);
    EXPECT_EQ(effective_skills(defaults, false, *add), (List{"acme/tone@v1", "acme/style", "acme/extra@v2"}));
    auto only = parse_skill_headers({{"x-orchagent-skills-only", "x/y"}});
    EXPECT_EQ(effective_skills(defaults, false, *only), (List{"x/y"}));
    auto none = parse_skill_headers({{"x-orchagent-no-skills", "true"}, {"x-orchagent-skills", "x/y"}});
    EXPECT_EQ(effective_skills(defaults, false, *none), List{});
    EXPECT_EQ(effective_skills(defaults, true, *none), defaults);
    EXPECT_EQ(effective_skills(defaults, true, *only), defaults);
    EXPECT_EQ(effective_skills(defaults, false, *parse_skill_headers({})), defaults);
    EXPECT_EQ(effective_skills({}, false, *parse_skill_headers({{"x-orchagent-no-skills", "false"}})), List{});
}

TEST(Skills, BadHeadersAreNamed) {
    for (const Headers& bad : {Headers{{"x-orchagent-skills", "no-slash"}},
                               Headers{{"x-orchagent-skills-only", "a/b, ../etc"}},
                               Headers{{"x-orchagent-skills", "a/b@"}},
                               Headers{{"x-orchagent-no-skills", "yes"}}}) {
        auto r = parse_skill_headers(bad);
        ASSERT_FALSE(r) << bad[0].second;
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
        EXPECT_NE(r.error().message().find("X-Orchagent-"), std::string::npos) << r.error().message();
    }
    std::string many;
    for (size_t i = 0; i <= kMaxSkillsPerCall; ++i) many += "a/s" + std::to_string(i) + ",";
    EXPECT_FALSE(parse_skill_headers({{"x-orchagent-skills", many}}));
}

}  // namespace
}  // namespace orchagent::runtime
