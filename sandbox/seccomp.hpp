// seccomp: the default syscall policy, built once by the parent (libseccomp -> BPF) and
// loaded by the child just before execve, with no allocation on the child side.
#pragma once

#include <linux/filter.h>

#include <vector>

#include "core/error.hpp"

namespace orchagent::sandbox {

struct SeccompProgram {
    std::vector<sock_filter> instructions;  // the exported BPF program
};

// Builds the default policy (see docs/security.md for the list and why): an allow-list-free
// deny-list at least as strict as Docker's default profile:
//  - mount family (mount, umount2, pivot_root, move_mount, open_tree, fsopen, fsconfig,
//    fsmount, fspick, mount_setattr), chroot
//  - unshare, setns; clone/clone3 with any CLONE_NEW* flag (clone3 entirely: ENOSYS so libc
//    falls back to clone, whose flags BPF can see)
//  - keyctl, add_key, request_key; bpf; perf_event_open; ptrace; process_vm_readv/writev;
//    kcmp; init_module, finit_module, delete_module; kexec_load, kexec_file_load; reboot;
//    swapon, swapoff; acct; userfaultfd; io_uring_setup/enter/register; open_by_handle_at,
//    name_to_handle_at; settimeofday, clock_settime, clock_adjtime, adjtimex, stime;
//    syslog; quotactl; lookup_dcookie; nfsservctl; vhangup; pidfd_getfd; iopl, ioperm;
//    fanotify_init; personality with anything but PER_LINUX (0) / 0xffffffff (query)
//  - ioctl(fd, TIOCSTI) and ioctl(fd, TIOCLINUX) compared on the full 64-bit argument
//  - socket(AF_VSOCK), socket(AF_NETLINK, *, NETLINK_AUDIT)... (AF_VSOCK at least)
//  - every non-native ABI (x32, i386 on x86_64): killed
// Denied calls fail with EPERM (ENOSYS for clone3) so programs see an ordinary error;
// non-native ABIs kill the process.
Result<SeccompProgram> build_default_seccomp();

// Child side, async-signal-safe, no allocation: sets no_new_privs and installs `program`
// with TSYNC off. Returns 0 or the errno of the failing prctl/seccomp call.
int install_seccomp(const SeccompProgram& program) noexcept;

}  // namespace orchagent::sandbox
