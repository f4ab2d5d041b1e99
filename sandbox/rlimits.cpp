// rlimits: always NOFILE, FSIZE, CORE (0) and STACK. Without a cgroup, RLIMIT_AS and
// RLIMIT_NPROC stand in for the memory and pids limits: coarser (AS counts address space,
// not resident memory; NPROC counts the host user's processes, which is why every slot
// gets its own host uid) but still a bound.
#include <sys/resource.h>

#include "sandbox/steps.hpp"

namespace orchagent::sandbox {

void plan_rlimits(const Limits& limits, bool without_cgroups, ChildPlan& plan) {
    auto both = [](uint64_t v) { return rlimit{v, v}; };
    plan.rlimits = {
        {RLIMIT_NOFILE, both(limits.max_open_files)},
        {RLIMIT_FSIZE, both(limits.max_file_bytes)},
        {RLIMIT_CORE, both(0)},
        {RLIMIT_STACK, both(limits.stack_bytes)},
    };
    if (without_cgroups) {
        plan.rlimits.push_back({RLIMIT_AS, both(limits.memory_bytes)});
        plan.rlimits.push_back({RLIMIT_NPROC, both(limits.max_pids)});
    }
}

int child_apply_rlimits(const ChildPlan& plan, bool address_space) noexcept {
    for (const auto& limit : plan.rlimits) {
        // RLIMIT_AS comes last, just before execve: the child shares the daemon's (large)
        // address space until then, so no mapping at all would succeed once it is set.
        if ((limit.resource == RLIMIT_AS) != address_space) continue;
        rlimit current{};
        if (::getrlimit(limit.resource, &current) != 0) return errno;
        // A hard limit can only go down (no CAP_SYS_RESOURCE): never ask for more than now.
        rlimit wanted = limit.value;
        if (current.rlim_max != RLIM_INFINITY && wanted.rlim_max > current.rlim_max) {
            wanted.rlim_max = current.rlim_max;
        }
        if (wanted.rlim_cur > wanted.rlim_max) wanted.rlim_cur = wanted.rlim_max;
        if (::setrlimit(limit.resource, &wanted) != 0) return errno;
    }
    return 0;
}

}  // namespace orchagent::sandbox
