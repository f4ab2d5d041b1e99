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
#include <sys/syscall.h>
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
    // The raw system call: glibc's setgroups would broadcast to the daemon's threads
    // (see child_drop_caps).
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) return errno;
    return 0;
}

namespace {

int bring_loopback_up(const void*, int32_t*) noexcept { return child_loopback_up(); }

}  // namespace

Result<SlotNamespaces> make_slot_namespaces(const Identity& identity) {
    auto holder = NamespaceHolder::start(bring_loopback_up, nullptr, CLONE_NEWUSER | CLONE_NEWNET);
    if (!holder) return std::unexpected(holder.error());
    if (auto r = write_id_maps((*holder)->pid(), identity, true); !r) {
        return std::unexpected(r.error());
    }
    auto ran = (*holder)->run();
    if (!ran) return std::unexpected(ran.error());
    if (ran->first != 0) return fail_errno("ioctl", "SIOCSIFFLAGS lo up", ran->first);
    auto user = (*holder)->open_ns("user");
    if (!user) return std::unexpected(user.error());
    auto net = (*holder)->open_ns("net");
    if (!net) return std::unexpected(net.error());
    return SlotNamespaces{std::move(*user), std::move(*net)};
}

}  // namespace orchagent::sandbox
