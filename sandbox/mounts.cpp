// Mount namespace: a fresh tmpfs root holding only what the spec names, then pivot_root.
//
// Parent side: plan_mounts() turns JailSpec::mounts into a flat list of MountOps with every
// path prefixed by the staging root, every parent folder created explicitly, host bind
// sources checked with lstat (a host symlink such as Debian's /bin -> usr/bin is recreated
// as the same symlink rather than bound).
// Child side: child_apply_mounts() walks the list; child_pivot_root() swaps roots and
// detaches the host's; child_root_read_only() freezes the root tmpfs.
#include <fcntl.h>
#include <fmt/format.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "sandbox/spawn.hpp"
#include "sandbox/steps.hpp"

namespace orchagent::sandbox {
namespace {

using Op = MountOp;
using Kind = MountOp::Kind;

constexpr unsigned long kNoSuidDev = MS_NOSUID | MS_NODEV;
constexpr uint64_t kDevTmpfsBytes = 64 << 10;
constexpr uint64_t kShmBytes = 1 << 20;
constexpr uint64_t kReadOnlyAttr = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
constexpr uint64_t kWritableAttr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
constexpr const char* kDevices[] = {"null", "zero", "full", "random", "urandom"};

class Planner {
  public:
    Planner(PlanStrings& strings, ChildPlan& plan, MountPhase phase)
        : strings_(strings), plan_(plan), phase_(phase) {}

    const char* staged(std::string_view inside) {
        return strings_.add(std::string(plan_.staging_root) + std::string(inside));
    }

    // `fresh`: made anew for every run (tmpfs, proc, writable binds, /dev/shm); the rest is
    // static and goes into a template when there is one.
    // Anything under a per-run mount is per-run too (it lands on that fresh mount).
    void push(Op op, bool fresh = false) {
        fresh = fresh || under_fresh(op.path);
        if (fresh && (op.kind == Kind::kMount || op.kind == Kind::kMoveTree) && op.path) {
            fresh_roots_.emplace_back(op.path);
        }
        if (!included(fresh)) return;
        op.spec_index = index_;
        plan_.mount_ops.push_back(op);
    }
    bool included(bool fresh) const {
        return !((phase_ == MountPhase::kTemplate && fresh) ||
                 (phase_ == MountPhase::kRun && !fresh));
    }
    bool under_fresh(const char* path) const {
        if (path == nullptr) return false;
        std::string_view p(path);
        for (const auto& root : fresh_roots_) {
            if (p.size() > root.size() && p.starts_with(root) && p[root.size()] == '/') return true;
        }
        return false;
    }

    // Creates every missing ancestor of `inside` (not `inside` itself).
    void ensure_parents(std::string_view inside) {
        size_t pos = 0;
        while ((pos = inside.find('/', pos + 1)) != std::string_view::npos) {
            mkdir_once(inside.substr(0, pos), 0755);
        }
    }
    void mkdir_once(std::string_view inside, uint32_t mode) {
        if (!created_.emplace(inside).second) return;
        push({.kind = Kind::kMkdir, .path = staged(inside), .mode = mode});
    }
    void mount(const char* source, const char* path, const char* fstype, unsigned long flags,
               std::string data, bool fresh) {
        push({.kind = Kind::kMount,
              .source = source,
              .path = path,
              .fstype = fstype,
              .flags = flags,
              .data = data.empty() ? nullptr : strings_.add(std::move(data))},
             fresh);
    }
    // Host path -> jail path. The source is cloned (open_tree) before the new root is
    // mounted over the host's /tmp, so any host path can be a source, and it is resolved
    // exactly once; the clone gets its attributes while still detached, then is moved in.
    void bind(std::string source, const char* path, uint64_t attr, bool fresh) {
        fresh = fresh || under_fresh(path);
        if (!included(fresh)) {
            if (fresh) fresh_roots_.emplace_back(path);
            return;
        }
        uint32_t slot = static_cast<uint32_t>(opens_.size());
        MountOp open{.kind = Kind::kOpenTree,
                     .source = strings_.add(std::move(source)),
                     .slot = slot,
                     .spec_index = index_};
        opens_.push_back(open);
        push({.kind = Kind::kMoveTree, .path = path, .data_len = attr, .slot = slot}, fresh);
    }
    // Folders mounted on /dev tmpfs mounts: a template makes them read-only at the end.
    const std::vector<const char*>& dev_roots() const { return dev_roots_; }
    // The open_tree operations, to run before the staging root hides the host's paths.
    const std::vector<MountOp>& opens() const { return opens_; }
    void chown_if(bool owned, const char* path) {
        if (owned) push({.kind = Kind::kChown, .path = path}, true);
    }
    std::string owner_opts(bool owned) const {
        return owned ? fmt::format(",uid={},gid={}", plan_.owner_uid, plan_.owner_gid) : "";
    }

    Result<void> add(const Mount& m, int index);

  private:
    Result<void> add_bind(const Mount& m);
    Result<void> add_dev(const Mount& m);
    Result<void> add_overlay(const Mount& m);

    PlanStrings& strings_;
    ChildPlan& plan_;
    MountPhase phase_;
    std::set<std::string, std::less<>> created_;
    std::vector<MountOp> opens_;
    std::vector<const char*> dev_roots_;
    std::vector<std::string> fresh_roots_;  // staged paths of per-run mounts so far
    int index_ = -1;
};

Result<void> Planner::add_bind(const Mount& m) {
    struct stat st {};
    if (::lstat(m.source.c_str(), &st) != 0) {
        if (errno == ENOENT && m.optional) return {};
        return fail_errno("lstat", m.source, errno, ErrorCode::kInvalidInput);
    }
    const char* path = staged(m.target);
    if (S_ISLNK(st.st_mode)) {
        std::string link(PATH_MAX, '\0');
        ssize_t n = ::readlink(m.source.c_str(), link.data(), link.size());
        if (n < 0) return fail_errno("readlink", m.source);
        link.resize(static_cast<size_t>(n));
        created_.emplace(m.target);
        push({.kind = Kind::kSymlink, .source = strings_.add(std::move(link)), .path = path});
        return {};
    }
    if (S_ISDIR(st.st_mode)) {
        mkdir_once(m.target, 0755);
    } else if (S_ISREG(st.st_mode)) {
        push({.kind = Kind::kTouch, .path = path, .mode = 0644});
    } else {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("bind source '{}' is neither a folder, a file nor a symlink "
                                "(devices come only from the dev mount)",
                                m.source));
    }
    bind(m.source, path, m.writable ? kWritableAttr : kReadOnlyAttr, m.writable);
    return {};
}

Result<void> Planner::add_dev(const Mount& m) {
    const char* dev = staged(m.target);
    mkdir_once(m.target, 0755);
    uint64_t size = m.size_bytes > 0 ? m.size_bytes : kDevTmpfsBytes;
    // A root launcher sets up as host root in a mount namespace the program has no power
    // over: it makes the five nodes with mknod on a tmpfs that allows devices (5 syscalls
    // instead of 20). Nobody inside can add a node: mknod of a device needs CAP_MKNOD in the
    // initial user namespace. Without root, mknod is impossible and the host's nodes are
    // bound onto empty files; those five single-file mounts are then the ones without nodev.
    const bool make_nodes = plan_.privileged;
    dev_roots_.push_back(dev);
    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC | (make_nodes ? 0 : MS_NODEV),
          fmt::format("size={},mode=0755", size), false);
    for (const char* name : kDevices) {
        const char* node = staged(fmt::format("{}/{}", m.target, name));
        std::string host = fmt::format("/dev/{}", name);
        if (make_nodes) {
            struct stat st {};
            if (::stat(host.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) {
                return fail_errno("stat", host, errno != 0 ? errno : ENODEV);
            }
            push({.kind = Kind::kMknod,
                  .path = node,
                  .data_len = st.st_rdev,
                  .mode = S_IFCHR | 0666});
            continue;
        }
        push({.kind = Kind::kTouch, .path = node, .mode = 0666});
        bind(std::move(host), node, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC, false);
    }
    const std::pair<const char*, const char*> links[] = {{"fd", "/proc/self/fd"},
                                                         {"stdin", "/proc/self/fd/0"},
                                                         {"stdout", "/proc/self/fd/1"},
                                                         {"stderr", "/proc/self/fd/2"}};
    for (auto [name, target] : links) {
        push({.kind = Kind::kSymlink,
              .source = target,
              .path = staged(fmt::format("{}/{}", m.target, name))});
    }
    // Shared memory gets a tmpfs of its own, made for every run (so /dev itself can be a
    // read-only part of a template).
    const char* shm = staged(m.target + "/shm");
    push({.kind = Kind::kMkdir, .path = shm, .mode = 01777});
    mount("tmpfs", shm, "tmpfs", kNoSuidDev | MS_NOEXEC,
          fmt::format("size={},mode=1777", kShmBytes), true);
    return {};
}

// tmpfs at target holding .lower, .upper and .work, then overlayfs over it. The host folder
// is cloned with open_tree like any bind (resolved once, before anything hides host paths)
// and moved onto .lower: overlayfs wants its lower layer mounted in our own namespace.
Result<void> Planner::add_overlay(const Mount& m) {
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fail_errno("stat", m.source, errno != 0 ? errno : ENOTDIR, ErrorCode::kInvalidInput);
    }
    const char* path = staged(m.target);
    mkdir_once(m.target, 0755);
    mount("tmpfs", path, "tmpfs", kNoSuidDev, fmt::format("size={},mode=0755", m.size_bytes), true);
    const char* lower = staged(m.target + "/.lower");
    const char* upper = staged(m.target + "/.upper");
    const char* work = staged(m.target + "/.work");
    push({.kind = Kind::kMkdir, .path = lower, .mode = 0755}, true);
    bind(m.source, lower, kReadOnlyAttr, true);
    push({.kind = Kind::kMkdir, .path = upper, .mode = 0755}, true);
    // The merged root takes the upper folder's owner: the run user may create files there.
    chown_if(m.owned_by_run_user, upper);
    push({.kind = Kind::kMkdir, .path = work, .mode = 0700}, true);
    // Without root the overlay lives in a user namespace: its metadata goes to user.* xattrs.
    mount("overlay", path, "overlay", kNoSuidDev,
          fmt::format("lowerdir={},upperdir={},workdir={}{}", lower, upper, work,
                      plan_.privileged ? "" : ",userxattr"),
          true);
    return {};
}

Result<void> Planner::add(const Mount& m, int index) {
    index_ = index;
    ensure_parents(m.target);
    switch (m.kind) {
        case MountKind::kBind:
            return add_bind(m);
        case MountKind::kTmpfs: {
            const char* path = staged(m.target);
            mkdir_once(m.target, 0755);
            mount("tmpfs", path, "tmpfs", kNoSuidDev,
                  fmt::format("size={},mode={:o}{}", m.size_bytes, m.mode,
                              owner_opts(m.owned_by_run_user)),
                  true);
            return {};
        }
        case MountKind::kProc: {
            const char* path = staged(m.target);
            mkdir_once(m.target, 0555);
            mount("proc", path, "proc", kNoSuidDev | MS_NOEXEC, "hidepid=invisible", true);
            return {};
        }
        case MountKind::kDev:
            return add_dev(m);
        case MountKind::kDir: {
            const char* path = staged(m.target);
            created_.emplace(m.target);
            push({.kind = Kind::kMkdir, .path = path, .mode = m.mode});
            chown_if(m.owned_by_run_user, path);
            return {};
        }
        case MountKind::kFile: {
            const char* path = staged(m.target);
            const char* content = strings_.add(m.source);
            push({.kind = Kind::kWriteFile,
                  .path = path,
                  .data = content,
                  .data_len = m.source.size(),
                  .mode = m.mode});
            chown_if(m.owned_by_run_user, path);
            return {};
        }
        case MountKind::kOverlay:
            return add_overlay(m);
        case MountKind::kSymlink:
            created_.emplace(m.target);
            push({.kind = Kind::kSymlink,
                  .source = strings_.add(m.source),
                  .path = staged(m.target)});
            return {};
    }
    return fail(ErrorCode::kInvalidInput, "unknown mount kind");
}

int write_all(int fd, const char* data, size_t len) noexcept {
    while (len > 0) {
        ssize_t n = ::write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data += n;
        len -= static_cast<size_t>(n);
    }
    return 0;
}

int apply(const MountOp& op, const ChildPlan& plan, int* trees) noexcept {
    switch (op.kind) {
        case Kind::kMkdir:
            if (::mkdir(op.path, op.mode) != 0 && errno != EEXIST) return errno;
            return 0;
        case Kind::kTouch: {
            int fd = ::open(op.path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, op.mode);
            if (fd < 0) return errno;
            ::close(fd);
            return 0;
        }
        case Kind::kMount:
            return ::mount(op.source, op.path, op.fstype, op.flags, op.data) == 0 ? 0 : errno;
        case Kind::kOpenTree: {
            int fd = ::open_tree(AT_FDCWD, op.source,
                                 OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
            if (fd < 0) return errno;
            trees[op.slot] = fd;
            return 0;
        }
        case Kind::kMoveTree: {
            int fd = trees[op.slot];
            mount_attr attr{};
            attr.attr_set = op.data_len;
            int err = 0;
            if (::mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0 ||
                ::move_mount(fd, "", AT_FDCWD, op.path, MOVE_MOUNT_F_EMPTY_PATH) != 0) {
                err = errno;
            }
            ::close(fd);
            trees[op.slot] = -1;
            return err;
        }
        case Kind::kWriteFile: {
            int fd = ::open(op.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, op.mode);
            if (fd < 0) return errno;
            int err = write_all(fd, op.data, op.data_len);
            ::close(fd);
            return err;
        }
        case Kind::kSymlink:
            return ::symlink(op.source, op.path) == 0 ? 0 : errno;
        case Kind::kEnterTemplate:
            if (::setns(static_cast<int>(op.data_len), CLONE_NEWNS) != 0) return errno;
            return ::unshare(CLONE_NEWNS) == 0 ? 0 : errno;
        case Kind::kMknod:
            return ::mknod(op.path, op.mode, static_cast<dev_t>(op.data_len)) == 0 ? 0 : errno;
        case Kind::kChown:
            return ::lchown(op.path, plan.owner_uid, plan.owner_gid) == 0 ? 0 : errno;
    }
    return EINVAL;
}

}  // namespace

Result<void> plan_mounts(const JailSpec& spec, PlanStrings& strings, ChildPlan& plan,
                         MountPhase phase, int template_ns) {
    Planner planner(strings, plan, phase);
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        auto added = planner.add(spec.mounts[i], static_cast<int>(i));
        if (!added) {
            return std::unexpected(added.error().with_context(
                fmt::format("mounts[{}] ({})", i, spec.mounts[i].target)));
        }
    }
    if (planner.opens().size() > kMaxTrees) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("mounts: more than {} host paths to bind", kMaxTrees));
    }
    std::vector<MountOp> body = std::move(plan.mount_ops);
    plan.mount_ops.clear();
    // Host paths are cloned first, while nothing hides them.
    plan.mount_ops.insert(plan.mount_ops.end(), planner.opens().begin(), planner.opens().end());
    if (phase == MountPhase::kRun) {
        // Our own copy of the template's namespace: its root waits at the staging path.
        plan.mount_ops.push_back(
            {.kind = Kind::kEnterTemplate, .data_len = static_cast<uint64_t>(template_ns)});
    } else {
        // Nothing we mount propagates back to the host, and nothing of the host's reaches us.
        plan.mount_ops.push_back({.kind = Kind::kMount, .path = "/", .flags = MS_REC | MS_PRIVATE});
        // The new root: a small tmpfs holding folders, mount points and the spec's files.
        uint64_t root_bytes = 1 << 20;
        for (const auto& m : spec.mounts) {
            if (m.kind == MountKind::kFile) root_bytes += m.source.size() + 4096;
        }
        plan.mount_ops.push_back(
            {.kind = Kind::kMount,
             .source = "tmpfs",
             .path = plan.staging_root,
             .fstype = "tmpfs",
             .flags = kNoSuidDev,
             .data = strings.add(fmt::format("size={},mode=0755", root_bytes))});
    }
    plan.mount_ops.insert(plan.mount_ops.end(), body.begin(), body.end());
    if (phase == MountPhase::kTemplate) {
        // Everything a template holds is shared by the runs made from it: read-only.
        for (const char* dev : planner.dev_roots()) {
            plan.mount_ops.push_back(
                {.kind = Kind::kMount,
                 .path = dev,
                 .flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC});
        }
        plan.mount_ops.push_back(
            {.kind = Kind::kMount,
             .path = plan.staging_root,
             .flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV});
    }
    return {};
}

namespace {

// Per-run mounts at the spec level, as the Planner decides them: tmpfs, proc, writable binds,
// and anything whose target lies under an earlier per-run mount.
std::vector<bool> fresh_mounts(const JailSpec& spec) {
    std::vector<bool> fresh;
    std::vector<std::string_view> roots;
    for (const auto& m : spec.mounts) {
        bool is_fresh = m.kind == MountKind::kTmpfs || m.kind == MountKind::kProc ||
                        (m.kind == MountKind::kBind && m.writable);
        for (auto root : roots) {
            std::string_view t = m.target;
            if (t.size() > root.size() && t.starts_with(root) && t[root.size()] == '/') {
                is_fresh = true;
            }
        }
        if (is_fresh) roots.push_back(m.target);
        fresh.push_back(is_fresh);
    }
    return fresh;
}

}  // namespace

bool can_use_template(const JailSpec& spec) {
    const auto fresh = fresh_mounts(spec);
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount& m = spec.mounts[i];
        // A chown on the read-only template cannot be done per run.
        if (!fresh[i] && m.owned_by_run_user &&
            (m.kind == MountKind::kDir || m.kind == MountKind::kFile)) {
            return false;
        }
    }
    return true;
}

std::string template_key(const JailSpec& spec) {
    // Per-run mounts enter the template only as folders: their sources and sizes vary.
    const auto fresh = fresh_mounts(spec);
    std::string key;
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        const Mount& m = spec.mounts[i];
        if (fresh[i]) {
            key += fmt::format("fresh|{}|{}|{}\n", static_cast<int>(m.kind), m.target.size(),
                               m.target);
        } else {
            key += fmt::format("{}|{}|{}|{}|{}|{}|{}\n", static_cast<int>(m.kind), m.target.size(),
                               m.target, m.source.size(), m.source, m.optional, m.mode);
        }
    }
    return key;
}

namespace {

int apply_template(const void* plan, int32_t* index) noexcept {
    return child_apply_mounts(*static_cast<const ChildPlan*>(plan), index);
}

}  // namespace

Result<UniqueFd> make_mount_template(const JailSpec& spec, const ChildPlan& run_plan) {
    PlanStrings strings;
    ChildPlan plan;
    plan.privileged = run_plan.privileged;
    plan.owner_uid = run_plan.owner_uid;
    plan.owner_gid = run_plan.owner_gid;
    if (auto r = plan_mounts(spec, strings, plan, MountPhase::kTemplate, -1); !r) {
        return std::unexpected(r.error());
    }
    auto holder = NamespaceHolder::start(apply_template, &plan, CLONE_NEWNS);
    if (!holder) return std::unexpected(holder.error());
    auto ran = (*holder)->run();
    if (!ran) return std::unexpected(ran.error());
    if (auto [err, index] = *ran; err != 0) {
        const MountOp* op = index >= 0 && static_cast<size_t>(index) < plan.mount_ops.size()
                                ? &plan.mount_ops[static_cast<size_t>(index)]
                                : nullptr;
        std::string what = "mounting";
        if (op != nullptr && op->spec_index >= 0) {
            what += fmt::format(" (mounts[{}])", op->spec_index);
        }
        what += " for the root template";
        Error error = Error::from_errno(ErrorCode::kInternalError, what,
                                        op != nullptr && op->path != nullptr ? op->path : "", err);
        error.with_context("jail setup failed");
        return std::unexpected(error);
    }
    return (*holder)->open_ns("mnt");
}

int child_apply_mounts(const ChildPlan& plan, int32_t* failed_index) noexcept {
    ::umask(0);
    int trees[kMaxTrees];
    for (size_t i = 0; i < plan.mount_ops.size(); ++i) {
        if (int err = apply(plan.mount_ops[i], plan, trees); err != 0) {
            *failed_index = static_cast<int32_t>(i);
            return err;  // the tree fds die with the child
        }
    }
    return 0;
}

int child_pivot_root(const ChildPlan& plan) noexcept {
    // pivot_root(".", ".") stacks the old root on the new one; detaching "." removes it.
    if (::chdir(plan.staging_root) != 0) return errno;
    if (::syscall(SYS_pivot_root, ".", ".") != 0) return errno;
    if (::umount2(".", MNT_DETACH) != 0) return errno;
    if (::chdir("/") != 0) return errno;
    return 0;
}

int child_root_read_only() noexcept {
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    return ::mount_setattr(AT_FDCWD, "/", 0, &attr, sizeof attr) == 0 ? 0 : errno;
}

}  // namespace orchagent::sandbox
