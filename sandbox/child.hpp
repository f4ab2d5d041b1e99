// The child's side of a spawn. The parent turns a JailSpec into a ChildPlan (every path,
// flag and string precomputed), then clone()s a child that shares its memory (CLONE_VM:
// no page-table copy, so spawning costs the same from a 10 MiB or a 10 GiB daemon) and
// walks the plan as one linear list of steps. The child never allocates, never throws and
// never touches data the parent changes: the parent thread is blocked on the status pipe
// until the child has exec'd or failed.
#pragma once

#include <sys/capability.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sandbox/seccomp.hpp"

namespace orchagent::sandbox {

// The steps, in the order the child applies them. A failure is reported as (step, errno).
enum class ChildStep : uint32_t {
    kWaitParent = 1,  // unprivileged: read the go byte, the id maps are written
    kSignals,         // every handler back to default, mask cleared at exec
    kCgroupJoin,      // write "0" to each v1 group's tasks file (still host root here)
    kNetNs,           // privileged: join the slot's loopback-only network namespace
    kCgroupNs,        // unshare(CLONE_NEWCGROUP) now that we are in the run's group
    kMounts,          // private propagation, tmpfs root, binds, proc, dev, tmpfs, files
    kPivotRoot,       // pivot_root into the new root, detach the old one
    kRootReadOnly,    // the root tmpfs becomes read-only
    kHostname,        // sethostname in the new uts namespace
    kLoopback,        // unprivileged: bring lo up in the new network namespace
    kListener,        // the spec's loopback listener: socket, bind, listen, sent to the parent
    kUserNs,          // privileged: join the slot's user namespace, drop supplementary groups
    kRlimits,         // NOFILE, FSIZE, CORE, STACK (+ AS, NPROC without cgroups)
    kStdio,           // fds 0-2, every other fd close-on-exec
    kSession,         // setsid
    kChdir,           // the program's cwd
    kDropCaps,        // bounding set, ambient, run ids, empty cap sets
    kParentDeath,     // SIGKILL when the launching thread dies (set after the id change,
                      // which would clear it)
    kSeccomp,         // no_new_privs + filter
    kExec,            // execve (each PATH candidate in turn)
};

const char* to_string(ChildStep step);

// What the child writes to the status pipe when a step fails.
struct ChildFailure {
    uint32_t step = 0;
    int32_t err = 0;
    int32_t index = -1;  // which mount operation or exec candidate, -1 if none
};

// One filesystem operation on the new root (paths already prefixed with the staging root).
struct MountOp {
    enum class Kind : uint8_t {
        kMkdir,          // mkdir(path, mode)
        kTouch,          // create an empty file (bind target for a file)
        kMount,          // mount(source, path, fstype, flags, data)
        kWriteFile,      // create path with `data` (length data_len), mode
        kSymlink,        // symlink(source, path)
        kChown,          // lchown(path, run uid, run gid)
        kOpenTree,       // tree[slot] = open_tree(source, CLONE|RECURSIVE): a detached copy of a
                         // host path, taken before anything is mounted over the host's tree
        kMoveTree,       // mount_setattr(tree[slot], attr) then move_mount(tree[slot] -> path)
        kMknod,          // mknod(path, mode, device number in data_len): root launcher's /dev
        kEnterTemplate,  // setns(fd in data_len, mount) + unshare(CLONE_NEWNS): a copy of a
                         // template namespace whose static root waits at the staging path
    };
    Kind kind = Kind::kMkdir;
    const char* source = nullptr;
    const char* path = nullptr;
    const char* fstype = nullptr;
    unsigned long flags = 0;
    const char* data = nullptr;
    size_t data_len = 0;
    uint32_t mode = 0;
    uint32_t slot = 0;        // kOpenTree, kMoveTree: index into the child's tree fds
    int32_t spec_index = -1;  // which JailSpec mount this came from (for error messages)
};

// Host paths a plan may bind (open_tree fds the child holds at once).
inline constexpr uint32_t kMaxTrees = 512;

struct ChildPlan {
    // Pipes (all >= 3, all close-on-exec).
    int sync_fd = -1;    // read end: one byte from the parent means "go"
    int status_fd = -1;  // write end: a ChildFailure, or EOF at exec
    int sync_write_fd = -1;  // the parent's end of the sync pipe: the child closes its copy
    int parent_pidfd = -1;   // self_pidfd() of the daemon: the child stops if it has died
    int stdin_fd = -1;
    int stdout_fd = -1;
    int stderr_fd = -1;
    int listener_channel_fd = -1;  // a unix socket: the listener is sent over it (SCM_RIGHTS)

    // Privileged (root) launcher: setup runs as host root in namespaces owned by the initial
    // user namespace, then the child joins its slot's user and network namespaces (made once
    // per slot, see SlotNamespaces). Unprivileged: every namespace is new, created at clone.
    bool privileged = false;
    int slot_user_ns = -1;  // privileged: the slot's user namespace (fd)
    int slot_net_ns = -1;   // privileged: the slot's network namespace (fd)
    uid_t run_uid = 1000;   // inside the user namespace
    gid_t run_gid = 1000;
    uid_t owner_uid = 1000;  // the run user as the mounts see it (host id when privileged)
    gid_t owner_gid = 1000;

    std::vector<const char*> cgroup_task_files;  // v1 `tasks` files to join

    const char* staging_root = "/tmp";  // where the new root's tmpfs is mounted before pivot
    std::vector<MountOp> mount_ops;

    const char* hostname = "orchagent";
    uint16_t listener_port = 0;  // 0: no listener
    int listener_backlog = 16;
    struct Rlimit {
        int resource;
        rlimit value;
    };
    std::vector<Rlimit> rlimits;

    const char* cwd = "/";
    std::vector<const char*> exec_candidates;  // absolute paths tried in order
    std::vector<char*> argv;                   // null-terminated
    std::vector<char*> envp;                   // null-terminated

    int last_cap = 40;           // CAP_LAST_CAP of the running kernel
    cap_t empty_caps = nullptr;  // prepared by the parent: every set empty
    const SeccompProgram* seccomp = nullptr;
};

// The function clone() runs. `arg` is a ChildPlan*. Never returns normally: execs or _exits.
int child_main(void* arg) noexcept;

}  // namespace orchagent::sandbox
