#include "core/clock.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <charconv>
#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

namespace orchagent {

int64_t system_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t Clock::now_ms() const {
    const int64_t now = system_now_ms();
    if (offset_file_.empty()) return now;
    struct stat st {};
    std::lock_guard lock(mutex_);
    if (::stat(offset_file_.c_str(), &st) != 0) {
        offset_ms_ = 0;
        file_mtime_ns_ = -1;
        return now;
    }
    const int64_t mtime = int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    if (mtime != file_mtime_ns_) {
        file_mtime_ns_ = mtime;
        std::ifstream in(offset_file_);
        long long seconds = 0;
        offset_ms_ = (in >> seconds) ? seconds * 1000 : 0;
    }
    return now + offset_ms_;
}

namespace {
std::tm utc_tm(int64_t epoch_ms) {
    std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000 - (epoch_ms % 1000 < 0 ? 1 : 0));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}
}  // namespace

std::string format_rfc3339(int64_t epoch_ms) {
    const std::tm tm = utc_tm(epoch_ms);
    const int ms = static_cast<int>(((epoch_ms % 1000) + 1000) % 1000);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

std::string format_http_date(int64_t epoch_ms) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::tm tm = utc_tm(epoch_ms);
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays[tm.tm_wday], tm.tm_mday,
                       kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::optional<int64_t> parse_rfc3339(std::string_view s) {
    auto num = [&](size_t pos, size_t len, int& out) {
        if (pos + len > s.size()) return false;
        auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
        return r.ec == std::errc() && r.ptr == s.data() + pos + len;
    };
    int y, mo, d, h, mi, sec;
    if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return std::nullopt;
    if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
        !num(17, 2, sec))
        return std::nullopt;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return std::nullopt;
    size_t pos = 19;
    int64_t frac_ms = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int digits = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (digits < 3) frac_ms = frac_ms * 10 + (s[pos] - '0');
            ++digits;
            ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (int i = digits; i < 3; ++i) frac_ms *= 10;
    }
    int64_t offset_s = 0;
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
        ++pos;
    } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
        int oh, om;
        if (!num(pos + 1, 2, oh) || !num(pos + 4, 2, om)) return std::nullopt;
        offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    using namespace std::chrono;
    const year_month_day date{year{y}, month{unsigned(mo)}, day{unsigned(d)}};
    if (!date.ok()) return std::nullopt;
    const auto days = sys_days(date);
    const int64_t secs = days.time_since_epoch().count() * 86400LL + h * 3600 + mi * 60 + sec;
    return (secs - offset_s) * 1000 + frac_ms;
}

}  // namespace orchagent
