// Wall-clock time in milliseconds since the epoch, and its RFC 3339 / HTTP-date spellings.
// The daemon's clock can be moved by an operator-owned offset file (--clock-offset-file),
// which is how tests check 60-day deprecation windows without waiting 60 days.
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace orchagent {

class Clock {
  public:
    Clock() = default;
    // now = system time + the integer number of seconds written in `path` (re-read when
    // the file's modification time changes; a missing or unparsable file means 0).
    explicit Clock(std::string offset_file) : offset_file_(std::move(offset_file)) {}

    int64_t now_ms() const;

  private:
    std::string offset_file_;
    mutable std::mutex mutex_;
    mutable int64_t offset_ms_ = 0;
    mutable int64_t file_mtime_ns_ = -1;
};

int64_t system_now_ms();
// "2026-11-29T08:25:20.123Z"
std::string format_rfc3339(int64_t epoch_ms);
// "Sun, 29 Nov 2026 08:25:20 GMT" (RFC 9110 IMF-fixdate)
std::string format_http_date(int64_t epoch_ms);
// Parses "2026-11-29T08:25:20Z", with optional fraction and a Z or ±hh:mm offset.
std::optional<int64_t> parse_rfc3339(std::string_view text);

}  // namespace orchagent
