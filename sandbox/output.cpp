#include "sandbox/output.hpp"

#include <poll.h>
#include <unistd.h>

#include <array>

namespace orchagent::sandbox {
namespace {

constexpr size_t kChunk = 64 << 10;

enum class Drain { kOpen, kEof };

// Reads what is there without blocking. Keeps stdout up to its cap (reporting when the cap is
// passed) and only the tail of stderr.
class Sink {
  public:
    Sink(uint64_t cap, bool keep_tail, std::string& data, uint64_t& total)
        : cap_(cap), keep_tail_(keep_tail), data_(data), total_(total) {}

    Drain drain(int fd) {
        std::array<char, kChunk> buffer;
        for (;;) {
            ssize_t n = ::read(fd, buffer.data(), buffer.size());
            if (n == 0) return Drain::kEof;
            if (n < 0) {
                if (errno == EINTR) continue;
                return errno == EAGAIN ? Drain::kOpen : Drain::kEof;
            }
            total_ += static_cast<uint64_t>(n);
            append(buffer.data(), static_cast<size_t>(n));
        }
    }
    bool over_cap() const { return total_ > cap_; }
    bool truncated() const { return keep_tail_ && total_ > cap_; }
    void finish() {
        if (keep_tail_ && data_.size() > cap_) data_.erase(0, data_.size() - cap_);
    }

  private:
    void append(const char* p, size_t n) {
        if (!keep_tail_) {
            if (data_.size() < cap_) data_.append(p, std::min<uint64_t>(n, cap_ - data_.size()));
            return;
        }
        data_.append(p, n);
        // Trim lazily: at most 2x the cap is ever held.
        if (data_.size() > 2 * cap_ + kChunk) data_.erase(0, data_.size() - cap_);
    }

    uint64_t cap_;
    bool keep_tail_;
    std::string& data_;
    uint64_t& total_;
};

}  // namespace

Result<void> watch_run(const WatchedFds& fds, const OutputCaps& caps,
                       std::chrono::steady_clock::time_point deadline,
                       const std::function<void()>& kill_tree, JailResult& result) {
    Sink out(caps.stdout_max_bytes, false, result.stdout_data, result.stdout_bytes);
    Sink err(caps.stderr_tail_bytes, true, result.stderr_tail, result.stderr_bytes);
    bool out_open = true, err_open = true, killed = false;
    auto kill_once = [&] {
        if (!killed) kill_tree();
        killed = true;
    };

    for (;;) {
        std::array<pollfd, 3> pfds{{{fds.pidfd, POLLIN, 0},
                                    {out_open ? fds.stdout_fd : -1, POLLIN, 0},
                                    {err_open ? fds.stderr_fd : -1, POLLIN, 0}}};
        int timeout_ms = -1;
        if (!killed) {
            auto left = std::chrono::ceil<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
        }
        int n = ::poll(pfds.data(), pfds.size(), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            kill_once();
            return fail_errno("poll", "jail output");
        }
        if (n == 0 && !killed) {
            result.timed_out = true;
            kill_once();
            continue;
        }
        if (out_open && pfds[1].revents != 0) out_open = out.drain(fds.stdout_fd) == Drain::kOpen;
        if (err_open && pfds[2].revents != 0) err_open = err.drain(fds.stderr_fd) == Drain::kOpen;
        if (out.over_cap() && !result.stdout_overflow) {
            result.stdout_overflow = true;
            kill_once();
        }
        if (pfds[0].revents != 0) break;
    }
    // The tree is gone: take what is left in the pipes without waiting for an EOF that a
    // concurrent spawn (holding a copy of the write end until its own exec) could delay.
    if (out_open) out.drain(fds.stdout_fd);
    if (err_open) err.drain(fds.stderr_fd);
    if (out.over_cap()) result.stdout_overflow = true;
    err.finish();
    result.stderr_truncated = err.truncated();
    return {};
}

}  // namespace orchagent::sandbox
