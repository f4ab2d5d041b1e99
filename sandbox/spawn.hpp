// Creating the jail's first process: clone(CLONE_VM) so no page tables are copied however
// large the daemon is, and, when the run has a cgroup v2 group, clone3(CLONE_INTO_CGROUP)
// so the child is born in it instead of being moved there (see RunCgroup::v2_path).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "core/error.hpp"
#include "core/unique_fd.hpp"

namespace orchagent::sandbox {

struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
    bool in_cgroup = false;  // born in the v2 group (false: the caller must move it)
};

// Runs fn(arg) in a new process sharing our memory, on [stack, stack + stack_size), with
// `ns_flags` (CLONE_NEW*). Every signal is blocked across the clone; fn must reset handlers.
// `cgroup_fd` (an O_PATH fd of a v2 group, or -1): where the child is born, when the kernel
// and architecture allow clone3 with a stack (x86_64, Linux >= 5.7); otherwise it is born
// in our own group and in_cgroup says so.
Result<Spawned> spawn_vm_child(int (*fn)(void*), void* arg, void* stack, size_t stack_size,
                               uint64_t ns_flags, int cgroup_fd);

}  // namespace orchagent::sandbox
