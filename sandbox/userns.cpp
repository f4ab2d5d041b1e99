// User namespace: who the program is inside and on the host.
//
// Privileged launcher (root): each slot (host_base) has a user namespace made once, mapping
// inside ids 0..range-1 to host_base.., a range no other slot and no host account uses,
// and a loopback-only network namespace owned by it (SlotNamespaces). The child sets up as
// host root in mount/pid/ipc/uts namespaces owned by the initial user namespace, then joins
// the slot's user namespace and runs the program as run_uid (host_base + run_uid). The
// program therefore holds no capability over its own mount, pid, ipc or uts namespace.
// Unprivileged launcher: a new user namespace per run; only the caller's own ids can be
// mapped, so run_uid maps to them; setgroups must be denied (a kernel rule), so the
// caller's supplementary groups cannot be dropped.
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/unique_fd.hpp"
#include "sandbox/spawn.hpp"
#include "sandbox/steps.hpp"

namespace orchagent::sandbox {
namespace {

Result<void> write_proc_file(pid_t pid, const char* name, std::string_view content) {
    std::string path = fmt::format("/proc/{}/{}", pid, name);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open", path);
    ssize_t n = ::write(fd.get(), content.data(), content.size());
    if (n != static_cast<ssize_t>(content.size())) {
        return fail_errno("write", fmt::format("{} <- {}", path, content), n < 0 ? errno : EIO);
    }
    return {};
}

}  // namespace

Result<void> write_id_maps(pid_t pid, const Identity& identity, bool privileged) {
    if (privileged) {
        std::string map = fmt::format("0 {} {}\n", identity.host_base, identity.range);
        if (auto r = write_proc_file(pid, "uid_map", map); !r) return r;
        return write_proc_file(pid, "gid_map", map);
    }
    auto r =
        write_proc_file(pid, "uid_map", fmt::format("{} {} 1\n", identity.run_uid, ::geteuid()));
    if (!r) return r;
    if (r = write_proc_file(pid, "setgroups", "deny"); !r) return r;
    return write_proc_file(pid, "gid_map", fmt::format("{} {} 1\n", identity.run_gid, ::getegid()));
}

int child_join_slot_user(const ChildPlan& plan) noexcept {
    // Every capability in the slot's namespace, none left in the initial one.
    if (::setns(plan.slot_user_ns, CLONE_NEWUSER) != 0) return errno;
    // The daemon's supplementary groups (root's gid 0 among them) would still grant access
    // to host files through group permission bits even though they are unmapped.
    if (::setgroups(0, nullptr) != 0) return errno;
    return 0;
}

namespace {

struct Holder {
    int sync_fd;    // read: "go" once the maps are written; then blocks until killed
    int status_fd;  // write: errno of bringing lo up (0 on success)
};

// Lives just long enough for the parent to open its namespaces.
int slot_holder_main(void* arg) noexcept {
    const auto& holder = *static_cast<const Holder*>(arg);
    char byte = 0;
    if (::read(holder.sync_fd, &byte, 1) != 1) ::_exit(1);
    int32_t err = child_loopback_up();
    [[maybe_unused]] ssize_t n = ::write(holder.status_fd, &err, sizeof err);
    while (::read(holder.sync_fd, &byte, 1) > 0) {
    }
    ::_exit(0);
}

constexpr size_t kHolderStackBytes = 64 << 10;

}  // namespace

Result<SlotNamespaces> make_slot_namespaces(const Identity& identity) {
    void* stack = ::mmap(nullptr, kHolderStackBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) return fail_errno("mmap", "slot holder stack");
    ScopeGuard unmap([stack] { ::munmap(stack, kHolderStackBytes); });
    int sync[2], status[2];
    if (::pipe2(sync, O_CLOEXEC) != 0) return fail_errno("pipe2", "slot holder");
    UniqueFd sync_read(sync[0]), sync_write(sync[1]);
    if (::pipe2(status, O_CLOEXEC) != 0) return fail_errno("pipe2", "slot holder");
    UniqueFd status_read(status[0]), status_write(status[1]);
    Holder holder{sync_read.get(), status_write.get()};

    auto spawned = spawn_vm_child(slot_holder_main, &holder, stack, kHolderStackBytes,
                                  CLONE_NEWUSER | CLONE_NEWNET, -1);
    if (!spawned) return std::unexpected(spawned.error());
    ScopeGuard reap([&spawned] {
        ::syscall(SYS_pidfd_send_signal, spawned->pidfd.get(), SIGKILL, nullptr, 0);
        siginfo_t info{};
        ::waitid(P_PIDFD, static_cast<id_t>(spawned->pidfd.get()), &info, WEXITED);
    });
    if (auto r = write_id_maps(spawned->pid, identity, true); !r) return std::unexpected(r.error());
    if (::write(sync_write.get(), "g", 1) != 1) return fail_errno("write", "slot holder");
    int32_t err = 0;
    if (::read(status_read.get(), &err, sizeof err) != sizeof err) {
        return fail(ErrorCode::kInternalError, "slot holder died before its namespaces were ready");
    }
    if (err != 0) return fail_errno("ioctl", "SIOCSIFFLAGS lo up", err);
    SlotNamespaces slot;
    for (auto [name, fd] : {std::pair{"user", &slot.user}, std::pair{"net", &slot.net}}) {
        std::string path = fmt::format("/proc/{}/ns/{}", spawned->pid, name);
        fd->reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!*fd) return fail_errno("open", path);
    }
    return slot;
}

}  // namespace orchagent::sandbox
