// The parent's side of a run, in order: plan, cgroup, pipes, clone, id maps, cgroup move,
// go, wait for exec, watch, reap, meter, clean up.
#include "sandbox/launcher.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "core/unique_fd.hpp"
#include "sandbox/output.hpp"
#include "sandbox/spawn.hpp"
#include "sandbox/steps.hpp"

namespace orchagent::sandbox {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kChildStackBytes = 256 << 10;
// New for every run. A root launcher's runs join their slot's user and network namespaces
// instead (kept per slot: a new network namespace alone costs ~0.55 ms here).
constexpr uint64_t kRunNamespaces = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
constexpr uint64_t kUnprivilegedNamespaces = kRunNamespaces | CLONE_NEWUSER | CLONE_NEWNET;

// One stack per launching thread, reused: a run is synchronous on its thread.
class ChildStack {
  public:
    ChildStack() {
        void* p = ::mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
        base_ = p == MAP_FAILED ? nullptr : p;
    }
    ~ChildStack() {
        if (base_ != nullptr) ::munmap(base_, kChildStackBytes);
    }
    void* base() const { return base_; }

  private:
    void* base_ = nullptr;
};

struct Pipe {
    UniqueFd read, write;
};

Result<Pipe> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return fail_errno("pipe2", "");
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

// The child dup2()s its fds onto 0-2; none of them may already be 0-2.
Result<void> at_least_3(UniqueFd& fd) {
    if (fd.get() >= 3) return {};
    int moved = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
    if (moved < 0) return fail_errno("fcntl", "F_DUPFD_CLOEXEC");
    fd.reset(moved);
    return {};
}

Result<UniqueFd> open_stdin(const StdinSource& source) {
    if (const auto* file = std::get_if<StdinFile>(&source)) {
        // The runtime may put this file where an agent could once write: never follow a
        // symlink planted in its place (Judge0's CVE-2024-28185 was root following one).
        UniqueFd fd(::open(file->path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW));
        if (!fd) return fail_errno("open", file->path);
        return fd;
    }
    if (const auto* buffer = std::get_if<StdinBuffer>(&source)) {
        // A memfd: no writer thread, no pipe-size limit, and the program may seek it.
        UniqueFd fd(::memfd_create("stdin", MFD_CLOEXEC));
        if (!fd) return fail_errno("memfd_create", "stdin");
        const char* p = buffer->data.data();
        size_t left = buffer->data.size();
        while (left > 0) {
            ssize_t n = ::write(fd.get(), p, left);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail_errno("write", "stdin memfd");
            p += n;
            left -= static_cast<size_t>(n);
        }
        if (::lseek(fd.get(), 0, SEEK_SET) != 0) return fail_errno("lseek", "stdin memfd");
        return fd;
    }
    UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open", "/dev/null");
    return fd;
}

std::vector<std::string> exec_candidates(const JailSpec& spec) {
    const std::string& name = spec.argv.front();
    if (name.find('/') != std::string::npos) return {name};
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& kv : spec.env) {
        if (kv.starts_with("PATH=")) path = kv.substr(5);
    }
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string dir = path.substr(start, end - start);
        if (!dir.empty() && dir.front() == '/') out.push_back(dir + "/" + name);
        start = end + 1;
    }
    return out;
}

Error setup_error(const ChildFailure& failure, const ChildPlan& plan, const JailSpec& spec) {
    auto step = static_cast<ChildStep>(failure.step);
    std::string what = to_string(step);
    std::string arg;
    if (step == ChildStep::kMounts && failure.index >= 0 &&
        static_cast<size_t>(failure.index) < plan.mount_ops.size()) {
        const MountOp& op = plan.mount_ops[static_cast<size_t>(failure.index)];
        arg = op.path != nullptr ? op.path : "";
        if (op.spec_index >= 0) what += fmt::format(" (mounts[{}])", op.spec_index);
    } else if (step == ChildStep::kExec && failure.index >= 0 &&
               static_cast<size_t>(failure.index) < plan.exec_candidates.size()) {
        arg = plan.exec_candidates[static_cast<size_t>(failure.index)];
    } else if (step == ChildStep::kExec) {
        arg = spec.argv.front();
    }
    // The program itself could not be started: the caller's fault, not the platform's.
    ErrorCode code =
        step == ChildStep::kExec ? ErrorCode::kSandboxError : ErrorCode::kInternalError;
    Error error = Error::from_errno(code, what, arg, failure.err);
    error.with_context("jail setup failed");
    return error;
}

std::chrono::microseconds to_us(const timeval& tv) {
    return std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
}

}  // namespace

// One slot = one host id range = one user and one network namespace, used by one run at a
// time: two concurrent runs in one network namespace could talk over its loopback.
struct Launcher::Slots {
    struct Slot {
        SlotNamespaces ns;
        uint32_t range = 0;
        bool busy = false;
    };
    std::mutex mutex;
    std::map<uint32_t, Slot> by_base;

    class Lease {
      public:
        Lease(Slots* slots, Slot* slot) : slots_(slots), slot_(slot) {}
        Lease(Lease&& other) noexcept
            : slots_(std::exchange(other.slots_, nullptr)), slot_(other.slot_) {}
        Lease(const Lease&) = delete;
        ~Lease() {
            if (slots_ == nullptr) return;
            std::lock_guard lock(slots_->mutex);
            slot_->busy = false;
        }
        int user() const { return slot_->ns.user.get(); }
        int net() const { return slot_->ns.net.get(); }

      private:
        Slots* slots_;
        Slot* slot_;
    };

    Result<Lease> acquire(const Identity& identity) {
        std::lock_guard lock(mutex);
        auto it = by_base.find(identity.host_base);
        if (it == by_base.end()) {
            auto made = make_slot_namespaces(identity);
            if (!made) return std::unexpected(made.error().with_context("slot namespaces"));
            it = by_base.emplace(identity.host_base, Slot{std::move(*made), identity.range}).first;
        }
        Slot& slot = it->second;
        if (slot.range != identity.range) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("identity.range: slot {} was made with range {}",
                                    identity.host_base, slot.range));
        }
        if (slot.busy) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("identity.host_base: slot {} is in use by another run; "
                                    "concurrent runs need distinct slots",
                                    identity.host_base));
        }
        slot.busy = true;
        return Lease(this, &slot);
    }
};

// Mount templates by the static part of the spec: built once, entered by every run.
struct Launcher::Templates {
    std::mutex mutex;
    std::map<std::string, UniqueFd> by_key;

    Result<int> get(const JailSpec& spec, const ChildPlan& plan) {
        std::string key = template_key(spec);
        std::lock_guard lock(mutex);
        auto it = by_key.find(key);
        if (it == by_key.end()) {
            auto made = make_mount_template(spec, plan);
            if (!made) return std::unexpected(made.error());
            it = by_key.emplace(std::move(key), std::move(*made)).first;
        }
        return it->second.get();
    }
};

Launcher::Launcher()
    : slots_(std::make_unique<Slots>()), templates_(std::make_unique<Templates>()) {}
Launcher::~Launcher() {
    cgroup_pool_.reset();  // its groups first, then their parents
    cgroups_.remove_folders();
}

const char* to_string(LimitsMode mode) {
    switch (mode) {
        case LimitsMode::kCgroupV2:
            return "cgroup-v2";
        case LimitsMode::kCgroupV1:
            return "cgroup-v1";
        case LimitsMode::kRlimitOnly:
            return "rlimit-only";
    }
    return "unknown";
}

Result<std::unique_ptr<Launcher>> Launcher::create(const LauncherOptions& options) {
    std::unique_ptr<Launcher> launcher(new Launcher());
    launcher->options_ = options;
    launcher->privileged_ = ::geteuid() == 0;
    // Orphans of anything we spawn come back to us to be reaped, not to a PID 1 that
    // (on these hosts) never reaps.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
        return fail_errno("prctl", "PR_SET_CHILD_SUBREAPER");
    }
    auto seccomp = build_default_seccomp();
    if (!seccomp) return std::unexpected(seccomp.error());
    launcher->seccomp_ = std::move(*seccomp);
    if (options.use_cgroups) launcher->cgroups_ = CgroupManager::detect(options.cgroup_name);
    if (launcher->cgroups_.mode() != LimitsMode::kRlimitOnly) {
        launcher->cgroup_pool_ = std::make_unique<CgroupPool>(launcher->cgroups_);
    }
    return launcher;
}

Result<JailResult> Launcher::run(const JailSpec& spec, const RunHooks& hooks) {
    if (auto valid = validate(spec); !valid) return std::unexpected(valid.error());
    if (privileged_ && spec.identity.host_base < spec.identity.range) {
        return fail(ErrorCode::kInvalidInput,
                    "identity.host_base: a root launcher must map inside ids to a range above "
                    "the host's system ids (host_base >= range)");
    }
    const auto start = Clock::now();
    const auto deadline = start + spec.timeout;
    JailResult result;
    result.limits_mode = cgroups_.mode();

    // 1. The plan: everything the child will do, computed here so the child never allocates.
    PlanStrings strings;
    ChildPlan plan;
    plan.privileged = privileged_;
    plan.run_uid = spec.identity.run_uid;
    plan.run_gid = spec.identity.run_gid;
    plan.owner_uid = plan.run_uid;
    plan.owner_gid = plan.run_gid;
    std::optional<Slots::Lease> slot;
    if (privileged_) {
        auto lease = slots_->acquire(spec.identity);
        if (!lease) return std::unexpected(lease.error());
        slot.emplace(std::move(*lease));
        plan.slot_user_ns = slot->user();
        plan.slot_net_ns = slot->net();
        // Setup runs as host root: what the run user owns is owned by its host ids.
        plan.owner_uid = spec.identity.host_base + spec.identity.run_uid;
        plan.owner_gid = spec.identity.host_base + spec.identity.run_gid;
    }
    plan.hostname = strings.add(spec.hostname);
    plan.cwd = strings.add(spec.cwd);
    plan.seccomp = &seccomp_;
    // A root launcher builds the static part of the root once (a template namespace) and
    // each run makes only its fresh mounts in a copy of it.
    const bool use_template = privileged_ && can_use_template(spec);
    if (use_template) {
        auto ns = templates_->get(spec, plan);
        if (!ns) return std::unexpected(ns.error());
        if (auto r = plan_mounts(spec, strings, plan, MountPhase::kRun, *ns); !r) {
            return std::unexpected(r.error());
        }
    } else if (auto r = plan_mounts(spec, strings, plan); !r) {
        return std::unexpected(r.error());
    }
    const bool without_cgroups = cgroups_.mode() == LimitsMode::kRlimitOnly;
    plan_rlimits(spec.limits, without_cgroups, plan);
    if (auto r = plan_caps(plan); !r) return std::unexpected(r.error());
    ScopeGuard caps_guard([&plan] { release_caps(plan); });
    for (const auto& c : exec_candidates(spec)) plan.exec_candidates.push_back(strings.add(c));
    for (const auto& a : spec.argv) plan.argv.push_back(const_cast<char*>(strings.add(a)));
    plan.argv.push_back(nullptr);
    for (const auto& e : spec.env) plan.envp.push_back(const_cast<char*>(strings.add(e)));
    plan.envp.push_back(nullptr);
    if (without_cgroups) {
        result.warnings.push_back(
            options_.use_cgroups
                ? fmt::format("no cgroup could be used ({}): memory limited by RLIMIT_AS and "
                              "processes by RLIMIT_NPROC; CPU time and peak memory are "
                              "approximate",
                              cgroups_.why())
                : "cgroups disabled: memory limited by RLIMIT_AS and processes by "
                  "RLIMIT_NPROC; CPU time and peak memory are approximate");
    }

    // 2. The run's cgroup.
    std::unique_ptr<RunCgroup> cgroup;
    if (!without_cgroups) {
        auto taken = cgroup_pool_->take(spec.limits);
        if (!taken) return std::unexpected(taken.error());
        cgroup = std::move(*taken);
    }
    // Whatever happens below, the group goes back to the pool's worker to be removed.
    ScopeGuard retire_cgroup([&] {
        if (cgroup) cgroup_pool_->retire(std::move(cgroup));
    });

    // 3. Pipes and stdin.
    auto in = open_stdin(spec.stdin_source);
    if (!in) return std::unexpected(in.error());
    auto out = make_pipe();
    if (!out) return std::unexpected(out.error());
    auto err = make_pipe();
    if (!err) return std::unexpected(err.error());
    auto sync = make_pipe();
    if (!sync) return std::unexpected(sync.error());
    auto status = make_pipe();
    if (!status) return std::unexpected(status.error());
    for (UniqueFd* fd : {&*in, &out->write, &err->write, &sync->read, &status->write}) {
        if (auto r = at_least_3(*fd); !r) return std::unexpected(r.error());
    }
    // The loopback listener comes back over a unix socket pair (SCM_RIGHTS).
    UniqueFd listener_parent, listener_child;
    if (spec.listener.port != 0) {
        int pair[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
            return fail_errno("socketpair", "jail listener channel");
        }
        listener_parent.reset(pair[0]);
        listener_child.reset(pair[1]);
        plan.listener_channel_fd = listener_child.get();
        plan.listener_port = spec.listener.port;
        plan.listener_backlog = static_cast<int>(spec.listener.backlog);
    }
    ::fcntl(out->read.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err->read.get(), F_SETFL, O_NONBLOCK);
    plan.stdin_fd = in->get();
    plan.stdout_fd = out->write.get();
    plan.stderr_fd = err->write.get();
    plan.sync_fd = sync->read.get();
    plan.status_fd = status->write.get();
    plan.sync_write_fd = sync->write.get();
    plan.parent_pidfd = self_pidfd();

    // 4. Clone, born in the v2 group when there is one; the child joins v1 groups itself.
    static thread_local ChildStack stack;
    if (stack.base() == nullptr) return fail_errno("mmap", "child stack", ENOMEM);
    UniqueFd cgroup_dir;
    if (cgroup) {
        for (const auto& file : cgroup->v1_task_files()) {
            plan.cgroup_task_files.push_back(strings.add(file));
        }
        if (!cgroup->v2_path().empty()) {
            cgroup_dir.reset(::open(cgroup->v2_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!cgroup_dir) return fail_errno("open", cgroup->v2_path());
        }
    }
    auto spawned = spawn_vm_child(child_main, &plan, stack.base(), kChildStackBytes,
                                  !privileged_   ? kUnprivilegedNamespaces
                                  : use_template ? kRunNamespaces & ~uint64_t{CLONE_NEWNS}
                                                 : kRunNamespaces,
                                  cgroup_dir ? cgroup_dir.get() : -1);
    if (!spawned) return std::unexpected(spawned.error());
    const pid_t pid = spawned->pid;
    UniqueFd pidfd = std::move(spawned->pidfd);
    auto reap = [&pidfd](rusage* usage) {
        siginfo_t info{};
        while (::syscall(SYS_waitid, P_PIDFD, pidfd.get(), &info, WEXITED, usage) != 0 &&
               errno == EINTR) {
        }
        return info;
    };
    ScopeGuard kill_guard([&] {
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        reap(nullptr);
    });
    in->reset();
    out->write.reset();
    err->write.reset();
    sync->read.reset();
    status->write.reset();
    listener_child.reset();

    // 5. Id maps (a root launcher's slot has them already), then let the child go.
    if (!privileged_) {
        if (auto r = write_id_maps(pid, spec.identity, false); !r) {
            return std::unexpected(r.error());
        }
    }
    if (cgroup && !spawned->in_cgroup && !cgroup->v2_path().empty()) {
        // No clone3 here: move it the slow way (v1 groups it still joins itself).
        if (auto r = cgroup->add(pid); !r) return std::unexpected(r.error());
    }
    if (::write(sync->write.get(), "g", 1) != 1) return fail_errno("write", "jail sync pipe");
    sync->write.reset();

    // 6. Exec or a failed step: the status pipe closes at exec, or carries (step, errno).
    ChildFailure failure;
    ssize_t n;
    do {
        n = ::read(status->read.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == sizeof failure) return std::unexpected(setup_error(failure, plan, spec));
    if (n != 0) return fail_errno("read", "jail status pipe", n < 0 ? errno : EIO);
    if (listener_parent) {
        // The child sent it before exec, so it is queued on our end by now.
        auto listener = receive_listener(listener_parent.get());
        if (!listener) return std::unexpected(listener.error().with_context("jail listener"));
        listener_parent.reset();
        if (hooks.on_listener) hooks.on_listener(std::move(*listener));
    }

    // 7. Watch until the tree is gone; the deadline and the stdout cap kill it.
    auto kill_tree = [&] {
        if (cgroup) (void)cgroup->kill();
        // SIGKILL to the namespace's init takes every process of the namespace with it.
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
    };
    auto watched = watch_run({pidfd.get(), out->read.get(), err->read.get()}, spec.output, deadline,
                             kill_tree, result);
    if (!watched) return std::unexpected(watched.error());

    // 8. Reap, then meter from the cgroup (the launcher's rusage misses the namespace's
    // orphans) and clean up.
    rusage usage{};
    siginfo_t info = reap(&usage);
    kill_guard.dismiss();
    result.wall = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    if (info.si_code == CLD_EXITED) {
        result.exit_code = info.si_status;
    } else {
        result.term_signal = info.si_status;
    }
    if (cgroup) {
        auto metered = cgroup->usage();
        if (!metered) return std::unexpected(metered.error());
        result.cpu_user = metered->cpu_user;
        result.cpu_system = metered->cpu_system;
        result.peak_memory_bytes = metered->peak_memory_bytes;
        result.peak_pids = metered->peak_pids;
        result.oom_killed = metered->oom_kills > 0;
    } else {
        result.cpu_user = to_us(usage.ru_utime);
        result.cpu_system = to_us(usage.ru_stime);
        result.peak_memory_bytes = static_cast<uint64_t>(usage.ru_maxrss) * 1024;
    }
    return result;
}

}  // namespace orchagent::sandbox
