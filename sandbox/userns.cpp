// User namespace: who the program is inside and on the host.
//
// Privileged launcher (root): the parent maps inside ids 0..range-1 to host_base.., a range
// no other slot and no host account uses; the child sets up as inside root (host_base, an
// unprivileged host id) and runs the program as run_uid (host_base + run_uid).
// Unprivileged launcher: only the caller's own ids can be mapped, so run_uid maps to them;
// setgroups is denied (the kernel requires it), so supplementary groups cannot be dropped.
#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <unistd.h>

#include "core/unique_fd.hpp"
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
    auto r = write_proc_file(pid, "uid_map",
                             fmt::format("{} {} 1\n", identity.run_uid, ::geteuid()));
    if (!r) return r;
    if (r = write_proc_file(pid, "setgroups", "deny"); !r) return r;
    return write_proc_file(pid, "gid_map",
                           fmt::format("{} {} 1\n", identity.run_gid, ::getegid()));
}

int child_set_setup_ids(const ChildPlan& plan) noexcept {
    if (!plan.privileged) return 0;  // already run_uid, with every capability in the userns
    // The daemon's supplementary groups (root's gid 0 among them) would still grant access
    // to host files through group permission bits even though they are unmapped.
    if (::setgroups(0, nullptr) != 0) return errno;
    if (::setresgid(0, 0, 0) != 0) return errno;
    if (::setresuid(0, 0, 0) != 0) return errno;
    return 0;
}

}  // namespace orchagent::sandbox
