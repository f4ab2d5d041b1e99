// The parent's side of a running jail: stdout and stderr drained with their caps, the
// deadline kept, and the moment the program's tree is gone noticed through its pidfd.
#pragma once

#include <chrono>
#include <functional>

#include "core/error.hpp"
#include "sandbox/jail_result.hpp"
#include "sandbox/jail_spec.hpp"

namespace orchagent::sandbox {

struct WatchedFds {
    int pidfd;      // readable once the jail's init (and with it the whole pid namespace) is gone
    int stdout_fd;  // non-blocking read ends
    int stderr_fd;
};

// Loops until the pidfd says the tree is gone. Calls `kill_tree` once when the deadline passes
// (sets timed_out) or stdout passes its cap (sets stdout_overflow). Fills the output fields.
Result<void> watch_run(const WatchedFds& fds, const OutputCaps& caps,
                       std::chrono::steady_clock::time_point deadline,
                       const std::function<void()>& kill_tree, JailResult& result);

}  // namespace orchagent::sandbox
