// Creating the jail's first process: clone(CLONE_VM) so no page tables are copied however
// large the daemon is, and, when the run has a cgroup v2 group, clone3(CLONE_INTO_CGROUP)
// so the child is born in it instead of being moved there (see RunCgroup::v2_path).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>

#include "core/error.hpp"
#include "core/unique_fd.hpp"

namespace orchagent::sandbox {

struct Spawned {
    pid_t pid = -1;
    UniqueFd pidfd;
    bool in_cgroup = false;  // born in the v2 group (false: the caller must move it)
};

// A pidfd of this process, opened once (close-on-exec): a child we clone polls it to learn
// that we died (PR_SET_PDEATHSIG alone cannot tell it the parent died before the call).
// -1 if the kernel has no pidfd_open.
int self_pidfd();

// In a child we cloned, before anything else: SIGKILL when the cloning thread dies, and an
// error (ESRCH) when the daemon has already died, so that no child outlives a SIGKILLed
// daemon holding copies of its sockets. Async-signal-safe.
int watch_parent(int parent_pidfd) noexcept;

// Runs fn(arg) in a new process sharing our memory, on [stack, stack + stack_size), with
// `ns_flags` (CLONE_NEW*). Every signal is blocked across the clone; fn must reset handlers.
// `cgroup_fd` (an O_PATH fd of a v2 group, or -1): where the child is born, when the kernel
// and architecture allow clone3 with a stack (x86_64, Linux >= 5.7); otherwise it is born
// in our own group and in_cgroup says so.
Result<Spawned> spawn_vm_child(int (*fn)(void*), void* arg, void* stack, size_t stack_size,
                               uint64_t ns_flags, int cgroup_fd);

// A short-lived process that makes namespaces for its parent to keep by fd (a slot's user
// and network namespaces, a mount template). It starts in new `ns_flags` namespaces, waits
// for run(), does its `work` there, reports (errno, index) and stays until this object goes
// (SIGKILL, reap); the namespaces outlive it through the fds open_ns() returns.
class NamespaceHolder {
  public:
    using Work = int (*)(const void* arg, int32_t* index) noexcept;

    static Result<std::unique_ptr<NamespaceHolder>> start(Work work, const void* arg,
                                                          uint64_t ns_flags);
    ~NamespaceHolder();
    NamespaceHolder(const NamespaceHolder&) = delete;
    NamespaceHolder& operator=(const NamespaceHolder&) = delete;

    pid_t pid() const { return spawned_.pid; }
    // Lets the work run; its errno (0: done) and, when it failed, the failing item's index.
    Result<std::pair<int, int32_t>> run();
    // /proc/<pid>/ns/<name>, e.g. "user", "net", "mnt".
    Result<UniqueFd> open_ns(std::string_view name) const;

  private:
    NamespaceHolder() = default;
    static int main(void* self) noexcept;

    Work work_ = nullptr;
    const void* arg_ = nullptr;
    void* stack_ = nullptr;
    UniqueFd go_read_, go_write_, status_read_, status_write_;
    int parent_pidfd_ = -1;  // self_pidfd(), not owned
    Spawned spawned_;
};

}  // namespace orchagent::sandbox
