#include "runtime/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace orchagent::runtime {

namespace {
constexpr size_t kMaxBuckets = 100'000;  // idle full buckets are dropped beyond this
}

RateState RateLimiter::settle(Bucket& b, int64_t limit, int64_t now_ms, bool take) {
    const double per_ms = static_cast<double>(limit) / 60'000.0;
    const int64_t elapsed = std::max<int64_t>(0, now_ms - b.updated_ms);
    b.tokens = std::min(static_cast<double>(limit), b.tokens + elapsed * per_ms);
    b.updated_ms = now_ms;
    RateState s{.limit = limit};
    if (take) {
        if (b.tokens >= 1.0) {
            b.tokens -= 1.0;
        } else {
            s.allowed = false;
            s.retry_after_seconds =
                std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - b.tokens) / per_ms / 1000.0)));
        }
    }
    s.remaining = static_cast<int64_t>(std::floor(b.tokens));
    s.reset_seconds = static_cast<int64_t>(std::ceil((limit - b.tokens) / per_ms / 1000.0));
    return s;
}

RateState RateLimiter::take(const std::string& key_id, int64_t limit, int64_t now_ms) {
    if (limit <= 0) return RateState{.limit = 0};  // unlimited
    std::lock_guard lock(mutex_);
    if (buckets_.size() >= kMaxBuckets) {
        std::erase_if(buckets_, [&](const auto& kv) {
            return now_ms - kv.second.updated_ms > 60'000;  // full again by now
        });
    }
    auto [it, fresh] = buckets_.try_emplace(key_id, Bucket{static_cast<double>(limit), now_ms});
    return settle(it->second, limit, now_ms, true);
}

RateState RateLimiter::peek(const std::string& key_id, int64_t limit, int64_t now_ms) {
    if (limit <= 0) return RateState{.limit = 0};
    std::lock_guard lock(mutex_);
    auto it = buckets_.find(key_id);
    if (it == buckets_.end()) return RateState{.limit = limit, .remaining = limit};
    return settle(it->second, limit, now_ms, false);
}

}  // namespace orchagent::runtime
