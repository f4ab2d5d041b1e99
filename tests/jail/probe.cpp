// jail_probe: runs INSIDE the jail and tries each thing the jail forbids (tests/jail/*_test.cpp).
//
//   jail_probe all [--host-path P]... [--host-port N] [--host-pid N] [--ro-path P]...
//       One line per check on stdout: "check <name> contained|ESCAPED <detail>".
//       "contained" means the jail behaved as designed. Exit 0 when every check is contained.
//   jail_probe forkbomb|membomb|diskfill [PATH]|cpuspin|stdoutflood [BYTES]|daemonize PATH|
//              sleep SECONDS|env|exit CODE|signal SIG|echo|true
//       Misbehaving programs for the limit tests; each is run alone in its own jail.
//
// Self-contained on purpose (libc, libstdc++ and Linux headers only): it is built for and run
// inside the jail. Calls that could change the host if they ever succeeded (reboot, acct,
// clock setting, umount, kexec...) are made with arguments the kernel rejects *after* the
// privilege check, so outside a jail they fail harmlessly (and are reported ESCAPED because
// the error is not the EPERM of the seccomp filter). The rest run in a throwaway child where
// that keeps the probe itself intact. The limit modes carry safety caps so that a run
// outside a jail stays bounded.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace {

constexpr uid_t kRunId = 1000;
constexpr const char* kHostname = "orchagent";

// ---------------------------------------------------------------------------------------------
// Small helpers

std::string errname(int e) {
    const char* name = strerrorname_np(e);
    return name ? name : "E" + std::to_string(e);
}

struct Outcome {
    bool contained;
    std::string detail;
};
Outcome ok(std::string detail) { return {true, std::move(detail)}; }
Outcome bad(std::string detail) { return {false, std::move(detail)}; }

// A syscall's return value with errno captured right after it: wrap the call itself.
struct SysRet {
    long rc;
    int err;
};
SysRet ret(long rc) { return {rc, rc < 0 ? errno : 0}; }

Outcome expect_errno(SysRet r, int want) {
    if (r.rc >= 0) return bad("succeeded (returned " + std::to_string(r.rc) + ")");
    if (r.err == want) return ok(errname(r.err));
    return bad(errname(r.err) + " (expected " + errname(want) + ")");
}
Outcome expect_eperm(SysRet r) { return expect_errno(r, EPERM); }

class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) close(fd_);
    }
    int get() const { return fd_; }

  private:
    int fd_;
};

std::optional<std::string> read_file(const char* path) {
    Fd fd(open(path, O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return std::nullopt;
    std::string out;
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return std::nullopt;
        if (n == 0) return out;
        out.append(buf, static_cast<size_t>(n));
    }
}

bool write_all(int fd, const char* data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        len -= static_cast<size_t>(n);
    }
    return true;
}

// Entries of a directory without "." and ".."; nullopt (errno set) when it cannot be opened.
std::optional<std::vector<std::string>> list_dir(const char* path) {
    DIR* dir = opendir(path);
    if (!dir) return std::nullopt;
    std::vector<std::string> names;
    while (dirent* e = readdir(dir)) {
        std::string_view name = e->d_name;
        if (name != "." && name != "..") names.emplace_back(name);
    }
    closedir(dir);
    return names;
}

// "Key:\tvalue" from /proc/self/status.
std::optional<std::string> status_field(const std::string& status, std::string_view key) {
    size_t pos = 0;
    while (pos < status.size()) {
        size_t end = status.find('\n', pos);
        if (end == std::string::npos) end = status.size();
        std::string_view line(status.data() + pos, end - pos);
        if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
            std::string_view value = line.substr(key.size() + 1);
            while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
                value.remove_prefix(1);
            return std::string(value);
        }
        pos = end + 1;
    }
    return std::nullopt;
}

bool is_number(std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::string join(const std::vector<std::string>& items, const char* sep = ",") {
    std::string out;
    for (const auto& item : items) out += (out.empty() ? "" : sep) + item;
    return out;
}

// Runs fn in a forked child (alarm-bounded) and brings back its SysRet, or how it died.
struct ChildResult {
    bool reported = false;  // fn returned and its SysRet came back
    SysRet r{};
    int status = 0;  // waitpid status
    int fork_err = 0;
};

template <class Fn>
ChildResult run_child(Fn fn) {
    ChildResult cr;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        cr.fork_err = errno;
        return cr;
    }
    fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(3);
        SysRet r = fn();
        (void)!write(fds[1], &r, sizeof r);
        _exit(0);
    }
    close(fds[1]);
    if (pid < 0) {
        cr.fork_err = errno;
        close(fds[0]);
        return cr;
    }
    cr.reported = read(fds[0], &cr.r, sizeof cr.r) == static_cast<ssize_t>(sizeof cr.r);
    close(fds[0]);
    for (;;) {
        if (waitpid(pid, &cr.status, 0) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (WIFSTOPPED(cr.status)) {  // a child that became traced stops on signals
            kill(pid, SIGKILL);
            continue;
        }
        break;
    }
    return cr;
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) {
        const char* abbrev = sigabbrev_np(WTERMSIG(status));
        return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(WTERMSIG(status));
    }
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
}

Outcome child_expect(const ChildResult& cr, int want) {
    if (cr.fork_err) return bad("fork: " + errname(cr.fork_err));
    if (!cr.reported) return bad("child died: " + describe_status(cr.status));
    return expect_errno(cr.r, want);
}

// ---------------------------------------------------------------------------------------------
// Options of "all"

struct Options {
    std::vector<std::string> host_paths;
    std::vector<std::string> ro_paths;
    int host_port = -1;
    pid_t host_pid = -1;
};
Options g_opts;

std::string probe_name(const std::string& dir) {
    return dir + (dir.ends_with('/') ? "" : "/") + ".orchagent_probe_" + std::to_string(getpid());
}

// ---------------------------------------------------------------------------------------------
// Process: fds, session, hostname, pids

Outcome check_fds() {
    DIR* dir = opendir("/proc/self/fd");
    if (!dir) return bad("opendir /proc/self/fd: " + errname(errno));
    std::vector<std::string> seen, extra;
    while (dirent* e = readdir(dir)) {
        if (!is_number(e->d_name) || atoi(e->d_name) == dirfd(dir)) continue;
        seen.emplace_back(e->d_name);
        if (atoi(e->d_name) > 2) {
            char target[256] = {};
            std::string link = std::string("/proc/self/fd/") + e->d_name;
            (void)!readlink(link.c_str(), target, sizeof target - 1);
            extra.push_back(std::string(e->d_name) + "->" + target);
        }
    }
    closedir(dir);
    if (!extra.empty()) return bad("extra fds: " + join(extra));
    return ok("fds " + join(seen));
}

Outcome check_session() {
    pid_t sid = getsid(0);
    std::string detail = "sid=" + std::to_string(sid) + " pid=" + std::to_string(getpid());
    return sid == getpid() ? ok(detail) : bad(detail);
}

Outcome check_hostname() {
    utsname u{};
    uname(&u);
    return std::string_view(u.nodename) == kHostname ? ok(u.nodename) : bad(u.nodename);
}

Outcome check_pid1() {
    pid_t pid = getpid();
    return pid == 1 ? ok("pid 1") : bad("pid " + std::to_string(pid));
}

Outcome check_host_pid() {
    if (g_opts.host_pid < 0) return ok("no --host-pid given");
    std::string pid = std::to_string(g_opts.host_pid);
    SysRet k = ret(kill(g_opts.host_pid, 0));
    struct stat st;
    SysRet s = ret(stat(("/proc/" + pid).c_str(), &st));
    std::string detail = "kill(" + pid + ",0)=" + (k.rc == 0 ? "0" : errname(k.err)) + " /proc/" +
                         pid + "=" + (s.rc == 0 ? "present" : errname(s.err));
    return (k.rc < 0 && k.err == ESRCH && s.rc < 0 && s.err == ENOENT) ? ok(detail) : bad(detail);
}

// Every pid in /proc must be small (this namespace counts from 1) and, when its status is
// readable, belong to us.
Outcome check_proc_pids() {
    auto names = list_dir("/proc");
    if (!names) return bad("opendir /proc: " + errname(errno));
    std::vector<std::string> pids, problems;
    for (const auto& name : *names) {
        if (!is_number(name)) continue;
        pids.push_back(name);
        if (std::stol(name) >= 1000) problems.push_back(name + ":large");
        auto status = read_file(("/proc/" + name + "/status").c_str());
        if (!status) continue;
        auto uid = status_field(*status, "Uid");
        if (!uid || std::stoul(*uid) != getuid())
            problems.push_back(name + ":uid " + uid.value_or("?"));
    }
    if (!problems.empty()) return bad("foreign: " + join(problems));
    return ok("pids " + join(pids));
}

// ---------------------------------------------------------------------------------------------
// Identity, capabilities, rlimits

Outcome check_uid_gid() {
    uid_t ru, eu, su;
    gid_t rg, eg, sg;
    getresuid(&ru, &eu, &su);
    getresgid(&rg, &eg, &sg);
    std::string detail = "uid=" + std::to_string(ru) + "/" + std::to_string(eu) + "/" +
                         std::to_string(su) + " gid=" + std::to_string(rg) + "/" +
                         std::to_string(eg) + "/" + std::to_string(sg);
    bool all = ru == kRunId && eu == kRunId && su == kRunId && rg == kRunId && eg == kRunId &&
               sg == kRunId;
    return all ? ok(detail) : bad(detail);
}

Outcome check_no_groups() {
    gid_t groups[256];
    int n = getgroups(256, groups);
    if (n < 0) return bad("getgroups: " + errname(errno));
    std::vector<std::string> ids;
    for (int i = 0; i < n; ++i) ids.push_back(std::to_string(groups[i]));
    return n == 0 ? ok("0 groups") : bad(std::to_string(n) + " groups: " + join(ids));
}

// EPERM when uid 0 is mapped in the user namespace (privileged launcher), EINVAL when it is
// not (unprivileged launcher maps only the run uid): both leave us unprivileged.
Outcome check_setuid_root() {
    SysRet r = ret(syscall(SYS_setuid, 0));
    if (r.rc == 0) return bad("setuid(0) succeeded, uid now " + std::to_string(getuid()));
    if (r.err == EPERM || r.err == EINVAL) return ok(errname(r.err));
    return bad(errname(r.err));
}

Outcome check_setgroups() {
    SysRet r = ret(syscall(SYS_setgroups, 0, nullptr));
    return r.rc == 0 ? bad("setgroups(0) succeeded") : ok(errname(r.err));
}

Outcome check_caps_zero() {
    auto status = read_file("/proc/self/status");
    if (!status) return bad("cannot read /proc/self/status");
    std::vector<std::string> set;
    for (const char* key : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
        auto value = status_field(*status, key);
        if (!value)
            set.push_back(std::string(key) + "=missing");
        else if (value->find_first_not_of('0') != std::string::npos)
            set.push_back(std::string(key) + "=" + *value);
    }
    return set.empty() ? ok("all zero") : bad(join(set, " "));
}

Outcome check_no_new_privs() {
    auto status = read_file("/proc/self/status");
    std::string field =
        status ? status_field(*status, "NoNewPrivs").value_or("missing") : "unreadable";
    int prctl_value = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    std::string detail = "NoNewPrivs=" + field + " prctl=" + std::to_string(prctl_value);
    return (field == "1" && prctl_value == 1) ? ok(detail) : bad(detail);
}

Outcome check_seccomp_mode() {
    auto status = read_file("/proc/self/status");
    std::string field =
        status ? status_field(*status, "Seccomp").value_or("missing") : "unreadable";
    return field == "2" ? ok("Seccomp=2") : bad("Seccomp=" + field);
}

Outcome check_capset_raise() {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    data[0].effective = data[0].permitted = 1u << CAP_SYS_ADMIN;
    return expect_eperm(ret(syscall(SYS_capset, &header, data)));
}

Outcome check_rlimit_raise() {
    rlimit old{};
    getrlimit(RLIMIT_NOFILE, &old);
    if (old.rlim_max == RLIM_INFINITY) return bad("RLIMIT_NOFILE hard limit is infinity");
    rlimit raised{old.rlim_max + 1, old.rlim_max + 1};
    SysRet r = ret(setrlimit(RLIMIT_NOFILE, &raised));
    if (r.rc == 0) setrlimit(RLIMIT_NOFILE, &old);  // lowering back is always allowed
    Outcome o = expect_eperm(r);
    o.detail += " (hard " + std::to_string(old.rlim_max) + ")";
    return o;
}

Outcome check_core_zero() {
    rlimit lim{};
    getrlimit(RLIMIT_CORE, &lim);
    auto show = [](rlim_t v) {
        return v == RLIM_INFINITY ? std::string("inf") : std::to_string(v);
    };
    std::string detail = "soft " + show(lim.rlim_cur) + " hard " + show(lim.rlim_max);
    return (lim.rlim_cur == 0 && lim.rlim_max == 0) ? ok(detail) : bad(detail);
}

// ---------------------------------------------------------------------------------------------
// Filesystem view

Outcome check_shadow() {
    Fd fd(open("/etc/shadow", O_RDONLY | O_CLOEXEC));
    return fd.get() >= 0 ? bad("/etc/shadow opened") : ok(errname(errno));
}

Outcome check_host_paths() {
    if (g_opts.host_paths.empty()) return ok("no --host-path given");
    bool all = true;
    std::vector<std::string> seen;
    for (const auto& path : g_opts.host_paths) {
        struct stat st;
        SysRet s = ret(stat(path.c_str(), &st));
        Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
        int open_err = fd.get() < 0 ? errno : 0;
        bool hidden = s.rc < 0 && s.err == ENOENT && open_err == ENOENT;
        all = all && hidden;
        seen.push_back(path + ":stat=" + (s.rc == 0 ? "ok" : errname(s.err)) +
                       ",open=" + (open_err ? errname(open_err) : "ok"));
    }
    return all ? ok(join(seen, " ")) : bad(join(seen, " "));
}

Outcome check_sys_hidden() {
    struct stat st;
    if (stat("/sys", &st) != 0)
        return errno == ENOENT ? ok("/sys absent") : bad("/sys: " + errname(errno));
    auto names = list_dir("/sys");
    if (!names) return bad("/sys exists but unreadable: " + errname(errno));
    if (!names->empty()) return bad("/sys lists " + join(*names));
    if (stat("/sys/class/net", &st) == 0) return bad("/sys/class/net present");
    return ok("/sys empty");
}

Outcome check_host_sockets() {
    std::vector<std::string> present;
    for (const char* path :
         {"/run/docker.sock", "/var/run/docker.sock", "/var/run", "/tmp/.X11-unix", "/root"}) {
        struct stat st;
        if (lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR))
            present.emplace_back(path);
    }
    if (auto home = list_dir("/home")) {
        for (const auto& name : *home)
            if (name != "user") present.push_back("/home/" + name);
    }
    return present.empty() ? ok("none visible") : bad("visible: " + join(present));
}

// Creating a file "at" `path` must fail with EROFS or EACCES: inside it when it is a folder,
// the path itself when it does not exist, next to it when it is a file (opening a running
// binary for writing would fail with ETXTBSY before the read-only check).
std::string ro_attempt(const std::string& path, bool& contained) {
    struct stat st;
    std::string target = path;
    if (stat(path.c_str(), &st) == 0)
        target =
            probe_name(S_ISDIR(st.st_mode) ? path : path.substr(0, path.find_last_of('/') + 1));
    int fd = open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
        close(fd);
        unlink(target.c_str());
        contained = false;
        return target + ":created";
    }
    int err = errno;
    if (err != EROFS && err != EACCES) contained = false;
    return path + ":" + errname(err);
}

Outcome check_ro_binds() {
    std::vector<std::string> paths = {"/usr", "/usr/bin", "/etc", "/"};
    paths.insert(paths.end(), g_opts.ro_paths.begin(), g_opts.ro_paths.end());
    bool all = true;
    std::vector<std::string> seen;
    for (const auto& path : paths) seen.push_back(ro_attempt(path, all));
    return all ? ok(join(seen, " ")) : bad(join(seen, " "));
}

Outcome writable_dir(const std::string& dir) {
    std::string path = probe_name(dir);
    Fd fd(open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (fd.get() < 0) return bad("create " + path + ": " + errname(errno));
    bool written = write_all(fd.get(), "probe", 5);
    char back[5] = {};
    bool read_back = pread(fd.get(), back, 5, 0) == 5 && memcmp(back, "probe", 5) == 0;
    unlink(path.c_str());
    return (written && read_back) ? ok("writable") : bad("write/read back failed");
}
Outcome check_tmp_writable() { return writable_dir("/tmp"); }
Outcome check_home_writable() { return writable_dir("/home/user"); }

Outcome check_proc_sys() {
    bool all = true;
    std::vector<std::string> seen;
    for (const char* path :
         {"/proc/sys/kernel/hostname", "/proc/sys/vm/drop_caches", "/proc/sysrq-trigger"}) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);  // opening alone changes nothing
        if (fd >= 0) {
            close(fd);
            all = false;
            seen.push_back(std::string(path) + ":writable");
        } else {
            seen.push_back(std::string(path) + ":" + errname(errno));
        }
    }
    return all ? ok(join(seen, " ")) : bad(join(seen, " "));
}

// ---------------------------------------------------------------------------------------------
// /dev

Outcome check_dev_entries() {
    auto names = list_dir("/dev");
    if (!names) return bad("opendir /dev: " + errname(errno));
    const std::set<std::string> allowed = {"null",    "zero", "full",  "random",
                                           "urandom", "fd",   "stdin", "stdout",
                                           "stderr",  "shm",  "pts",   "ptmx"};
    std::vector<std::string> problems;
    for (const auto& name : *names)
        if (!allowed.contains(name)) problems.push_back("/dev/" + name);
    struct Node {
        const char* name;
        unsigned minor_number;
    };
    for (Node node : {Node{"null", 3}, Node{"zero", 5}, Node{"full", 7}, Node{"random", 8},
                      Node{"urandom", 9}}) {
        struct stat st;
        std::string path = std::string("/dev/") + node.name;
        if (stat(path.c_str(), &st) != 0)
            problems.push_back(path + ":missing");
        else if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 ||
                 minor(st.st_rdev) != node.minor_number)
            problems.push_back(path + ":rdev " + std::to_string(major(st.st_rdev)) + ":" +
                               std::to_string(minor(st.st_rdev)));
    }
    return problems.empty() ? ok(join(*names)) : bad("unexpected: " + join(problems));
}

Outcome check_dev_urandom() {
    Fd fd(open("/dev/urandom", O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return bad("open: " + errname(errno));
    unsigned char buf[32] = {};
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n != static_cast<ssize_t>(sizeof buf))
        return bad("read: " + (n < 0 ? errname(errno) : std::to_string(n)));
    for (unsigned char c : buf)
        if (c != 0) return ok("read 32 bytes");
    return bad("read 32 zero bytes");
}

Outcome check_dev_null() {
    Fd fd(open("/dev/null", O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0) return bad("open: " + errname(errno));
    ssize_t n = write(fd.get(), "0123456789abcdef", 16);
    return n == 16 ? ok("wrote 16 bytes")
                   : bad("write: " + (n < 0 ? errname(errno) : std::to_string(n)));
}

// ---------------------------------------------------------------------------------------------
// Mount flags and setuid files

struct MountEntry {
    std::string point;
    std::string options;  // per-mount options (field 6 of mountinfo)
};

std::string unescape_mountinfo(std::string_view s) {  // "\040" -> ' '
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && i + 3 < s.size()) {
            out +=
                static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::vector<MountEntry> read_mounts() {
    std::vector<MountEntry> mounts;
    auto text = read_file("/proc/self/mountinfo");
    if (!text) return mounts;
    size_t pos = 0;
    while (pos < text->size()) {
        size_t end = text->find('\n', pos);
        if (end == std::string::npos) end = text->size();
        std::vector<std::string_view> fields;
        std::string_view line(text->data() + pos, end - pos);
        for (size_t at = 0; at < line.size();) {
            size_t sp = line.find(' ', at);
            if (sp == std::string_view::npos) sp = line.size();
            fields.push_back(line.substr(at, sp - at));
            at = sp + 1;
        }
        if (fields.size() >= 6)
            mounts.push_back({unescape_mountinfo(fields[4]), std::string(fields[5])});
        pos = end + 1;
    }
    return mounts;
}

bool has_option(const std::string& options, std::string_view opt) {
    std::string_view rest = options;
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        if (rest.substr(0, comma) == opt) return true;
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
    }
    return false;
}

// A mount passes when both its mountinfo options and statvfs (when reachable) carry the flag.
Outcome check_mount_flag(std::string_view opt, unsigned long st_flag,
                         const std::set<std::string>& exempt) {
    auto mounts = read_mounts();
    if (mounts.empty()) return bad("cannot read /proc/self/mountinfo");
    std::vector<std::string> missing;
    for (const auto& m : mounts) {
        if (exempt.contains(m.point)) continue;
        struct statvfs sv;
        bool by_statvfs = statvfs(m.point.c_str(), &sv) != 0 || (sv.f_flag & st_flag);
        if (!has_option(m.options, opt) || !by_statvfs) missing.push_back(m.point);
    }
    std::string count = std::to_string(mounts.size()) + " mounts";
    return missing.empty() ? ok(count + " all " + std::string(opt))
                           : bad("without " + std::string(opt) + ": " + join(missing));
}

Outcome check_mount_nosuid() { return check_mount_flag("nosuid", ST_NOSUID, {}); }
Outcome check_mount_nodev() {
    // /dev itself may allow devices: a root launcher mknods the five nodes there (dev_entries
    // checks nothing else is in it, sys_mknod that nobody inside can add one).
    return check_mount_flag(
        "nodev", ST_NODEV,
        {"/dev", "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/proc"});
}

// A setuid file cannot raise privileges: its mount is nosuid and no_new_privs is set.
Outcome check_setuid_binary() {
    std::string found;
    if (auto names = list_dir("/usr/bin")) {
        const std::set<std::string> preferred = {"su",   "passwd", "mount", "umount",
                                                 "sudo", "chsh",   "newgrp"};
        for (const auto& name : *names) {
            struct stat st;
            std::string path = "/usr/bin/" + name;
            if (lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !(st.st_mode & S_ISUID))
                continue;
            if (found.empty() || preferred.contains(name)) found = path;
            if (preferred.contains(name)) break;
        }
    }
    bool nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1;
    if (found.empty()) {
        std::string detail =
            std::string("no setuid file under /usr/bin; no_new_privs=") + (nnp ? "1" : "0");
        return nnp ? ok(detail) : bad(detail);
    }
    struct statvfs sv;
    bool nosuid = statvfs(found.c_str(), &sv) == 0 && (sv.f_flag & ST_NOSUID);
    std::string detail = found + (nosuid ? " on nosuid mount" : " on suid mount") +
                         "; no_new_privs=" + (nnp ? "1" : "0");
    return (nosuid && nnp) ? ok(detail) : bad(detail);
}

// ---------------------------------------------------------------------------------------------
// Network

// Connects with a timeout; returns 0 when connected, else the errno (ETIMEDOUT on timeout).
int tcp_connect(const char* ip, int port, int timeout_ms) {
    Fd s(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (s.get() < 0) return errno;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip, &addr.sin_addr);
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return 0;
    if (errno != EINPROGRESS) return errno;
    pollfd p{s.get(), POLLOUT, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n == 0) return ETIMEDOUT;
    if (n < 0) return errno;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    return err;
}

// UDP connect then send; returns 0 when the datagram was accepted, else the errno.
int udp_send(const char* ip, int port) {
    Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0) return errno;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, ip, &addr.sin_addr);
    if (connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return errno;
    return send(s.get(), "probe", 5, 0) == 5 ? 0 : errno;
}

Outcome expect_unreachable(int err) {
    if (err == 0) return bad("reached");
    return err == ENETUNREACH ? ok(errname(err)) : bad(errname(err) + " (expected ENETUNREACH)");
}

Outcome check_net_host_port() {
    if (g_opts.host_port < 0) return ok("no --host-port given");
    int err = tcp_connect("127.0.0.1", g_opts.host_port, 1000);
    return err ? ok(errname(err))
               : bad("connected to 127.0.0.1:" + std::to_string(g_opts.host_port));
}
Outcome check_net_gw_tcp() { return expect_unreachable(tcp_connect("10.0.2.2", 80, 1000)); }
Outcome check_net_gw_udp() { return expect_unreachable(udp_send("10.0.2.2", 80)); }
Outcome check_net_ext_tcp() { return expect_unreachable(tcp_connect("1.1.1.1", 53, 1000)); }
Outcome check_net_ext_udp() { return expect_unreachable(udp_send("1.1.1.1", 53)); }

Outcome check_net_ifaces() {
    auto text = read_file("/proc/self/net/dev");
    if (!text) return bad("cannot read /proc/self/net/dev");
    std::vector<std::string> names;
    size_t pos = 0;
    for (int line = 0; pos < text->size(); ++line) {
        size_t end = text->find('\n', pos);
        if (end == std::string::npos) end = text->size();
        std::string_view row(text->data() + pos, end - pos);
        size_t colon = row.find(':');
        if (line >= 2 && colon != std::string_view::npos) {
            std::string_view name = row.substr(0, colon);
            name.remove_prefix(std::min(name.find_first_not_of(' '), name.size()));
            names.emplace_back(name);
        }
        pos = end + 1;
    }
    return (names.size() == 1 && names[0] == "lo") ? ok("lo") : bad("interfaces: " + join(names));
}

Outcome check_lo_up() {
    Fd s(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0) return bad("socket: " + errname(errno));
    ifreq req{};
    std::strncpy(req.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(s.get(), SIOCGIFFLAGS, &req) != 0) return bad("SIOCGIFFLAGS: " + errname(errno));
    return (req.ifr_flags & IFF_UP) ? ok("lo up") : bad("lo down");
}

// ---------------------------------------------------------------------------------------------
// Forbidden syscalls (each must fail with EPERM from the filter or missing capabilities)

constexpr const char* kMissing = "/.orchagent_probe_missing";

Outcome check_ptrace_traceme() {
    return child_expect(
        run_child([] { return ret(syscall(SYS_ptrace, PTRACE_TRACEME, 0, nullptr, nullptr)); }),
        EPERM);
}

Outcome check_ptrace_attach() {
    fflush(nullptr);
    pid_t child = fork();
    if (child < 0) return bad("fork: " + errname(errno));
    if (child == 0) {
        alarm(5);
        for (;;) pause();
    }
    SysRet r = ret(syscall(SYS_ptrace, PTRACE_ATTACH, child, nullptr, nullptr));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return expect_eperm(r);
}

Outcome check_mount() {  // the bogus option makes the kernel refuse past the privilege check
    return expect_eperm(ret(syscall(SYS_mount, "none", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
                                    "orchagent_probe_bogus_option")));
}

Outcome check_umount() {  // MNT_EXPIRE with MNT_DETACH is EINVAL past the privilege check
    return expect_eperm(ret(syscall(SYS_umount2, "/proc", MNT_EXPIRE | MNT_DETACH)));
}

Outcome check_pivot_root() {
    return expect_eperm(ret(syscall(SYS_pivot_root, "/tmp", "/tmp/.orchagent_probe_missing")));
}

Outcome check_chroot() {
    return child_expect(run_child([] { return ret(syscall(SYS_chroot, "/tmp")); }), EPERM);
}

Outcome check_unshare_user() {
    return child_expect(run_child([] { return ret(syscall(SYS_unshare, CLONE_NEWUSER)); }), EPERM);
}

Outcome check_unshare_ns() {
    return child_expect(run_child([] { return ret(syscall(SYS_unshare, CLONE_NEWNS)); }), EPERM);
}

Outcome reap_clone(SysRet r, int want) {
    if (r.rc == 0) _exit(0);  // we are the new child
    if (r.rc > 0) waitpid(static_cast<pid_t>(r.rc), nullptr, __WALL);
    return expect_errno(r, want);
}

Outcome check_clone_newuser() {
    fflush(nullptr);
    return reap_clone(ret(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)), EPERM);
}

Outcome check_clone3() {
    struct {  // struct clone_args, CLONE_ARGS_SIZE_VER0
        uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    } args = {};
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    fflush(nullptr);
    return reap_clone(ret(syscall(SYS_clone3, &args, sizeof args)), ENOSYS);
}

Outcome check_setns() {
    return child_expect(run_child([] {
                            int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
                            return ret(syscall(SYS_setns, fd, CLONE_NEWNET));
                        }),
                        EPERM);
}

Outcome check_keyctl() {
    return expect_eperm(
        ret(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)));
}

Outcome check_add_key() {
    return expect_eperm(
        ret(syscall(SYS_add_key, "user", "orchagent_probe", "x", 1, KEY_SPEC_PROCESS_KEYRING)));
}

Outcome check_bpf() {
    bpf_attr attr{};  // prog_type 0: EINVAL past the privilege check
    return expect_eperm(ret(syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr)));
}

Outcome check_perf_event_open() {
    perf_event_attr attr{};
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    SysRet r = ret(syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC));
    if (r.rc >= 0) close(static_cast<int>(r.rc));
    return expect_eperm(r);
}

Outcome check_io_uring_setup() {
    io_uring_params params{};
    SysRet r = ret(syscall(SYS_io_uring_setup, 1, &params));
    if (r.rc >= 0) close(static_cast<int>(r.rc));
    return expect_eperm(r);
}

Outcome check_userfaultfd() {
    SysRet r = ret(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
    if (r.rc >= 0) close(static_cast<int>(r.rc));
    return expect_eperm(r);
}

Outcome check_open_by_handle_at() {
    Fd root(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    alignas(file_handle) unsigned char buf[sizeof(file_handle) + 16] = {};
    auto* handle = reinterpret_cast<file_handle*>(buf);
    handle->handle_bytes = 16;
    handle->handle_type = 1;
    SysRet r = ret(syscall(SYS_open_by_handle_at, root.get(), handle, O_RDONLY | O_CLOEXEC));
    if (r.rc >= 0) close(static_cast<int>(r.rc));
    return expect_eperm(r);
}

Outcome check_process_vm_readv() {
    char source[8] = "secret", dest[8] = {};
    iovec local{dest, sizeof dest}, remote{source, sizeof source};
    return expect_eperm(ret(syscall(SYS_process_vm_readv, getpid(), &local, 1, &remote, 1, 0)));
}

Outcome check_init_module() {
    static const char image[16] = {};  // not an ELF image
    return expect_eperm(ret(syscall(SYS_init_module, image, sizeof image, "")));
}
Outcome check_finit_module() { return expect_eperm(ret(syscall(SYS_finit_module, -1, "", 0))); }
Outcome check_delete_module() {
    return expect_eperm(ret(syscall(SYS_delete_module, "orchagent_probe_missing", O_NONBLOCK)));
}
Outcome check_kexec_load() {  // too many segments: EINVAL past the privilege check
    return expect_eperm(ret(syscall(SYS_kexec_load, 0, 1000, nullptr, 0)));
}
Outcome check_reboot() {  // bad magic2: EINVAL past the privilege check
    return expect_eperm(
        ret(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, 0, LINUX_REBOOT_CMD_CAD_OFF, nullptr)));
}
Outcome check_swapon() { return expect_eperm(ret(syscall(SYS_swapon, kMissing, 0))); }
Outcome check_acct() { return expect_eperm(ret(syscall(SYS_acct, kMissing))); }
Outcome check_clock_settime() {  // tv_nsec out of range: EINVAL if the call gets through
    timespec ts{0, 2'000'000'000};
    return expect_eperm(ret(syscall(SYS_clock_settime, CLOCK_REALTIME, &ts)));
}
Outcome check_settimeofday() {
    timeval tv{0, 2'000'000};
    return expect_eperm(ret(syscall(SYS_settimeofday, &tv, nullptr)));
}
Outcome check_personality() {
    SysRet r = ret(syscall(SYS_personality, PER_LINUX32));
    if (r.rc >= 0) syscall(SYS_personality, r.rc);  // restore
    return expect_eperm(r);
}
Outcome check_vsock() {
    SysRet r = ret(socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (r.rc >= 0) close(static_cast<int>(r.rc));
    return expect_eperm(r);
}

// TIOCSTI on fd 0 unless it is a terminal (never push input into a real one): without the
// filter the call fails with ENOTTY (or EIO) instead of EPERM.
Outcome tiocsti(unsigned long request) {
    Fd devnull(isatty(0) ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1);
    int fd = devnull.get() >= 0 ? devnull.get() : 0;
    char c = 0;
    return expect_eperm(ret(syscall(SYS_ioctl, fd, request, &c)));
}
Outcome check_tiocsti() { return tiocsti(TIOCSTI); }
Outcome check_tiocsti_high() { return tiocsti(static_cast<unsigned long>(TIOCSTI) | (1UL << 32)); }

Outcome check_mknod() {
    std::string path = probe_name("/tmp") + "_dev";
    SysRet r = ret(mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 3)));
    if (r.rc == 0) unlink(path.c_str());
    return expect_eperm(r);
}

Outcome check_sethostname() {  // to the current name: harmless should it succeed
    utsname u{};
    uname(&u);
    return expect_eperm(ret(syscall(SYS_sethostname, u.nodename, strlen(u.nodename))));
}

// ---------------------------------------------------------------------------------------------
// Non-native ABIs: the child must be killed by SIGSYS

Outcome expect_sigsys(const ChildResult& cr, bool segv_ok) {
    if (cr.fork_err) return bad("fork: " + errname(cr.fork_err));
    if (WIFSIGNALED(cr.status) && WTERMSIG(cr.status) == SIGSYS) return ok("killed by SIGSYS");
    if (segv_ok && WIFSIGNALED(cr.status) && WTERMSIG(cr.status) == SIGSEGV)
        return ok("killed by SIGSEGV (kernel without ia32 emulation)");
    if (cr.reported)
        return bad("returned " + (cr.r.rc < 0 ? errname(cr.r.err) : std::to_string(cr.r.rc)) +
                   " (not killed)");
    return bad("child: " + describe_status(cr.status));
}

Outcome check_abi_int80() {
#if defined(__x86_64__)
    return expect_sigsys(
        run_child([] {
            long rc = 20;  // i386 getpid
            asm volatile("int $0x80" : "+a"(rc) : : "r8", "r9", "r10", "r11", "memory", "cc");
            return SysRet{rc, rc < 0 ? static_cast<int>(-rc) : 0};
        }),
        true);
#else
    return ok("not x86_64: skipped");
#endif
}

Outcome check_abi_x32() {
#if defined(__x86_64__)
    return expect_sigsys(run_child([] { return ret(syscall(0x40000000L | SYS_getpid)); }), false);
#else
    return ok("not x86_64: skipped");
#endif
}

// ---------------------------------------------------------------------------------------------
// Mode "all"

struct Check {
    const char* name;
    Outcome (*run)();
};

const Check kChecks[] = {
    {"fds", check_fds},
    {"session", check_session},
    {"hostname", check_hostname},
    {"pid1", check_pid1},
    {"host_pid", check_host_pid},
    {"proc_pids", check_proc_pids},
    {"uid_gid", check_uid_gid},
    {"no_groups", check_no_groups},
    {"setuid_root", check_setuid_root},
    {"setgroups", check_setgroups},
    {"caps_zero", check_caps_zero},
    {"no_new_privs", check_no_new_privs},
    {"seccomp_mode", check_seccomp_mode},
    {"capset_raise", check_capset_raise},
    {"rlimit_raise", check_rlimit_raise},
    {"core_zero", check_core_zero},
    {"shadow", check_shadow},
    {"host_paths", check_host_paths},
    {"sys_hidden", check_sys_hidden},
    {"host_sockets", check_host_sockets},
    {"ro_binds", check_ro_binds},
    {"tmp_writable", check_tmp_writable},
    {"home_writable", check_home_writable},
    {"proc_sys", check_proc_sys},
    {"dev_entries", check_dev_entries},
    {"dev_urandom", check_dev_urandom},
    {"dev_null", check_dev_null},
    {"mount_nosuid", check_mount_nosuid},
    {"mount_nodev", check_mount_nodev},
    {"setuid_binary", check_setuid_binary},
    {"net_host_port", check_net_host_port},
    {"net_gw_tcp", check_net_gw_tcp},
    {"net_gw_udp", check_net_gw_udp},
    {"net_ext_tcp", check_net_ext_tcp},
    {"net_ext_udp", check_net_ext_udp},
    {"net_ifaces", check_net_ifaces},
    {"lo_up", check_lo_up},
    {"sys_ptrace_traceme", check_ptrace_traceme},
    {"sys_ptrace_attach", check_ptrace_attach},
    {"sys_mount", check_mount},
    {"sys_umount", check_umount},
    {"sys_pivot_root", check_pivot_root},
    {"sys_chroot", check_chroot},
    {"sys_unshare_user", check_unshare_user},
    {"sys_unshare_ns", check_unshare_ns},
    {"sys_clone_newuser", check_clone_newuser},
    {"sys_clone3", check_clone3},
    {"sys_setns", check_setns},
    {"sys_keyctl", check_keyctl},
    {"sys_add_key", check_add_key},
    {"sys_bpf", check_bpf},
    {"sys_perf_event_open", check_perf_event_open},
    {"sys_io_uring_setup", check_io_uring_setup},
    {"sys_userfaultfd", check_userfaultfd},
    {"sys_open_by_handle_at", check_open_by_handle_at},
    {"sys_process_vm_readv", check_process_vm_readv},
    {"sys_init_module", check_init_module},
    {"sys_finit_module", check_finit_module},
    {"sys_delete_module", check_delete_module},
    {"sys_kexec_load", check_kexec_load},
    {"sys_reboot", check_reboot},
    {"sys_swapon", check_swapon},
    {"sys_acct", check_acct},
    {"sys_clock_settime", check_clock_settime},
    {"sys_settimeofday", check_settimeofday},
    {"sys_personality", check_personality},
    {"sys_vsock", check_vsock},
    {"sys_tiocsti", check_tiocsti},
    {"sys_tiocsti_high", check_tiocsti_high},
    {"sys_mknod", check_mknod},
    {"sys_sethostname", check_sethostname},
    {"abi_int80", check_abi_int80},
    {"abi_x32", check_abi_x32},
};

}  // namespace

namespace {

int run_all() {
    int escaped = 0;
    for (const Check& check : kChecks) {
        Outcome o;
        try {
            o = check.run();
        } catch (const std::exception& e) {
            o = bad(std::string("exception: ") + e.what());
        }
        for (char& c : o.detail)
            if (c == '\n' || c == '\r') c = ' ';
        if (o.detail.empty()) o.detail.push_back('-');
        printf("check %s %s %s\n", check.name, o.contained ? "contained" : "ESCAPED",
               o.detail.c_str());
        fflush(stdout);
        if (!o.contained) ++escaped;
    }
    fprintf(stderr, "probe: %zu checks, %d escaped\n", std::size(kChecks), escaped);
    return escaped == 0 ? 0 : 1;
}

// ---------------------------------------------------------------------------------------------
// Misbehaving modes

[[noreturn]] void usage(const char* why) {
    fprintf(
        stderr,
        "jail_probe: %s\n"
        "usage: jail_probe all [--host-path P]... [--host-port N] [--host-pid N] [--ro-path P]...\n"
        "       jail_probe forkbomb | membomb | diskfill [PATH] | cpuspin | stdoutflood [BYTES]\n"
        "       jail_probe daemonize PATH | sleep SECONDS | env | exit CODE | signal SIG | echo | "
        "true\n",
        why);
    exit(2);
}

long long parse_number(const char* text, const char* what) {
    char* end = nullptr;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno || end == text || *end) usage((std::string("bad ") + what + ": " + text).c_str());
    return value;
}

void sleep_seconds(double seconds) {
    timespec ts{static_cast<time_t>(seconds),
                static_cast<long>((seconds - static_cast<time_t>(seconds)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

// Forks until fork fails. Children pause; they die with the jail, or (outside one) with the
// parent (PDEATHSIG) or after a minute. Capped at 4096 children.
int mode_forkbomb() {
    constexpr long kCap = 4096;
    pid_t parent = getpid();
    long forked = 0;
    int err = 0;
    fflush(nullptr);
    while (forked < kCap) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) _exit(0);
            alarm(60);
            for (;;) pause();
        }
        if (++forked % 100 == 0) fprintf(stderr, "forked %ld\n", forked);
    }
    printf("forked %ld errno %s\n", forked, err ? errname(err).c_str() : "none (safety cap)");
    return 0;
}

// Touches 16 MiB blocks until killed; stops (exit 3) at half the machine's RAM.
int mode_membomb() {
    constexpr size_t kBlock = 16u << 20;
    struct sysinfo si {};
    sysinfo(&si);
    const uint64_t cap = static_cast<uint64_t>(si.totalram) * si.mem_unit / 2;
    for (uint64_t total = 0;;) {
        void* block =
            mmap(nullptr, kBlock, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) {
            fprintf(stderr, "mmap failed after %llu MiB: %s\n",
                    static_cast<unsigned long long>(total >> 20), errname(errno).c_str());
            return 1;
        }
        memset(block, 0x5a, kBlock);
        total += kBlock;
        fprintf(stderr, "%llu MiB\n", static_cast<unsigned long long>(total >> 20));
        if (total >= cap) {
            fprintf(stderr, "safety cap reached (half of RAM): not killed\n");
            return 3;
        }
    }
}

// Writes 1 MiB blocks until a write fails (EFBIG from RLIMIT_FSIZE, ENOSPC from the tmpfs
// cap); capped at 1 GiB.
int mode_diskfill(const char* path) {
    constexpr uint64_t kCap = 1ull << 30;
    signal(SIGXFSZ, SIG_IGN);
    Fd fd(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
        printf("wrote 0 bytes errno %s (open %s)\n", errname(errno).c_str(), path);
        return 1;
    }
    std::string block(1u << 20, 'x');
    uint64_t total = 0;
    int err = 0;
    while (total < kCap) {
        ssize_t n = write(fd.get(), block.data(), block.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            err = errno;
            break;
        }
        total += static_cast<uint64_t>(n);
    }
    printf("wrote %llu bytes errno %s\n", static_cast<unsigned long long>(total),
           err ? errname(err).c_str() : "none (safety cap)");
    return 0;
}

int mode_cpuspin() {
    fprintf(stderr, "spinning\n");
    for (uint64_t n = 0;; ++n) asm volatile("" : "+r"(n));  // a loop the compiler must keep
}

int mode_stdoutflood(uint64_t bytes) {
    std::string chunk(64u << 10, 'x');
    for (size_t i = 63; i < chunk.size(); i += 64) chunk[i] = '\n';  // 64-byte lines
    for (uint64_t left = bytes; left > 0;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
        if (!write_all(1, chunk.data(), n)) {
            fprintf(stderr, "write failed after %llu bytes: %s\n",
                    static_cast<unsigned long long>(bytes - left), errname(errno).c_str());
            return 1;
        }
        left -= n;
    }
    fprintf(stderr, "flooded %llu bytes\n", static_cast<unsigned long long>(bytes));
    return 0;
}

// Double fork; the grandchild leaves the session, ignores SIGHUP/SIGTERM, keeps the inherited
// stdout/stderr, and appends a line to `path` every 50 ms (for 30 s at most, so a run outside
// a jail ends by itself). The original process exits after ~100 ms.
int mode_daemonize(const char* path) {
    fflush(nullptr);
    pid_t child = fork();
    if (child < 0) {
        perror("fork");
        return 1;
    }
    if (child == 0) {
        if (fork() != 0) _exit(0);
        setsid();
        signal(SIGHUP, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        fprintf(stderr, "daemon pid %d\n", getpid());
        for (int tick = 0; tick < 600; ++tick) {
            std::string line =
                "tick " + std::to_string(tick) + " pid " + std::to_string(getpid()) + "\n";
            int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0) {
                write_all(fd, line.data(), line.size());
                close(fd);
            }
            sleep_seconds(0.05);
        }
        _exit(0);
    }
    waitpid(child, nullptr, 0);
    sleep_seconds(0.1);
    printf("daemonized\n");
    return 0;
}

void json_string(std::string& out, std::string_view s) {
    out += '"';
    for (char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
}

int mode_env() {
    std::string out = "{\"env\":{";
    for (char** e = environ; *e; ++e) {
        std::string_view entry = *e;
        size_t eq = entry.find('=');
        if (e != environ) out += ',';
        json_string(out, entry.substr(0, eq));
        out += ':';
        json_string(out, eq == std::string_view::npos ? "" : entry.substr(eq + 1));
    }
    char cwd[4096] = {};
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, "?");
    utsname u{};
    uname(&u);
    out += "},\"cwd\":";
    json_string(out, cwd);
    out += ",\"uid\":" + std::to_string(getuid()) + ",\"gid\":" + std::to_string(getgid()) +
           ",\"hostname\":";
    json_string(out, u.nodename);
    out += "}\n";
    return write_all(1, out.data(), out.size()) ? 0 : 1;
}

int parse_signal(const char* text) {
    std::string_view name = text;
    if (is_number(name)) return static_cast<int>(parse_number(text, "signal"));
    if (name.starts_with("SIG")) name.remove_prefix(3);
    for (int sig = 1; sig < NSIG; ++sig) {
        const char* abbrev = sigabbrev_np(sig);
        if (abbrev && name == abbrev) return sig;
    }
    usage((std::string("unknown signal: ") + text).c_str());
}

// Raises `sig` with its default action. PID 1 of a pid namespace ignores default-action
// signals it sends itself; only kernel-forced ones reach it. So when still alive, fault
// signals are produced by a real fault, SIGKILL by the RLIMIT_CPU hard limit, SIGSYS by the
// seccomp kill of an i386 syscall. Any other signal cannot kill us: exit 125.
int mode_signal(int sig) {
    struct sigaction sa {};
    sa.sa_handler = SIG_DFL;
    sigaction(sig, &sa, nullptr);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    sigprocmask(SIG_UNBLOCK, &set, nullptr);
    fprintf(stderr, "raising signal %d\n", sig);
    raise(sig);
    switch (sig) {
        case SIGSEGV: {
            void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            *static_cast<volatile char*>(page) = 1;
            break;
        }
        case SIGBUS: {
            int fd = memfd_create("probe", MFD_CLOEXEC);  // empty: touching its page is SIGBUS
            void* page = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
            if (page != MAP_FAILED) (void)*static_cast<volatile char*>(page);
            break;
        }
        case SIGKILL: {
            rlimit cpu{1, 1};
            setrlimit(RLIMIT_CPU, &cpu);
            for (uint64_t n = 0; n < (1ull << 62); ++n) asm volatile("" : "+r"(n));
            break;
        }
#if defined(__x86_64__)
        case SIGILL:
            asm volatile("ud2");
            break;
        case SIGTRAP:
            asm volatile("int3");
            break;
        case SIGFPE:
            asm volatile("xorl %%ecx, %%ecx\n\tmovl $1, %%eax\n\tcltd\n\tidivl %%ecx" ::
                             : "eax", "ecx", "edx", "cc");
            break;
        case SIGSYS: {
            long rc = 20;
            asm volatile("int $0x80" : "+a"(rc) : : "r8", "r9", "r10", "r11", "memory", "cc");
            break;
        }
#endif
        default:
            break;
    }
    fprintf(stderr, "still alive after raise(%d): pid %d ignores it\n", sig, getpid());
    return 125;
}

int mode_sleep(const char* text) {
    char* end = nullptr;
    double seconds = strtod(text, &end);
    if (end == text || *end || !(seconds >= 0))
        usage((std::string("bad seconds: ") + text).c_str());
    fprintf(stderr, "sleeping %s s\n", text);
    sleep_seconds(seconds);
    return 0;
}

int mode_echo() {
    char buf[65536];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return 1;
        if (n == 0) return 0;
        if (!write_all(1, buf, static_cast<size_t>(n))) return 1;
    }
}

int parse_all_options(int argc, char** argv) {
    for (int i = 2; i < argc; ++i) {
        std::string_view opt = argv[i];
        if (i + 1 >= argc) usage((std::string("missing value for ") + argv[i]).c_str());
        const char* value = argv[++i];
        if (opt == "--host-path")
            g_opts.host_paths.emplace_back(value);
        else if (opt == "--ro-path")
            g_opts.ro_paths.emplace_back(value);
        else if (opt == "--host-port")
            g_opts.host_port = static_cast<int>(parse_number(value, "port"));
        else if (opt == "--host-pid")
            g_opts.host_pid = static_cast<pid_t>(parse_number(value, "pid"));
        else
            usage((std::string("unknown option ") + argv[i - 1]).c_str());
    }
    return run_all();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) usage("missing mode");
    const std::string_view mode = argv[1];
    const char* arg = argc > 2 ? argv[2] : nullptr;
    auto required = [&](const char* what) {
        if (!arg) usage((std::string(mode) + " needs " + what).c_str());
        return arg;
    };
    if (mode == "all") return parse_all_options(argc, argv);
    if (mode == "forkbomb") return mode_forkbomb();
    if (mode == "membomb") return mode_membomb();
    if (mode == "diskfill") return mode_diskfill(arg ? arg : "/tmp/fill");
    if (mode == "cpuspin") return mode_cpuspin();
    if (mode == "stdoutflood")
        return mode_stdoutflood(arg ? static_cast<uint64_t>(parse_number(arg, "bytes"))
                                    : 1ull << 30);
    if (mode == "daemonize") return mode_daemonize(required("PATH"));
    if (mode == "sleep") return mode_sleep(required("SECONDS"));
    if (mode == "env") return mode_env();
    if (mode == "exit") return static_cast<int>(parse_number(required("CODE"), "code"));
    if (mode == "signal") return mode_signal(parse_signal(required("SIG")));
    if (mode == "echo") return mode_echo();
    if (mode == "true") return 0;
    usage((std::string("unknown mode ") + argv[1]).c_str());
}
