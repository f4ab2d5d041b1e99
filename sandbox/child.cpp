// The child's linear list of steps (see child.hpp). Read top to bottom, it is the jail.
#include "sandbox/child.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "sandbox/spawn.hpp"
#include "sandbox/steps.hpp"

namespace orchagent::sandbox {
namespace {

[[noreturn]] void report_and_exit(const ChildPlan& plan, ChildStep step, int err,
                                  int32_t index = -1) noexcept {
    ChildFailure failure{static_cast<uint32_t>(step), err, index};
    // A short write to a pipe of this size is atomic; nothing useful to do if it fails.
    [[maybe_unused]] ssize_t n = ::write(plan.status_fd, &failure, sizeof failure);
    ::_exit(127);
}

int wait_for_parent(const ChildPlan& plan) noexcept {
    char go = 0;
    ssize_t n;
    do {
        n = ::read(plan.sync_fd, &go, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) return n < 0 ? errno : EPIPE;  // the parent gave up
    return 0;
}

// Moving our own single thread through a v1 `tasks` file skips the global lock a
// cgroup.procs write takes (see RunCgroup::v1_task_files). We are still host root here: the
// files are root's, and the id change comes next.
int join_cgroups(const ChildPlan& plan) noexcept {
    for (const char* file : plan.cgroup_task_files) {
        int fd = ::open(file, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return errno;
        ssize_t n = ::write(fd, "0", 1);
        int err = n == 1 ? 0 : errno;
        ::close(fd);
        if (err != 0) return err;
    }
    return 0;
}

int reset_signals() noexcept {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        // EINVAL: glibc's reserved real-time signals; they have no handler to reset.
        if (::sigaction(sig, &dfl, nullptr) != 0 && errno != EINVAL) return errno;
    }
    return 0;
}

int setup_stdio(const ChildPlan& plan) noexcept {
    // All plan fds are >= 3, so these dup2s never clobber one another.
    if (::dup2(plan.stdin_fd, 0) < 0) return errno;
    if (::dup2(plan.stdout_fd, 1) < 0) return errno;
    if (::dup2(plan.stderr_fd, 2) < 0) return errno;
    // Everything else we inherited from the daemon closes at exec, the status pipe included.
    if (::syscall(SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) != 0) return errno;
    ::umask(022);
    return 0;
}

int new_session() noexcept { return ::setsid() < 0 ? errno : 0; }

int change_dir(const ChildPlan& plan) noexcept { return ::chdir(plan.cwd) == 0 ? 0 : errno; }

int set_hostname(const ChildPlan& plan) noexcept {
    return ::sethostname(plan.hostname, std::strlen(plan.hostname)) == 0 ? 0 : errno;
}

int unshare_cgroup_ns() noexcept { return ::unshare(CLONE_NEWCGROUP) == 0 ? 0 : errno; }

// First thing in the child: our copy of the sync pipe's write end closed (so a parent that
// dies before "go" is an EOF, not a wait forever) and the parent watched. The watch is set
// again after the id change, which clears it.
int watch_parent_early(const ChildPlan& plan) noexcept {
    if (plan.sync_write_fd >= 0) ::close(plan.sync_write_fd);
    return watch_parent(plan.parent_pidfd);
}

int die_with_parent(const ChildPlan& plan) noexcept { return watch_parent(plan.parent_pidfd); }

int unblock_signals() noexcept {
    sigset_t none;
    sigemptyset(&none);
    return ::sigprocmask(SIG_SETMASK, &none, nullptr) == 0 ? 0 : errno;
}

// Tries each candidate; ENOENT/ENOTDIR/EACCES move to the next, as execvp does.
[[noreturn]] void exec_program(const ChildPlan& plan) noexcept {
    // RLIMIT_AS only now: until execve we share the daemon's address space (see rlimits.cpp).
    if (int err = child_apply_rlimits(plan, true); err != 0) {
        report_and_exit(plan, ChildStep::kRlimits, err);
    }
    int last_err = ENOENT;
    int32_t index = -1;
    for (size_t i = 0; i < plan.exec_candidates.size(); ++i) {
        ::execve(plan.exec_candidates[i], plan.argv.data(), plan.envp.data());
        int err = errno;
        if (err != ENOENT && err != ENOTDIR && err != EACCES) {
            report_and_exit(plan, ChildStep::kExec, err, static_cast<int32_t>(i));
        }
        if (index < 0 || err == EACCES) {
            last_err = err;
            index = static_cast<int32_t>(i);
        }
    }
    report_and_exit(plan, ChildStep::kExec, last_err, index);
}

}  // namespace

int child_main(void* arg) noexcept {
    const ChildPlan& plan = *static_cast<const ChildPlan*>(arg);
    auto step = [&plan](ChildStep s, int err, int32_t index = -1) {
        if (err != 0) report_and_exit(plan, s, err, index);
    };
    int32_t index = -1;

    step(ChildStep::kParentDeath, watch_parent_early(plan));
    step(ChildStep::kWaitParent, plan.sync_fd >= 0 ? wait_for_parent(plan) : 0);
    step(ChildStep::kSignals, reset_signals());
    step(ChildStep::kCgroupJoin, join_cgroups(plan));
    step(ChildStep::kNetNs, plan.privileged ? child_join_slot_net(plan) : 0);
    step(ChildStep::kCgroupNs, unshare_cgroup_ns());
    int mounted = child_apply_mounts(plan, &index);
    step(ChildStep::kMounts, mounted, index);
    step(ChildStep::kPivotRoot, child_pivot_root(plan));
    step(ChildStep::kRootReadOnly, child_root_read_only());
    step(ChildStep::kHostname, set_hostname(plan));
    step(ChildStep::kLoopback, plan.privileged ? 0 : child_loopback_up());
    step(ChildStep::kListener, plan.listener_port != 0 ? child_make_listener(plan) : 0);
    step(ChildStep::kUserNs, plan.privileged ? child_join_slot_user(plan) : 0);
    step(ChildStep::kRlimits, child_apply_rlimits(plan, false));
    step(ChildStep::kStdio, setup_stdio(plan));
    step(ChildStep::kSession, new_session());
    step(ChildStep::kChdir, change_dir(plan));
    step(ChildStep::kDropCaps, child_drop_caps(plan));
    step(ChildStep::kParentDeath, die_with_parent(plan));
    step(ChildStep::kSeccomp, install_seccomp(*plan.seccomp));
    step(ChildStep::kSignals, unblock_signals());
    exec_program(plan);
}

const char* to_string(ChildStep step) {
    switch (step) {
        case ChildStep::kWaitParent:
            return "waiting for the parent";
        case ChildStep::kSignals:
            return "resetting signals";
        case ChildStep::kCgroupJoin:
            return "joining the run's cgroups";
        case ChildStep::kNetNs:
            return "joining the slot's network namespace";
        case ChildStep::kUserNs:
            return "joining the slot's user namespace";
        case ChildStep::kCgroupNs:
            return "cgroup namespace";
        case ChildStep::kMounts:
            return "mounting";
        case ChildStep::kPivotRoot:
            return "pivot_root";
        case ChildStep::kRootReadOnly:
            return "making the root read-only";
        case ChildStep::kHostname:
            return "sethostname";
        case ChildStep::kLoopback:
            return "bringing up loopback";
        case ChildStep::kListener:
            return "making the loopback listener";
        case ChildStep::kRlimits:
            return "setrlimit";
        case ChildStep::kStdio:
            return "setting up stdio";
        case ChildStep::kSession:
            return "setsid";
        case ChildStep::kChdir:
            return "chdir";
        case ChildStep::kDropCaps:
            return "dropping capabilities";
        case ChildStep::kParentDeath:
            return "PR_SET_PDEATHSIG";
        case ChildStep::kSeccomp:
            return "installing seccomp";
        case ChildStep::kExec:
            return "execve";
    }
    return "unknown step";
}

}  // namespace orchagent::sandbox
