// What happened to a run: a plain value, metered from the run's own cgroup.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace orchagent::sandbox {

enum class LimitsMode {
    kCgroupV2,    // memory, pids, cpu through a cgroup v2 group
    kCgroupV1,    // memory, pids, cpu(acct) through cgroup v1 groups (v2 only to kill, if any)
    kRlimitOnly,  // no cgroup could be made: RLIMIT_AS and RLIMIT_NPROC stand in (see warnings)
};

struct JailResult {
    int exit_code = -1;             // when the program exited; -1 when a signal ended it
    int term_signal = 0;            // the signal that ended it, 0 when it exited
    bool timed_out = false;         // the deadline passed; the whole tree was killed
    bool oom_killed = false;        // the memory limit killed a process of the tree
    bool stdout_overflow = false;   // stdout passed its cap; the whole tree was killed
    bool stderr_truncated = false;  // stderr passed its cap; stderr_tail holds the last bytes

    std::string stdout_data;    // everything up to the cap
    std::string stderr_tail;    // the last stderr_tail_bytes bytes
    uint64_t stdout_bytes = 0;  // bytes the program wrote (counted up to the kill)
    uint64_t stderr_bytes = 0;

    std::chrono::microseconds wall{0};        // spawn to the last process of the tree gone
    std::chrono::microseconds cpu_user{0};    // whole tree
    std::chrono::microseconds cpu_system{0};  // whole tree
    uint64_t peak_memory_bytes = 0;           // whole tree
    uint32_t peak_pids = 0;                   // 0 where the kernel does not keep it (v1)

    LimitsMode limits_mode = LimitsMode::kRlimitOnly;
    std::vector<std::string> warnings;  // e.g. the rlimit-only fallback

    bool succeeded() const {
        return exit_code == 0 && !timed_out && !oom_killed && !stdout_overflow;
    }
};

const char* to_string(LimitsMode mode);

}  // namespace orchagent::sandbox
