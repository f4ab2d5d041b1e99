#include "sandbox/spawn.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace orchagent::sandbox {
namespace {

// Blocks every signal for the lifetime of the object (the child inherits the full mask).
class AllSignalsBlocked {
  public:
    AllSignalsBlocked() {
        sigset_t all;
        sigfillset(&all);
        ::pthread_sigmask(SIG_SETMASK, &all, &saved_);
    }
    ~AllSignalsBlocked() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

  private:
    sigset_t saved_;
};

#if defined(__x86_64__)
// clone3 with a new stack cannot go through a C function: the child returns from the
// syscall on the new, empty stack. So the syscall, the call of fn and the exit are one asm
// block; fn and arg ride in r12/r13, which the syscall preserves. The kernel starts the
// child with rsp = stack + stack_size (16-byte aligned), so `call` leaves fn the ABI's
// alignment.
long clone3_running(clone_args* args, int (*fn)(void*), void* arg) {
    long ret;
    register int (*r12)(void*) asm("r12") = fn;
    register void* r13 asm("r13") = arg;
    asm volatile(
        "syscall\n\t"
        "testq %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        "xorl %%ebp, %%ebp\n\t"
        "movq %%r13, %%rdi\n\t"
        "callq *%%r12\n\t"
        "movl %%eax, %%edi\n\t"
        "movl %[exit_nr], %%eax\n\t"
        "syscall\n\t"
        "ud2\n\t"
        "1:\n\t"
        : "=a"(ret)
        : "0"(static_cast<long>(SYS_clone3)), "D"(args), "S"(sizeof(clone_args)), "r"(r12),
          "r"(r13), [exit_nr] "i"(SYS_exit)
        : "rcx", "r11", "memory", "cc");
    return ret;
}
constexpr bool kHaveClone3Trampoline = true;
#else
long clone3_running(clone_args*, int (*)(void*), void*) { return -ENOSYS; }
constexpr bool kHaveClone3Trampoline = false;
#endif

}  // namespace

int self_pidfd() {
    static const int fd = static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0));
    return fd;
}

int watch_parent(int parent_pidfd) noexcept {
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) return errno;
    if (parent_pidfd < 0) return 0;
    pollfd p{parent_pidfd, POLLIN, 0};
    int n;
    do {
        n = ::poll(&p, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n > 0 ? ESRCH : 0;  // readable: the daemon has exited
}

Result<Spawned> spawn_vm_child(int (*fn)(void*), void* arg, void* stack, size_t stack_size,
                               uint64_t ns_flags, int cgroup_fd) {
    AllSignalsBlocked blocked;
    Spawned spawned;
    int pidfd = -1;
    if (cgroup_fd >= 0 && kHaveClone3Trampoline) {
        clone_args args{};
        args.flags = CLONE_VM | CLONE_PIDFD | CLONE_INTO_CGROUP | ns_flags;
        args.pidfd = reinterpret_cast<uintptr_t>(&pidfd);
        args.exit_signal = SIGCHLD;
        args.stack = reinterpret_cast<uintptr_t>(stack);
        args.stack_size = stack_size;
        args.cgroup = static_cast<uint64_t>(cgroup_fd);
        long pid = clone3_running(&args, fn, arg);
        if (pid > 0) {
            spawned.pid = static_cast<pid_t>(pid);
            spawned.pidfd.reset(pidfd);
            spawned.in_cgroup = true;
            return spawned;
        }
        // ENOSYS/E2BIG: a kernel without clone3 or CLONE_INTO_CGROUP; fall back below.
        if (pid != -ENOSYS && pid != -E2BIG) {
            return std::unexpected(Error::from_errno(ErrorCode::kInternalError, "clone3",
                                                     "jail namespaces", static_cast<int>(-pid)));
        }
    }
    void* top = static_cast<char*>(stack) + stack_size;
    pid_t pid = ::clone(fn, top, static_cast<int>(CLONE_VM | CLONE_PIDFD | ns_flags) | SIGCHLD, arg,
                        &pidfd);
    if (pid < 0) {
        return std::unexpected(
            Error::from_errno(ErrorCode::kInternalError, "clone", "jail namespaces", errno));
    }
    spawned.pid = pid;
    spawned.pidfd.reset(pidfd);
    return spawned;
}

namespace {
constexpr size_t kHolderStackBytes = 64 << 10;
}  // namespace

Result<std::unique_ptr<NamespaceHolder>> NamespaceHolder::start(Work work, const void* arg,
                                                                uint64_t ns_flags) {
    std::unique_ptr<NamespaceHolder> holder(new NamespaceHolder());
    holder->work_ = work;
    holder->arg_ = arg;
    holder->parent_pidfd_ = self_pidfd();
    void* stack = ::mmap(nullptr, kHolderStackBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return fail_errno("mmap", "namespace holder stack");
    holder->stack_ = stack;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe2", "namespace holder");
    holder->go_read_.reset(fds[0]);
    holder->go_write_.reset(fds[1]);
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe2", "namespace holder");
    holder->status_read_.reset(fds[0]);
    holder->status_write_.reset(fds[1]);
    auto spawned = spawn_vm_child(&NamespaceHolder::main, holder.get(), stack, kHolderStackBytes,
                                  ns_flags, -1);
    if (!spawned) return std::unexpected(spawned.error());
    holder->spawned_ = std::move(*spawned);
    return holder;
}

int NamespaceHolder::main(void* self) noexcept {
    const auto& holder = *static_cast<const NamespaceHolder*>(self);
    // Our copies of the parent's ends: with them closed, the go pipe reads EOF once the
    // parent is gone, and a SIGKILLed daemon leaves no holder behind.
    ::close(holder.go_write_.get());
    ::close(holder.status_read_.get());
    if (watch_parent(holder.parent_pidfd_) != 0) ::_exit(1);
    char byte = 0;
    if (::read(holder.go_read_.get(), &byte, 1) != 1) ::_exit(1);
    int32_t result[2] = {0, -1};
    result[0] = holder.work_(holder.arg_, &result[1]);
    [[maybe_unused]] ssize_t n = ::write(holder.status_write_.get(), result, sizeof result);
    while (::read(holder.go_read_.get(), &byte, 1) > 0) {
    }
    ::_exit(0);
}

Result<std::pair<int, int32_t>> NamespaceHolder::run() {
    if (::write(go_write_.get(), "g", 1) != 1) return fail_errno("write", "namespace holder");
    int32_t result[2] = {0, -1};
    ssize_t n;
    do {
        n = ::read(status_read_.get(), result, sizeof result);
    } while (n < 0 && errno == EINTR);
    if (n != sizeof result) {
        return fail(ErrorCode::kInternalError, "namespace holder died before reporting");
    }
    return std::pair<int, int32_t>{result[0], result[1]};
}

Result<UniqueFd> NamespaceHolder::open_ns(std::string_view name) const {
    std::string path = "/proc/" + std::to_string(spawned_.pid) + "/ns/" + std::string(name);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open", path);
    return fd;
}

NamespaceHolder::~NamespaceHolder() {
    if (spawned_.pidfd) {
        ::syscall(SYS_pidfd_send_signal, spawned_.pidfd.get(), SIGKILL, nullptr, 0);
        siginfo_t info{};
        while (::waitid(P_PIDFD, static_cast<id_t>(spawned_.pidfd.get()), &info, WEXITED) != 0 &&
               errno == EINTR) {
        }
    }
    if (stack_ != nullptr) ::munmap(stack_, kHolderStackBytes);
}

}  // namespace orchagent::sandbox
