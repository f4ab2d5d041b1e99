#include "sandbox/seccomp.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string>

#include "core/unique_fd.hpp"  // ScopeGuard

namespace orchagent::sandbox {
namespace {

constexpr std::uint32_t kDeny = SCMP_ACT_ERRNO(EPERM);
// The kernel declares these arguments `unsigned int` (ioctl's cmd, socket's family and
// protocol), so it ignores the upper 32 bits: compare only the lower 32 (CVE-2019-10063).
constexpr scmp_datum_t kLow32 = 0xFFFFFFFFULL;

// Denied outright with EPERM. Names, not __NR_ constants, so a name the native arch lacks
// (stime, nfsservctl... on some arches) is skipped instead of failing the build.
// clang-format off
constexpr auto kDeniedSyscalls = std::to_array<const char*>({
    // mounts and the root
    "mount", "umount", "umount2", "pivot_root", "move_mount", "open_tree", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr", "chroot",
    // namespaces (clone/clone3 are handled apart)
    "unshare", "setns",
    // kernel keyring, eBPF, perf, other processes' memory
    "keyctl", "add_key", "request_key", "bpf", "perf_event_open", "ptrace", "process_vm_readv",
    "process_vm_writev", "kcmp", "pidfd_getfd",
    // modules, kexec, power, swap, accounting
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot",
    "swapon", "swapoff", "acct",
    // attack surface without a sandboxed use
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_by_handle_at",
    "name_to_handle_at", "lookup_dcookie", "nfsservctl", "vhangup", "fanotify_init",
    // clocks, kernel log, quotas, I/O ports
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime", "syslog", "quotactl",
    "quotactl_fd", "iopl", "ioperm",
});
// clang-format on

// Every namespace-creating clone flag; clone() with any of them set is denied.
constexpr std::array<scmp_datum_t, 8> kCloneNamespaceFlags = {
    CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
    CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET, CLONE_NEWTIME,
};

struct CtxRelease {
    void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxRelease>;

// libseccomp returns -errno; turn it into an Error naming the call.
std::unexpected<Error> fail_lib(std::string_view call, std::string_view arg, int rc) {
    return fail_errno(call, arg, -rc);
}

Result<void> add_rule(const Ctx& ctx, std::uint32_t action, int nr, std::string_view name,
                      std::initializer_list<scmp_arg_cmp> cmps = {}) {
    int rc = seccomp_rule_add_array(ctx.get(), action, nr, static_cast<unsigned>(cmps.size()),
                                    cmps.size() == 0 ? nullptr : cmps.begin());
    if (rc < 0) return fail_lib("seccomp_rule_add", name, rc);
    return {};
}

// A deny-list lets through whatever the kernel added after the list was written; Docker's
// allow-list does not. Syscalls newer than this libseccomp knows (on x86_64 with 2.5.4:
// everything after 450, e.g. open_tree_attr, listmount, mseal) get ENOSYS, as on an older
// kernel, up to 511; above that nothing is allocated and x32 numbers are killed anyway.
constexpr int kLastSyscallSlot = 511;

Result<void> add_unknown_syscalls(const Ctx& ctx) {
    int last_known = 0;
    for (int nr = 0; nr <= kLastSyscallSlot; ++nr) {
        char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        if (name != nullptr) last_known = nr;
        free(name);
    }
    for (int nr = last_known + 1; nr <= kLastSyscallSlot; ++nr) {
        if (auto r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, "unknown syscall"); !r) return r;
    }
    return {};
}

Result<void> add_rules(const Ctx& ctx) {
    for (const char* name : kDeniedSyscalls) {
        int nr = seccomp_syscall_resolve_name(name);
        // __NR_SCMP_ERROR: libseccomp does not know the name. Other negative values are
        // libseccomp's pseudo-syscall numbers for calls the native arch lacks (stime, umount
        // on x86_64): nothing to deny there, and the kernel cannot be asked for them anyway.
        if (nr < 0) continue;
        if (auto r = add_rule(ctx, kDeny, nr, name); !r) return r;
    }
    // clone3's flags live in a struct BPF cannot read: refuse it entirely with ENOSYS so
    // glibc falls back to clone, whose flags are checked below.
    if (auto r = add_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), "clone3"); !r) return r;
    // Rules with the same action on one syscall are ORed: one rule per namespace flag.
    for (scmp_datum_t flag : kCloneNamespaceFlags) {
        auto r = add_rule(ctx, kDeny, SCMP_SYS(clone), "clone",
                          {SCMP_A0_64(SCMP_CMP_MASKED_EQ, flag, flag)});
        if (!r) return r;
    }
    for (scmp_datum_t cmd : {scmp_datum_t{TIOCSTI}, scmp_datum_t{TIOCLINUX}}) {
        auto r = add_rule(ctx, kDeny, SCMP_SYS(ioctl), "ioctl",
                          {SCMP_A1_64(SCMP_CMP_MASKED_EQ, kLow32, cmd)});
        if (!r) return r;
    }
    if (auto r = add_rule(ctx, kDeny, SCMP_SYS(socket), "socket",
                          {SCMP_A0_64(SCMP_CMP_MASKED_EQ, kLow32, AF_VSOCK)});
        !r) {
        return r;
    }
    // Comparisons inside one rule are ANDed: family == AF_NETLINK && protocol == AUDIT.
    if (auto r = add_rule(ctx, kDeny, SCMP_SYS(socket), "socket",
                          {SCMP_A0_64(SCMP_CMP_MASKED_EQ, kLow32, AF_NETLINK),
                           SCMP_A2_64(SCMP_CMP_MASKED_EQ, kLow32, NETLINK_AUDIT)});
        !r) {
        return r;
    }
    // personality: allow only PER_LINUX (0) and the query 0xffffffff, on the low 32 bits the
    // kernel reads. libseccomp 2.5.4 refuses two comparisons on one argument in a rule
    // (-EINVAL, so no "NE 0 && NE 0xffffffff") and an ALLOW rule under an ALLOW default
    // (-EACCES). So deny the complement as a union of masked compares: a 32-bit value is
    // neither all zeros nor all ones iff, going round the word, some bit i is 1 and bit i+1
    // is 0. One rule per i: 32 rules, the fewest single-mask rules that cover it exactly.
    for (unsigned i = 0; i < 32; ++i) {
        const scmp_datum_t one = scmp_datum_t{1} << i;
        const scmp_datum_t next = scmp_datum_t{1} << ((i + 1) % 32);
        auto r = add_rule(ctx, kDeny, SCMP_SYS(personality), "personality",
                          {SCMP_A0_64(SCMP_CMP_MASKED_EQ, one | next, one)});
        if (!r) return r;
    }
    return add_unknown_syscalls(ctx);
}

// Exports the filter as BPF through a memfd and reads it back.
Result<std::vector<sock_filter>> export_bpf(const Ctx& ctx) {
    const int fd = memfd_create("orchagent-seccomp", MFD_CLOEXEC);
    if (fd < 0) return fail_errno("memfd_create", "orchagent-seccomp");
    ScopeGuard close_fd([fd] { close(fd); });
    if (int rc = seccomp_export_bpf(ctx.get(), fd); rc < 0) {
        return fail_lib("seccomp_export_bpf", "", rc);
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) return fail_errno("fstat", "orchagent-seccomp");
    auto size = static_cast<std::size_t>(st.st_size);
    if (size == 0 || size % sizeof(sock_filter) != 0 || size / sizeof(sock_filter) > BPF_MAXINSNS) {
        return fail(ErrorCode::kInternalError,
                    "seccomp_export_bpf: unexpected program size " + std::to_string(size));
    }
    std::vector<sock_filter> instructions(size / sizeof(sock_filter));
    auto* out = reinterpret_cast<char*>(instructions.data());
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = pread(fd, out + done, size - done, static_cast<off_t>(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("pread", "orchagent-seccomp");
        if (n == 0) return fail(ErrorCode::kInternalError, "seccomp_export_bpf: short read");
        done += static_cast<std::size_t>(n);
    }
    return instructions;
}

}  // namespace

// Non-native ABIs, as measured on libseccomp 2.5.4 / x86_64 by disassembling the exported BPF:
//  - i386 (int $0x80) reports AUDIT_ARCH_I386: the first check (arch != AUDIT_ARCH_X86_64)
//    jumps to SCMP_FLTATR_ACT_BADARCH, here KILL_PROCESS.
//  - x32 reports AUDIT_ARCH_X86_64 too and differs only by __X32_SYSCALL_BIT (0x40000000) in
//    the syscall number. With x86_64 in the filter and x32 not, libseccomp emits right after
//    the arch check `if (nr >= 0x40000000 && nr != 0xffffffff) BADARCH`, so x32 calls are
//    killed too and no extra rule is needed (nr -1 falls through to the rules and the kernel
//    answers it with ENOSYS). seccomp_export_pfc does NOT print this check: read the BPF.
//    Tests X32SyscallIsKilled and I386SyscallIsKilled hold this in place.
Result<SeccompProgram> build_default_seccomp() {
    Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
    if (!ctx) return fail(ErrorCode::kInternalError, "seccomp_init failed");
    // seccomp_init adds only the native arch; nothing else is added on purpose.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        rc < 0) {
        return fail_lib("seccomp_attr_set", "SCMP_FLTATR_ACT_BADARCH", rc);
    }
    // A binary search over syscall numbers instead of a linear chain: every syscall the
    // program makes walks this filter.
    if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2); rc < 0) {
        return fail_lib("seccomp_attr_set", "SCMP_FLTATR_CTL_OPTIMIZE", rc);
    }
    // SCMP_FLTATR_CTL_NNP and CTL_TSYNC only affect seccomp_load, which is never called:
    // install_seccomp sets no_new_privs itself and loads without TSYNC.
    if (auto r = add_rules(ctx); !r) return std::unexpected(std::move(r.error()));
    auto instructions = export_bpf(ctx);
    if (!instructions) return std::unexpected(std::move(instructions.error()));
    return SeccompProgram{std::move(*instructions)};
}

int install_seccomp(const SeccompProgram& program) noexcept {
    const std::size_t count = program.instructions.size();
    if (count == 0 || count > BPF_MAXINSNS) return EINVAL;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
    sock_fprog prog{};
    prog.len = static_cast<unsigned short>(count);
    prog.filter = const_cast<sock_filter*>(program.instructions.data());
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
    return 0;
}

}  // namespace orchagent::sandbox
