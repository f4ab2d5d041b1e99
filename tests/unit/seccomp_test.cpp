// The default seccomp policy, checked against the real kernel: each case forks a child,
// installs the filter there and reports through its exit code what the call returned.
#include "sandbox/seccomp.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace orchagent::sandbox {
namespace {

constexpr int kInstallFailed = 250;         // child exit code: install_seccomp failed
constexpr int kThrew = 251;                 // child exit code: the body threw
constexpr int kKilledBy = 1000;             // result for a child killed by a signal: 1000 + signal
constexpr unsigned long kHigh = 1UL << 32;  // an upper bit the kernel truncates away

const SeccompProgram& program() {
    static const SeccompProgram built = [] {
        auto result = build_default_seccomp();
        EXPECT_TRUE(result.has_value()) << result.error().message();
        return result ? std::move(*result) : SeccompProgram{};
    }();
    return built;
}

// Runs `body` in a forked child, under the filter when `filtered`, and returns the child's
// exit code (body's return value) or kKilledBy + the signal that killed it.
int run_child(const std::function<int()>& body, bool filtered = true) {
    const SeccompProgram& prog = program();
    const pid_t pid = fork();
    if (pid == 0) {
        const rlimit no_core{0, 0};
        setrlimit(RLIMIT_CORE, &no_core);  // SIGSYS would dump core otherwise
        if (filtered && install_seccomp(prog) != 0) _exit(kInstallFailed);
        int code = kThrew;
        try {
            code = body();
        } catch (...) {  // must not unwind into gtest: the child would run the other tests
        }
        _exit(code);
    }
    if (pid < 0) return -1;
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    if (WIFSIGNALED(status)) return kKilledBy + WTERMSIG(status);
    return WEXITSTATUS(status);
}

// What a syscall-style call (-1 and errno on failure) saw in the child: its errno, or 0.
int errno_in_child(const std::function<long()>& call, bool filtered = true) {
    return run_child([&] { return call() == -1 ? errno : 0; }, filtered);
}

// clone through the raw syscall (glibc's wrapper wants a stack); the new child exits at once.
long raw_clone(unsigned long flags) {
    const long pid = syscall(SYS_clone, flags, nullptr, nullptr, nullptr, nullptr);
    if (pid == 0) _exit(0);
    if (pid > 0) waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return pid > 0 ? 0 : -1;
}

// Runs `call` with fd 0 on /dev/null, so a TIOCSTI that got through could not reach a tty.
long on_dev_null_stdin(const std::function<long()>& call) {
    const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || dup2(fd, 0) != 0) return -2;
    return call();
}

TEST(SeccompTest, ProgramIsNonEmptyAndChecksArchFirst) {
    const auto& insns = program().instructions;
    ASSERT_FALSE(insns.empty());
    EXPECT_LE(insns.size(), static_cast<std::size_t>(BPF_MAXINSNS));
    EXPECT_EQ(insns[0].code, BPF_LD | BPF_W | BPF_ABS);
    EXPECT_EQ(insns[0].k, offsetof(seccomp_data, arch));
}

TEST(SeccompTest, InstallSetsNoNewPrivs) {
    EXPECT_EQ(run_child([] { return prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 ? 0 : 1; }), 0);
}

TEST(SeccompTest, InstallRefusesAnEmptyProgram) {
    EXPECT_EQ(install_seccomp(SeccompProgram{}), EINVAL);
}

struct DeniedCall {
    const char* name;
    std::function<long()> call;
};

// Arguments chosen so that, without the filter, each call fails with something other than
// EPERM or succeeds harmlessly (checked below), so EPERM can only come from the filter.
// vhangup and kexec_load are left out: without the filter they would act for real.
std::vector<DeniedCall> denied_calls() {
    const char* missing = "/proc/self/orchagent-missing";
    const pid_t self = getpid();
    return {
        {"mount", [=] { return syscall(SYS_mount, "none", missing, "tmpfs", 0, nullptr); }},
        {"umount2", [=] { return syscall(SYS_umount2, missing, 0); }},
        {"pivot_root", [=] { return syscall(SYS_pivot_root, missing, missing); }},
        {"move_mount", [] { return syscall(SYS_move_mount, -1, "", -1, "", 0); }},
        {"open_tree", [] { return syscall(SYS_open_tree, -1, "", 0); }},
        {"fsopen", [] { return syscall(SYS_fsopen, "orchagent-nofs", 0); }},
        {"fsconfig", [] { return syscall(SYS_fsconfig, -1, 0, nullptr, nullptr, 0); }},
        {"fsmount", [] { return syscall(SYS_fsmount, -1, 0, 0); }},
        {"fspick", [] { return syscall(SYS_fspick, -1, "", 0); }},
        {"mount_setattr", [] { return syscall(SYS_mount_setattr, -1, "", 0, nullptr, 0); }},
        {"chroot", [=] { return syscall(SYS_chroot, missing); }},
        {"unshare", [] { return syscall(SYS_unshare, CLONE_NEWUSER); }},
        {"setns", [] { return syscall(SYS_setns, -1, 0); }},
        {"keyctl",
         [] { return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0); }},
        {"add_key", [] { return syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0); }},
        {"request_key", [] { return syscall(SYS_request_key, nullptr, nullptr, nullptr, 0); }},
        {"bpf", [] { return syscall(SYS_bpf, 0, nullptr, 0); }},
        {"perf_event_open", [] { return syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0); }},
        {"ptrace", [] { return syscall(SYS_ptrace, PTRACE_CONT, 1, nullptr, nullptr); }},
        {"process_vm_readv",
         [=] { return syscall(SYS_process_vm_readv, self, nullptr, 0, nullptr, 0, 0); }},
        {"process_vm_writev",
         [=] { return syscall(SYS_process_vm_writev, self, nullptr, 0, nullptr, 0, 0); }},
        {"kcmp", [=] { return syscall(SYS_kcmp, self, self, 0, 0, 0); }},
        {"init_module", [] { return syscall(SYS_init_module, nullptr, 0, ""); }},
        {"finit_module", [] { return syscall(SYS_finit_module, -1, "", 0); }},
        {"delete_module", [] { return syscall(SYS_delete_module, "orchagent_missing", 0); }},
        {"kexec_file_load", [] { return syscall(SYS_kexec_file_load, -1, -1, 0, "", 0); }},
        {"reboot", [] { return syscall(SYS_reboot, 0, 0, 0, nullptr); }},
        {"swapon", [=] { return syscall(SYS_swapon, missing, 0); }},
        {"swapoff", [=] { return syscall(SYS_swapoff, missing); }},
        {"acct", [=] { return syscall(SYS_acct, missing); }},
        {"userfaultfd", [] { return syscall(SYS_userfaultfd, O_CLOEXEC); }},
        {"io_uring_setup", [] { return syscall(SYS_io_uring_setup, 0, nullptr); }},
        {"io_uring_enter", [] { return syscall(SYS_io_uring_enter, -1, 0, 0, 0, nullptr, 0); }},
        {"io_uring_register", [] { return syscall(SYS_io_uring_register, -1, 0, nullptr, 0); }},
        {"open_by_handle_at", [] { return syscall(SYS_open_by_handle_at, -1, nullptr, 0); }},
        {"name_to_handle_at",
         [] { return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", nullptr, nullptr, 0); }},
        {"settimeofday", [] { return syscall(SYS_settimeofday, nullptr, nullptr); }},
        {"clock_settime", [] { return syscall(SYS_clock_settime, CLOCK_REALTIME, nullptr); }},
        {"clock_adjtime", [] { return syscall(SYS_clock_adjtime, CLOCK_REALTIME, nullptr); }},
        {"adjtimex", [] { return syscall(SYS_adjtimex, nullptr); }},
        {"syslog", [] { return syscall(SYS_syslog, 10, nullptr, 0); }},  // SIZE_BUFFER
        {"quotactl", [] { return syscall(SYS_quotactl, 0, nullptr, 0, nullptr); }},
        {"quotactl_fd", [] { return syscall(SYS_quotactl_fd, -1, 0, 0, nullptr); }},
        {"lookup_dcookie", [] { return syscall(SYS_lookup_dcookie, 0, nullptr, 0); }},
        {"nfsservctl", [] { return syscall(SYS_nfsservctl, 0, nullptr, nullptr); }},
        {"pidfd_getfd", [] { return syscall(SYS_pidfd_getfd, -1, 0, 0); }},
        {"iopl", [] { return syscall(SYS_iopl, 0); }},
        {"ioperm", [] { return syscall(SYS_ioperm, 0, 0, 0); }},
        {"fanotify_init", [] { return syscall(SYS_fanotify_init, 0, 0); }},
        {"clone3",
         [] {  // struct clone_args v0: 8 u64, exit_signal at index 4
             std::uint64_t args[8] = {0, 0, 0, 0, SIGCHLD, 0, 0, 0};
             const long pid = syscall(SYS_clone3, args, sizeof(args));
             if (pid == 0) _exit(0);
             return pid > 0 ? 0L : -1L;
         }},
    };
}

TEST(SeccompTest, DeniedSyscallsFailWithEperm) {
    for (const auto& denied : denied_calls()) {
        SCOPED_TRACE(denied.name);
        const int expected = std::string_view(denied.name) == "clone3" ? ENOSYS : EPERM;
        EXPECT_NE(errno_in_child(denied.call, /*filtered=*/false), expected);
        EXPECT_EQ(errno_in_child(denied.call), expected);
    }
}

TEST(SeccompTest, CloneWithAnyNamespaceFlagIsDenied) {
    for (unsigned long flag : {CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                               CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWTIME}) {
        SCOPED_TRACE(flag);
        EXPECT_EQ(errno_in_child([=] { return raw_clone(flag | SIGCHLD); }), EPERM);
    }
    EXPECT_EQ(errno_in_child([] { return raw_clone(CLONE_NEWUSER | CLONE_NEWPID | SIGCHLD); }),
              EPERM);
}

TEST(SeccompTest, PlainCloneForkAndThreadsStillWork) {
    EXPECT_EQ(errno_in_child([] { return raw_clone(SIGCHLD); }), 0);
    EXPECT_EQ(run_child([] {
                  const pid_t pid = fork();
                  if (pid == 0) _exit(7);
                  int status = 0;
                  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
                  return WIFEXITED(status) && WEXITSTATUS(status) == 7 ? 0 : 2;
              }),
              0);
    // pthread_create tries clone3 first and falls back to clone on ENOSYS.
    EXPECT_EQ(run_child([] {
                  int ran = 0;
                  std::thread([&] { ran = 1; }).join();
                  return ran == 1 ? 0 : 1;
              }),
              0);
}

TEST(SeccompTest, OrdinaryProgramsStillRun) {
    EXPECT_EQ(run_child([] {
                  execl("/bin/sh", "sh", "-c", "ls / >/dev/null || exit 1; exit 3", nullptr);
                  return 127;
              }),
              3);
}

TEST(SeccompTest, TiocstiAndTioclinuxDeniedOnAll64Bits) {
    const unsigned long sti = TIOCSTI;
    const unsigned long linux_cmd = TIOCLINUX;
    for (unsigned long cmd : {sti, sti | kHigh, linux_cmd, linux_cmd | kHigh}) {
        SCOPED_TRACE(cmd);
        char byte = 'x';
        auto call = [&] {
            return on_dev_null_stdin([&] { return syscall(SYS_ioctl, 0, cmd, &byte); });
        };
        EXPECT_EQ(errno_in_child(call, /*filtered=*/false), ENOTTY);
        EXPECT_EQ(errno_in_child(call), EPERM);
    }
    // Other ioctls still reach the driver.
    EXPECT_EQ(errno_in_child([] {
                  return on_dev_null_stdin([] {
                      int pending = 0;
                      return syscall(SYS_ioctl, 0, FIONREAD, &pending);
                  });
              }),
              ENOTTY);
}

long open_socket(unsigned long family, int type, int protocol) {
    const long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, protocol);
    if (fd >= 0) close(static_cast<int>(fd));
    return fd >= 0 ? 0 : -1;
}

TEST(SeccompTest, VsockAndNetlinkAuditSocketsDenied) {
    EXPECT_EQ(errno_in_child([] { return open_socket(AF_VSOCK, SOCK_STREAM, 0); }), EPERM);
    EXPECT_EQ(errno_in_child([] { return open_socket(AF_VSOCK | kHigh, SOCK_STREAM, 0); }), EPERM);
    EXPECT_EQ(errno_in_child([] { return open_socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT); }),
              EPERM);
    EXPECT_EQ(errno_in_child([] { return open_socket(AF_INET, SOCK_STREAM, 0); }), 0);
    EXPECT_EQ(errno_in_child([] { return open_socket(AF_UNIX, SOCK_STREAM, 0); }), 0);
    EXPECT_EQ(errno_in_child([] { return open_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE); }), 0);
}

TEST(SeccompTest, PersonalityOnlyLinuxOrQuery) {
    EXPECT_EQ(errno_in_child([] { return syscall(SYS_personality, 0x0008); }), EPERM);
    EXPECT_EQ(errno_in_child([] { return syscall(SYS_personality, 0xffffffffUL); }), 0);
    EXPECT_EQ(errno_in_child([] { return syscall(SYS_personality, 0UL); }), 0);
    // Sweep: denied exactly when the low 32 bits (all the kernel reads) are neither 0 nor ~0.
    EXPECT_EQ(run_child([] {
                  std::vector<unsigned long> values = {
                      0x0008 | kHigh, kHigh, ~0UL, ~0UL << 32, 0x7fffffff, 0xfffffffe, 0x00420008};
                  for (unsigned i = 0; i < 64; ++i) {
                      values.push_back(1UL << i);
                      values.push_back(~(1UL << i));
                      values.push_back(0xffffffffUL & ~(1UL << (i % 32)));
                  }
                  int wrong = 0;
                  for (unsigned long value : values) {
                      const std::uint32_t low = static_cast<std::uint32_t>(value);
                      const bool should_deny = low != 0 && low != 0xffffffffU;
                      const long rc = syscall(SYS_personality, value);
                      const bool denied = rc == -1 && errno == EPERM;
                      if (denied != should_deny) ++wrong;
                  }
                  return wrong;
              }),
              0);
}

#if defined(__x86_64__)
long int80_getpid() {
    long ret = 20;  // __NR_getpid in the i386 table
    asm volatile("int $0x80" : "+a"(ret) : : "memory", "cc", "r8", "r9", "r10", "r11");
    return ret;
}

TEST(SeccompTest, I386SyscallIsKilled) {
    const int plain = run_child([] { return int80_getpid() == getpid() ? 0 : 1; }, false);
    if (plain != 0) GTEST_SKIP() << "no i386 emulation here (child result " << plain << ")";
    EXPECT_EQ(run_child([] { return static_cast<int>(int80_getpid() & 0x7f); }),
              kKilledBy + SIGSYS);
}

TEST(SeccompTest, X32SyscallIsKilled) {
    constexpr long kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT
    EXPECT_EQ(run_child([] { return syscall(kX32Bit | SYS_getpid) == -1 ? 1 : 0; }),
              kKilledBy + SIGSYS);
}
#endif

}  // namespace
}  // namespace orchagent::sandbox

namespace orchagent::sandbox {
namespace {

// Syscalls newer than the deny-list (here: numbers libseccomp 2.5.4 does not know, such as
// 462 mseal or 467 open_tree_attr) answer ENOSYS, as on an older kernel.
TEST(SeccompTest, SyscallsNewerThanThePolicyAnswerEnosys) {
    for (long nr : {462L, 467L, 500L, 511L}) {
        EXPECT_EQ(errno_in_child([nr] { return syscall(nr, 0, 0, 0, 0, 0, 0); }), ENOSYS)
            << "syscall " << nr;
    }
    // Known ones below the cut still reach the kernel.
    EXPECT_EQ(errno_in_child([] { return syscall(SYS_getpid) > 0 ? 0L : -1L; }), 0);
}

}  // namespace
}  // namespace orchagent::sandbox
