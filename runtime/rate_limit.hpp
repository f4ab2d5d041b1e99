// Per-key rate limits on agent calls: a token bucket per API key, refilled continuously
// (limit per minute, bursts up to the limit). Buckets live in this process: several daemons
// sharing a store each enforce the limit on what they receive (docs/operator.md).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace orchagent::runtime {

struct RateState {
    bool allowed = true;
    int64_t limit = 0;            // calls per minute
    int64_t remaining = 0;        // whole calls left now
    int64_t reset_seconds = 0;    // until the bucket is full again
    int64_t retry_after_seconds = 0;  // when refused: until one call is allowed
};

class RateLimiter {
  public:
    // Takes one call from the key's bucket if there is one.
    RateState take(const std::string& key_id, int64_t limit_per_minute, int64_t now_ms);
    // The bucket as it stands, taking nothing (for the headers of other responses).
    RateState peek(const std::string& key_id, int64_t limit_per_minute, int64_t now_ms);

  private:
    struct Bucket {
        double tokens;
        int64_t updated_ms;
    };
    RateState settle(Bucket& b, int64_t limit, int64_t now_ms, bool take);

    std::mutex mutex_;
    std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace orchagent::runtime
