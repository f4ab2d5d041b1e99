// core/clock and core/ids: time spellings, the offset file, keys and hashes.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/ids.hpp"

namespace orchagent {
namespace {

TEST(Clock, FormatsAndParsesRfc3339) {
    EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_rfc3339(1735689600123), "2025-01-01T00:00:00.123Z");
    EXPECT_EQ(parse_rfc3339("2025-01-01T00:00:00.123Z"), 1735689600123);
    EXPECT_EQ(parse_rfc3339("2025-01-01T01:00:00+01:00"), 1735689600000);
    EXPECT_EQ(parse_rfc3339("2025-01-01T00:00:00Z"), 1735689600000);
    EXPECT_FALSE(parse_rfc3339("2025-02-30T00:00:00Z"));
    EXPECT_FALSE(parse_rfc3339("2025-01-01 00:00:00Z"));
    EXPECT_FALSE(parse_rfc3339("2025-01-01T00:00:00"));
    EXPECT_FALSE(parse_rfc3339("yesterday"));
    const int64_t now = system_now_ms();
    EXPECT_EQ(parse_rfc3339(format_rfc3339(now)), now);
}

TEST(Clock, HttpDate) {
    EXPECT_EQ(format_http_date(1735689600000), "Wed, 01 Jan 2025 00:00:00 GMT");
    EXPECT_EQ(format_http_date(784111777000), "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST(Clock, OffsetFileMovesTheClock) {
    const auto path = std::filesystem::temp_directory_path() / ("clock-" + random_hex(4));
    Clock clock(path.string());
    EXPECT_NEAR(clock.now_ms(), system_now_ms(), 1000);  // no file: no offset
    std::ofstream(path) << 86400 << "\n";
    EXPECT_NEAR(clock.now_ms() - system_now_ms(), 86'400'000, 1000);
    std::this_thread::sleep_for(std::chrono::milliseconds(15));
    std::ofstream(path) << "garbage\n";
    EXPECT_NEAR(clock.now_ms(), system_now_ms(), 1000);
    std::filesystem::remove(path);
    EXPECT_NEAR(clock.now_ms(), system_now_ms(), 1000);
}

TEST(Ids, KeysAreLongRandomAndBase62) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string k = new_api_key();
        ASSERT_EQ(k.size(), 8u + 43u);
        ASSERT_TRUE(k.starts_with("sk_live_"));
        for (char c : k.substr(8)) ASSERT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << k;
        seen.insert(k);
    }
    EXPECT_EQ(seen.size(), 1000u);
    EXPECT_EQ(key_prefix("sk_live_abcdefgh"), "sk_live_abcd");
    EXPECT_TRUE(new_id("agt").starts_with("agt_"));
    EXPECT_EQ(new_id("agt").size(), 4u + 20u);
}

TEST(Ids, Sha256AndConstantTimeEqual) {
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_TRUE(constant_time_equal("secret", "secret"));
    EXPECT_FALSE(constant_time_equal("secret", "secreT"));
    EXPECT_FALSE(constant_time_equal("secret", "secrets"));
}

}  // namespace
}  // namespace orchagent
