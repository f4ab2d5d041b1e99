// Capabilities: nothing survives into the program. The bounding set is emptied (so no exec
// can regain a capability), the ambient set cleared, the ids switched to the run user, and
// the permitted, effective and inheritable sets emptied explicitly (a uid change clears
// only permitted and effective, and only when leaving root).
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fstream>

#include "sandbox/steps.hpp"

namespace orchagent::sandbox {

Result<void> plan_caps(ChildPlan& plan) {
    // The running kernel may know more capabilities than our headers: ask it, once.
    static const int last_cap = [] {
        std::ifstream last("/proc/sys/kernel/cap_last_cap");
        int value = 0;
        return last >> value && value > 0 ? value : CAP_LAST_CAP;
    }();
    plan.last_cap = last_cap;
    plan.empty_caps = ::cap_init();  // every set empty
    if (plan.empty_caps == nullptr) return fail_errno("cap_init", "");
    return {};
}

void release_caps(ChildPlan& plan) {
    if (plan.empty_caps != nullptr) ::cap_free(plan.empty_caps);
    plan.empty_caps = nullptr;
}

int child_drop_caps(const ChildPlan& plan) noexcept {
    for (int cap = 0; cap <= plan.last_cap; ++cap) {
        if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) return errno;
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return errno;
    // Raw system calls, not glibc's wrappers: in a process that shares our memory glibc
    // believes it is multithreaded and would broadcast the change to the daemon's threads
    // under a lock (__nptl_setxid) that a SIGKILLed daemon's thread may hold forever.
    if (::syscall(SYS_setresgid, plan.run_gid, plan.run_gid, plan.run_gid) != 0) return errno;
    if (::syscall(SYS_setresuid, plan.run_uid, plan.run_uid, plan.run_uid) != 0) return errno;
    if (::cap_set_proc(plan.empty_caps) != 0) return errno;
    return 0;
}

}  // namespace orchagent::sandbox
