// cgroups for runs (see cgroup.hpp). Layout, per hierarchy in use:
//   <mount point>/<our own cgroup, from /proc/self/cgroup>/<name>/<run id>
#include "sandbox/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <climits>
#include <map>
#include <thread>

namespace orchagent::sandbox {
namespace {

using namespace std::chrono_literals;
constexpr ErrorCode kSandbox = ErrorCode::kSandboxError;
constexpr std::string_view kV2Enable = "+memory +pids +cpu";

Result<std::string> read_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open", path, errno, kSandbox);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) != 0) {
        if (n < 0 && errno != EINTR) return fail_errno("read", path, errno, kSandbox);
        if (n > 0) out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

// One write(2): a cgroup file takes one value per write.
Result<void> write_file(const std::string& path, std::string_view data) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open", path, errno, kSandbox);
    ssize_t n;
    do {
        n = ::write(fd.get(), data.data(), data.size());
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail_errno("write", path, errno, kSandbox);
    if (static_cast<size_t>(n) != data.size()) {
        return fail(kSandbox, fmt::format("write '{}': short write", path));
    }
    return {};
}

// mkdir that accepts an existing folder: 0 or the errno.
int ensure_dir(const std::string& path) {
    return ::mkdir(path.c_str(), 0755) == 0 || errno == EEXIST ? 0 : errno;
}

// rmdir, retried while the kernel finishes tearing down killed tasks (EBUSY), ~50 ms at most.
// 0 or the errno; a folder already gone counts as removed.
int remove_dir(const std::string& path) {
    auto pause = 100us;
    auto waited = 0us;
    for (;;) {
        if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return 0;
        if (errno != EBUSY || waited >= 50ms) return errno;
        std::this_thread::sleep_for(pause);
        waited += pause;
        pause = std::min<std::chrono::microseconds>(pause * 2, 10ms);
    }
}

// The non-empty pieces of `text` between any of `seps`.
std::vector<std::string_view> split(std::string_view text, std::string_view seps) {
    std::vector<std::string_view> parts;
    while (!text.empty()) {
        const size_t end = std::min(text.find_first_of(seps), text.size());
        if (end > 0) parts.push_back(text.substr(0, end));
        text.remove_prefix(std::min(end + 1, text.size()));
    }
    return parts;
}

bool has_word(std::string_view text, std::string_view word) {
    const auto words = split(text, " \n");
    return std::ranges::find(words, word) != words.end();
}

std::optional<uint64_t> to_u64(std::string_view s) {
    while (s.ends_with('\n')) s.remove_suffix(1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
    return v;
}

// The value of "key N" in a flat keyed file (cpu.stat, memory.events, memory.oom_control).
uint64_t keyed(std::string_view text, std::string_view key) {
    for (auto line : split(text, "\n")) {
        if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ' ') {
            return to_u64(line.substr(key.size() + 1)).value_or(0);
        }
    }
    return 0;
}

bool valid_id(std::string_view id) {
    return !id.empty() && id.size() <= 64 && std::ranges::all_of(id, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
}

// SIGKILL to every pid cgroup.procs lists, until it lists none. Not recursive (v1 fallback).
Result<void> kill_listed(const std::string& dir) {
    const std::string procs = dir + "/cgroup.procs";
    for (int round = 0; round < 1000; ++round) {
        auto text = read_file(procs);
        if (!text) return std::unexpected(text.error());
        bool any = false;
        for (auto line : split(*text, "\n")) {
            const auto pid = to_u64(line);
            // 0 is a task outside our pid namespace: kill(0) would hit our own group.
            if (!pid || *pid == 0 || *pid > INT_MAX) continue;
            any = true;
            ::kill(static_cast<pid_t>(*pid), SIGKILL);
        }
        if (!any) return {};
        if (round > 0) std::this_thread::sleep_for(100us);
    }
    return fail(kSandbox, fmt::format("'{}' still lists processes after 1000 rounds", procs));
}

std::vector<std::string> subdirs(const std::string& dir) {
    std::vector<std::string> found;
    if (DIR* d = ::opendir(dir.c_str())) {
        std::unique_ptr<DIR, int (*)(DIR*)> owner(d, ::closedir);
        while (const dirent* e = ::readdir(d)) {
            const std::string_view n = e->d_name;
            if (e->d_type == DT_DIR && n != "." && n != "..")
                found.push_back(dir + "/" + e->d_name);
        }
    }
    return found;
}

// A run group left by a crashed process: kill what is in it, its nested groups, remove it.
void remove_tree(const std::string& dir) {
    if (!write_file(dir + "/cgroup.kill", "1")) (void)kill_listed(dir);
    for (const auto& sub : subdirs(dir)) remove_tree(sub);
    (void)remove_dir(dir);
}

struct CgroupMount {
    bool v2 = false;
    std::string root;                  // the hierarchy's folder shown at `point`
    std::string point;                 // where it is mounted
    std::vector<std::string> options;  // super options: v1 names its controllers there
};

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

Result<std::vector<CgroupMount>> cgroup_mounts() {
    auto text = read_file("/proc/self/mountinfo");
    if (!text) return std::unexpected(text.error());
    std::vector<CgroupMount> mounts;
    for (auto line : split(*text, "\n")) {
        // id parent major:minor root point options [optional...] - fstype source super-options
        const auto f = split(line, " ");
        const auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
        if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) continue;
        const std::string_view type = dash[1];
        if (type != "cgroup" && type != "cgroup2") continue;
        CgroupMount m{type == "cgroup2", unescape(f[3]), unescape(f[4]), {}};
        for (auto o : split(dash[3], ",")) m.options.emplace_back(o);
        mounts.push_back(std::move(m));
    }
    return mounts;
}

// /proc/self/cgroup as controller -> path; "" for the v2 hierarchy ("0::/path").
Result<std::map<std::string, std::string>> own_cgroups() {
    auto text = read_file("/proc/self/cgroup");
    if (!text) return std::unexpected(text.error());
    std::map<std::string, std::string> own;
    for (auto line : split(*text, "\n")) {
        const size_t a = line.find(':');
        const size_t b = a == line.npos ? a : line.find(':', a + 1);
        if (b == line.npos) continue;
        const auto path = std::string(line.substr(b + 1));
        const auto controllers = line.substr(a + 1, b - a - 1);
        if (controllers.empty()) own[""] = path;
        for (auto c : split(controllers, ",")) own[std::string(c)] = path;
    }
    return own;
}

// Our own folder in a hierarchy: the mount point plus our path below the mount's root.
Result<std::string> own_dir(const std::vector<CgroupMount>& mounts,
                            const std::map<std::string, std::string>& own, bool v2,
                            const std::string& controller) {
    const auto it = own.find(v2 ? "" : controller);
    if (it == own.end()) return fail(kSandbox, "not listed in /proc/self/cgroup");
    const std::string& path = it->second;
    bool mounted = false;
    for (const auto& m : mounts) {
        if (m.v2 != v2 || (!v2 && std::ranges::find(m.options, controller) == m.options.end())) {
            continue;
        }
        mounted = true;
        if (m.root == "/") return m.point + (path == "/" ? "" : path);
        if (path == m.root) return m.point;
        if (path.starts_with(m.root + "/")) return m.point + path.substr(m.root.size());
    }
    if (!mounted) return fail(kSandbox, "not mounted");
    return fail(kSandbox, fmt::format("no mount shows our cgroup '{}'", path));
}

// The v2 parent of run groups, with memory, pids and cpu enabled for them.
Result<std::string> setup_v2(const std::vector<CgroupMount>& mounts,
                             std::map<std::string, std::string> own, const std::string& name) {
    // An earlier detect() in this process may have moved us into the supervisor leaf (below).
    const std::string leaf_suffix = "/" + name + "-supervisor";
    if (own.contains("") && own[""].ends_with(leaf_suffix)) {
        own[""].resize(own[""].size() - leaf_suffix.size());
        if (own[""].empty()) own[""] = "/";
    }
    auto dir = own_dir(mounts, own, true, "");
    if (!dir) return std::unexpected(dir.error());
    auto available = read_file(*dir + "/cgroup.controllers");
    if (!available) return std::unexpected(available.error());
    std::string missing;
    for (auto c : {"memory", "pids", "cpu"}) {
        if (!has_word(*available, c)) missing += fmt::format("{}{}", missing.empty() ? "" : " ", c);
    }
    if (!missing.empty()) {
        return fail(kSandbox, fmt::format("'{}' not in '{}/cgroup.controllers'", missing, *dir));
    }
    // Children get a controller only when their parent enables it in cgroup.subtree_control,
    // and (no-internal-process rule) a non-root cgroup that enables controllers for its
    // children may not hold processes itself: the write fails with EBUSY while we are in it.
    // Then we move this process into a leaf of its own, <own>/<name>-supervisor, and retry.
    // <own>/<name> itself never holds processes, so enabling them there always works.
    const std::string control = *dir + "/cgroup.subtree_control";
    auto enabled = read_file(control);
    if (!enabled) return std::unexpected(enabled.error());
    if (!has_word(*enabled, "memory") || !has_word(*enabled, "pids") ||
        !has_word(*enabled, "cpu")) {
        auto wrote = write_file(control, kV2Enable);
        if (!wrote && wrote.error().sys_errno() == EBUSY) {
            const std::string leaf = *dir + leaf_suffix;
            if (int err = ensure_dir(leaf); err != 0)
                return fail_errno("mkdir", leaf, err, kSandbox);
            auto moved = write_file(leaf + "/cgroup.procs", std::to_string(::getpid()));
            if (!moved) return std::unexpected(moved.error());
            wrote = write_file(control, kV2Enable);
            if (!wrote && wrote.error().sys_errno() == EBUSY) {
                return std::unexpected(
                    wrote.error().with_context("other processes share our cgroup"));
            }
        }
        if (!wrote) return std::unexpected(wrote.error());
    }
    const std::string parent = *dir + "/" + name;
    if (int err = ensure_dir(parent); err != 0) return fail_errno("mkdir", parent, err, kSandbox);
    auto wrote = write_file(parent + "/cgroup.subtree_control", kV2Enable);
    if (!wrote) return std::unexpected(wrote.error());
    return parent;
}

// The v1 parent of run groups for one controller.
Result<std::string> setup_v1(const std::vector<CgroupMount>& mounts,
                             const std::map<std::string, std::string>& own,
                             const std::string& controller, const std::string& name) {
    auto dir = own_dir(mounts, own, false, controller);
    if (!dir) return std::unexpected(dir.error().with_context("cgroup v1 " + controller));
    const std::string parent = *dir + "/" + name;
    if (int err = ensure_dir(parent); err != 0) {
        return std::unexpected(Error::from_errno(kSandbox, "mkdir", parent, err)
                                   .with_context("cgroup v1 " + controller));
    }
    return parent;
}

// Removes <parent>/<pid>-<n> folders whose process is gone, and run groups of the layout
// before per-launcher folders. Folders of live processes are left alone: another launcher's.
void remove_dead_launchers(const std::string& parent) {
    for (const auto& dir : subdirs(parent)) {
        std::string_view base(dir);
        base.remove_prefix(base.rfind('/') + 1);
        if (base.starts_with("r")) base.remove_prefix(1);  // old layout: r<pid>-<n>
        int pid = 0;
        auto [end, ec] = std::from_chars(base.data(), base.data() + base.size(), pid);
        const bool alive = ec == std::errc() && pid > 0 && pid != ::getpid() &&
                           (::kill(pid, 0) == 0 || errno != ESRCH);
        if (!alive && pid != ::getpid()) remove_tree(dir);
    }
}

}  // namespace

CgroupManager CgroupManager::detect(std::string_view name_view) {
    CgroupManager m;
    const std::string name(name_view);
    if (!valid_id(name)) {
        m.why_ = fmt::format("cgroup folder name '{}' is not [A-Za-z0-9_-]{{1,64}}", name);
        return m;
    }
    auto mounts = cgroup_mounts();
    auto own = own_cgroups();
    if (!mounts || !own) {
        m.why_ = (!mounts ? mounts.error() : own.error()).message();
        return m;
    }
    auto v2 = setup_v2(*mounts, *own, name);
    if (v2) {
        m.mode_ = LimitsMode::kCgroupV2;
        m.v2_parent_ = *v2;
        m.parents_ = {*v2};
    } else {
        m.why_ = "cgroup v2: " + v2.error().message();
        std::string* const fields[] = {&m.v1_memory_, &m.v1_cpu_, &m.v1_cpuacct_, &m.v1_pids_};
        const char* const controllers[] = {"memory", "cpu", "cpuacct", "pids"};
        for (size_t i = 0; i < 4; ++i) {
            auto parent = setup_v1(*mounts, *own, controllers[i], name);
            if (!parent) {
                m.why_ += "; " + parent.error().message();
                for (size_t made = 0; made < i; ++made) ::rmdir(fields[made]->c_str());  // if empty
                m.v1_memory_ = m.v1_cpu_ = m.v1_cpuacct_ = m.v1_pids_ = "";
                return m;
            }
            *fields[i] = *parent;
        }
        m.mode_ = LimitsMode::kCgroupV1;
        // A v2 group beside the v1 ones, only for cgroup.kill (race-free end of the tree).
        if (auto dir = own_dir(*mounts, *own, true, ""); dir) {
            const std::string parent = *dir + "/" + name;
            if (ensure_dir(parent) == 0 && ::access((parent + "/cgroup.kill").c_str(), W_OK) == 0) {
                m.v2_parent_ = parent;
                m.parents_.push_back(parent);
            }
        }
        for (auto* field : fields) {
            if (std::ranges::find(m.parents_, *field) == m.parents_.end()) {
                m.parents_.push_back(*field);
            }
        }
    }
    // Several launchers share <name> (a daemon, `orchagent jail`, tests, other daemons on the
    // host): each gets <name>/<pid>-<n>, and only folders of dead processes are cleaned.
    static std::atomic<unsigned> instances{0};
    const std::string mine = fmt::format("{}-{}", ::getpid(), instances.fetch_add(1));
    std::vector<std::string> own_parents;
    for (const auto& parent : m.parents_) {
        remove_dead_launchers(parent);
        const std::string dir = parent + "/" + mine;
        remove_tree(dir);  // a dead process with our pid (pid reuse in containers)
        if (int err = ensure_dir(dir); err != 0) {
            m.why_ = Error::from_errno(kSandbox, "mkdir", dir, err).message();
            m.mode_ = LimitsMode::kRlimitOnly;
            for (const auto& made : own_parents) ::rmdir(made.c_str());
            return m;
        }
        if (parent == m.v2_parent_ && m.mode_ == LimitsMode::kCgroupV2) {
            if (auto wrote = write_file(dir + "/cgroup.subtree_control", kV2Enable); !wrote) {
                m.why_ = wrote.error().message();
                m.mode_ = LimitsMode::kRlimitOnly;
                return m;
            }
        }
        own_parents.push_back(dir);
    }
    auto rebase = [&mine](std::string& field) {
        if (!field.empty()) field += "/" + mine;
    };
    for (auto* field : {&m.v2_parent_, &m.v1_memory_, &m.v1_cpu_, &m.v1_cpuacct_, &m.v1_pids_}) {
        rebase(*field);
    }
    m.parents_ = std::move(own_parents);
    return m;
}

void CgroupManager::remove_folders() const {
    for (const auto& parent : parents_) ::rmdir(parent.c_str());
}

Result<std::unique_ptr<RunCgroup>> CgroupManager::create(std::string_view run_id,
                                                         const Limits& limits) const {
    auto run = create_without_limits(run_id);
    if (!run) return run;
    if (auto set = (*run)->set_limits(limits); !set) return std::unexpected(set.error());
    return run;
}

Result<std::unique_ptr<RunCgroup>> CgroupManager::create_without_limits(
    std::string_view run_id) const {
    if (!valid_id(run_id)) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("run id '{}' is not [A-Za-z0-9_-]{{1,64}}", run_id));
    }
    if (mode_ == LimitsMode::kRlimitOnly) return fail(kSandbox, "no cgroups: " + why_);
    // Each folder is recorded in `run` as soon as it exists: on any failure below, the
    // RunCgroup destructor removes what was made.
    std::unique_ptr<RunCgroup> run(new RunCgroup());
    run->mode_ = mode_;
    auto make = [&](const std::string& parent, std::string& field) -> Result<void> {
        if (parent.empty()) return {};
        const std::string dir = parent + "/" + std::string(run_id);
        if (std::ranges::find(run->paths_, dir) == run->paths_.end()) {
            if (::mkdir(dir.c_str(), 0755) != 0) {
                const int err = errno;  // EEXIST: run ids must be unique
                return fail_errno("mkdir", dir, err,
                                  err == EEXIST ? ErrorCode::kConflict : kSandbox);
            }
            run->paths_.push_back(dir);
        }
        field = dir;
        return {};
    };
    const std::pair<const std::string*, std::string*> groups[] = {{&v2_parent_, &run->v2_},
                                                                  {&v1_memory_, &run->memory_},
                                                                  {&v1_cpu_, &run->cpu_},
                                                                  {&v1_cpuacct_, &run->cpuacct_},
                                                                  {&v1_pids_, &run->pids_}};
    for (auto [parent, field] : groups) {
        if (auto made = make(*parent, *field); !made) return std::unexpected(made.error());
    }
    return run;
}

Result<void> RunCgroup::set_limits(const Limits& limits) const {
    struct Setting {
        const std::string* dir;
        const char* file;
        std::string value;
        bool optional;  // ENOENT/EINVAL ignored: swap files absent or off without swap accounting
    };
    const std::string memory = std::to_string(limits.memory_bytes);
    const std::string pids = std::to_string(limits.max_pids);
    const std::string quota = std::to_string(uint64_t{limits.cpu_millicores} * 100);
    std::vector<Setting> settings;
    if (mode_ == LimitsMode::kCgroupV2) {
        settings = {{&v2_, "memory.max", memory, false},
                    {&v2_, "memory.swap.max", "0", true},
                    {&v2_, "pids.max", pids, false},
                    {&v2_, "cpu.max", quota + " 100000", false},
                    {&v2_, "memory.oom.group", "1", false}};
    } else {
        settings = {{&memory_, "memory.limit_in_bytes", memory, false},
                    {&memory_, "memory.memsw.limit_in_bytes", memory, true},
                    {&pids_, "pids.max", pids, false},
                    {&cpu_, "cpu.cfs_period_us", "100000", false},
                    {&cpu_, "cpu.cfs_quota_us", quota, false}};
    }
    for (const auto& s : settings) {
        auto wrote = write_file(*s.dir + "/" + s.file, s.value);
        if (!wrote) {
            const int err = wrote.error().sys_errno();
            if (s.optional && (err == ENOENT || err == EINVAL)) continue;
            return std::unexpected(wrote.error());
        }
    }
    return {};
}

RunCgroup::~RunCgroup() {
    try {
        (void)kill();
        for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) (void)remove_dir(*it);
    } catch (...) {
        // Nothing to do: detect() of the next process removes what is left.
    }
}

Result<void> RunCgroup::add(pid_t pid) const {
    const std::string text = std::to_string(pid);
    for (const auto& dir : paths_) {
        if (auto wrote = write_file(dir + "/cgroup.procs", text); !wrote) return wrote;
    }
    return {};
}

std::vector<std::string> RunCgroup::v1_task_files() const {
    std::vector<std::string> files;
    if (mode_ != LimitsMode::kCgroupV1) return files;
    for (const std::string* dir : {&memory_, &cpu_, &cpuacct_, &pids_}) {
        if (dir->empty()) continue;
        std::string file = *dir + "/tasks";
        // cpu and cpuacct share a folder where they are mounted together.
        if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
    }
    return files;
}

Result<void> RunCgroup::kill() const {
    if (!v2_.empty()) {
        auto wrote = write_file(v2_ + "/cgroup.kill", "1");
        if (wrote || wrote.error().sys_errno() != ENOENT) return wrote;  // ENOENT: before 5.14
    }
    const std::string& dir = !pids_.empty() ? pids_ : !memory_.empty() ? memory_ : v2_;
    return dir.empty() ? Result<void>{} : kill_listed(dir);
}

Result<CgroupUsage> RunCgroup::usage() const {
    std::optional<Error> error;  // the first failed read; absent optional files read as ""
    auto read = [&](const std::string& path, bool optional = false) {
        auto text = read_file(path);
        if (!text && !(optional && text.error().sys_errno() == ENOENT) && !error) {
            error = text.error();
        }
        return text.value_or("");
    };
    auto number = [](const std::string& text) { return to_u64(text).value_or(0); };
    using std::chrono::microseconds;
    CgroupUsage u;
    if (mode_ == LimitsMode::kCgroupV2) {
        const std::string stat = read(v2_ + "/cpu.stat");
        u.cpu_user = microseconds(keyed(stat, "user_usec"));
        u.cpu_system = microseconds(keyed(stat, "system_usec"));
        u.peak_memory_bytes = number(read(v2_ + "/memory.peak", true));  // since 5.19
        u.peak_pids = static_cast<uint32_t>(number(read(v2_ + "/pids.peak", true)));
        u.oom_kills = keyed(read(v2_ + "/memory.events"), "oom_kill");
    } else {
        // cpuacct.usage is exact (ns, from the scheduler); the user/system split is only
        // sampled at ticks (4 ms steps here). Meter the exact total and split it in the
        // sampled ratio; with no sample at all (a run under one tick) count it as user.
        const uint64_t total_ns = number(read(cpuacct_ + "/cpuacct.usage"));
        uint64_t user_part = 0, sys_part = 0;
        const auto user_ns = to_u64(read(cpuacct_ + "/cpuacct.usage_user", true));
        const auto sys_ns = to_u64(read(cpuacct_ + "/cpuacct.usage_sys", true));
        if (user_ns && sys_ns) {
            user_part = *user_ns;
            sys_part = *sys_ns;
        } else {  // before 4.7: cpuacct.stat, in clock ticks
            const std::string stat = read(cpuacct_ + "/cpuacct.stat");
            user_part = keyed(stat, "user");
            sys_part = keyed(stat, "system");
        }
        const uint64_t sys_ns_share =
            user_part + sys_part == 0 ? 0
                                      : static_cast<uint64_t>(static_cast<long double>(total_ns) *
                                                              sys_part / (user_part + sys_part));
        u.cpu_user = microseconds((total_ns - sys_ns_share) / 1000);
        u.cpu_system = microseconds(sys_ns_share / 1000);
        u.peak_memory_bytes = number(read(memory_ + "/memory.max_usage_in_bytes"));
        u.peak_pids = static_cast<uint32_t>(number(read(pids_ + "/pids.peak", true)));
        u.oom_kills = keyed(read(memory_ + "/memory.oom_control"), "oom_kill");
    }
    if (error) return std::unexpected(*error);
    return u;
}

}  // namespace orchagent::sandbox
