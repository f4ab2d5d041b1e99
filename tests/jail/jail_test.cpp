// Jail tests: the real Launcher, the default image, and the probe (tests/jail/probe.cpp)
// run inside, trying each forbidden thing. They need user namespaces and, for the limits,
// cgroups; where the kernel refuses, they skip and say why.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/image.hpp"
#include "sandbox/launcher.hpp"

namespace orchagent::sandbox {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr uint32_t kHostBase = 1u << 30;

std::string probe_dir() { return fs::path(ORCHAGENT_PROBE_PATH).parent_path().string(); }

class JailTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto created = Launcher::create();
        if (!created) {
            skip_reason_ = created.error().message();
            return;
        }
        launcher_ = std::move(*created);
        auto image = load_image(std::string(ORCHAGENT_SOURCE_DIR) + "/images/host.yaml");
        ASSERT_TRUE(image.has_value()) << image.error().message();
        image_ = new ImageSpec(std::move(*image));
        // One trivial run tells whether this kernel lets us make the namespaces at all.
        auto r = launcher_->run(spec({"true"}));
        if (!r && r.error().sys_errno() == EPERM) skip_reason_ = r.error().message();
    }
    static void TearDownTestSuite() {
        launcher_.reset();
        delete image_;
        image_ = nullptr;
    }
    void SetUp() override {
        if (!skip_reason_.empty()) GTEST_SKIP() << "namespaces refused here: " << skip_reason_;
    }

    // The default jail with the probe's folder bound read-only at /probe.
    static JailSpec spec(std::vector<std::string> probe_args) {
        JailSpec s;
        s.argv = {"/probe/jail_probe"};
        s.argv.insert(s.argv.end(), probe_args.begin(), probe_args.end());
        s.env = jail_env(*image_, {});
        s.mounts = jail_mounts(*image_, {.tmp_bytes = 16 << 20, .work_bytes = 16 << 20});
        s.mounts.push_back({.kind = MountKind::kBind, .source = probe_dir(), .target = "/probe"});
        s.cwd = "/home/user";
        s.identity.host_base = kHostBase;
        s.timeout = milliseconds(20'000);
        return s;
    }
    static JailResult run_ok(const JailSpec& s) {
        auto r = launcher_->run(s);
        EXPECT_TRUE(r.has_value()) << r.error().message();
        return r ? std::move(*r) : JailResult{};
    }
    static bool cgroups() { return launcher_->limits_mode() != LimitsMode::kRlimitOnly; }

    static inline std::unique_ptr<Launcher> launcher_;
    static inline ImageSpec* image_ = nullptr;
    static inline std::string skip_reason_;
};

// Every process whose real uid is `uid`, from the host's /proc.
std::vector<int> host_pids_of_uid(uint32_t uid) {
    std::vector<int> pids;
    for (const auto& entry : fs::directory_iterator("/proc")) {
        std::string name = entry.path().filename();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) == 0 && st.st_uid == uid) {
            pids.push_back(std::stoi(name));
        }
    }
    return pids;
}

struct Listener {
    int fd = -1;
    int port = 0;
    Listener() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ::listen(fd, 4);
        socklen_t len = sizeof addr;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~Listener() { ::close(fd); }
};

TEST_F(JailTest, ProbeFindsEveryForbiddenThingContained) {
    Listener listener;
    char hostname_before[256] = {};
    ::gethostname(hostname_before, sizeof hostname_before);
    JailSpec s = spec({"all", "--host-port", std::to_string(listener.port), "--host-pid",
                       std::to_string(::getpid()), "--host-path", "/root", "--host-path", "/work",
                       "--host-path", "/etc/hostname", "--host-path", "/var/log", "--host-path",
                       "/sys/fs/cgroup", "--ro-path", "/probe"});
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0) << r.stdout_data << r.stderr_tail;
    std::istringstream lines(r.stdout_data);
    int checks = 0;
    for (std::string line; std::getline(lines, line);) {
        if (!line.starts_with("check ")) continue;
        ++checks;
        EXPECT_EQ(line.find(" ESCAPED"), std::string::npos) << line;
    }
    EXPECT_GE(checks, 40) << r.stdout_data;
    // The host is unchanged.
    char hostname_after[256] = {};
    ::gethostname(hostname_after, sizeof hostname_after);
    EXPECT_STREQ(hostname_before, hostname_after);
    EXPECT_TRUE(host_pids_of_uid(kHostBase + 1000).empty());
}

TEST_F(JailTest, ForkBombStopsAtThePidsLimit) {
    JailSpec s = spec({"forkbomb"});
    s.limits.max_pids = 24;
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_tail;
    int forked = -1;
    std::sscanf(r.stdout_data.c_str(), "forked %d", &forked);
    EXPECT_GE(forked, 1) << r.stdout_data;
    EXPECT_LT(forked, 24) << r.stdout_data;
    if (r.peak_pids != 0) {
        EXPECT_LE(r.peak_pids, 24u);
    }
    EXPECT_TRUE(host_pids_of_uid(kHostBase + 1000).empty());
}

TEST_F(JailTest, MemoryBombIsKilledAtTheLimit) {
    if (!cgroups()) GTEST_SKIP() << "no cgroup: see RlimitFallbackStillBoundsMemoryAndPids";
    JailSpec s = spec({"membomb"});
    s.limits.memory_bytes = 64 << 20;
    JailResult r = run_ok(s);
    EXPECT_TRUE(r.oom_killed) << r.stderr_tail;
    EXPECT_EQ(r.term_signal, SIGKILL);
    EXPECT_FALSE(r.succeeded());
    EXPECT_LE(r.peak_memory_bytes, (64u << 20) + (1u << 20));
    EXPECT_GE(r.peak_memory_bytes, 32u << 20);
}

TEST_F(JailTest, DiskFillStopsAtTheTmpfsCap) {
    JailSpec s = spec({"diskfill", "/tmp/fill"});
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_tail;
    unsigned long long wrote = 0;
    char err[32] = {};
    ASSERT_EQ(std::sscanf(r.stdout_data.c_str(), "wrote %llu bytes errno %31s", &wrote, err), 2)
        << r.stdout_data;
    EXPECT_STREQ(err, "ENOSPC");
    EXPECT_LE(wrote, 16ull << 20);
}

TEST_F(JailTest, FileSizeLimitHolds) {
    JailSpec s = spec({"diskfill", "/home/user/fill"});
    s.limits.max_file_bytes = 2 << 20;
    JailResult r = run_ok(s);
    unsigned long long wrote = 0;
    char err[32] = {};
    ASSERT_EQ(std::sscanf(r.stdout_data.c_str(), "wrote %llu bytes errno %31s", &wrote, err), 2)
        << r.stdout_data;
    EXPECT_STREQ(err, "EFBIG");
    EXPECT_EQ(wrote, 2ull << 20);
}

TEST_F(JailTest, CpuSpinIsKilledAtTheDeadline) {
    JailSpec s = spec({"cpuspin"});
    s.timeout = milliseconds(500);
    JailResult r = run_ok(s);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.term_signal, SIGKILL);
    EXPECT_GE(r.wall, milliseconds(500));
    EXPECT_LT(r.wall, milliseconds(3000));
    // Metered from the cgroup: the spin's CPU time is there.
    if (cgroups()) {
        EXPECT_GE(r.cpu_user + r.cpu_system, milliseconds(250));
    }
}

TEST_F(JailTest, StdoutFloodIsCutAtTheCap) {
    JailSpec s = spec({"stdoutflood"});  // 1 GiB
    s.output.stdout_max_bytes = 1 << 20;
    JailResult r = run_ok(s);
    EXPECT_TRUE(r.stdout_overflow);
    EXPECT_EQ(r.stdout_data.size(), 1u << 20);
    EXPECT_GT(r.stdout_bytes, 1u << 20);
    EXPECT_LT(r.stdout_bytes, 64u << 20);  // killed long before the gigabyte
    EXPECT_FALSE(r.succeeded());
}

TEST_F(JailTest, StderrKeepsItsTail) {
    JailSpec s = spec({});
    s.argv = {"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a >&2; echo end >&2"};
    s.output.stderr_tail_bytes = 1000;
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_TRUE(r.stderr_truncated);
    EXPECT_EQ(r.stderr_tail.size(), 1000u);
    EXPECT_TRUE(r.stderr_tail.ends_with("aaaend\n"));
    EXPECT_EQ(r.stderr_bytes, 300004u);
}

TEST_F(JailTest, DaemonisedChildDoesNotOutliveTheRun) {
    fs::path out = fs::temp_directory_path() / ("jail-test-" + std::to_string(::getpid()));
    fs::create_directories(out);
    // The run user (host id kHostBase + 1000) must be able to write the bind.
    ASSERT_EQ(::chown(out.c_str(), kHostBase + 1000, kHostBase + 1000), 0);
    JailSpec s = spec({"daemonize", "/out/heartbeat"});
    s.mounts.push_back(
        {.kind = MountKind::kBind, .source = out.string(), .target = "/out", .writable = true});
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_tail;
    auto size_of = [&] {
        std::error_code ec;
        auto n = fs::file_size(out / "heartbeat", ec);
        return ec ? 0 : n;
    };
    auto before = size_of();
    std::this_thread::sleep_for(milliseconds(300));
    EXPECT_EQ(size_of(), before) << "a process of the run is still writing";
    EXPECT_TRUE(host_pids_of_uid(kHostBase + 1000).empty());
    fs::remove_all(out);
}

TEST_F(JailTest, StdinFromBufferAndFile) {
    JailSpec s = spec({"echo"});
    std::string big(3 << 20, 'x');
    big += "end";
    s.stdin_source = StdinBuffer{big};
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.stdout_data, big);

    fs::path file = fs::temp_directory_path() / ("jail-stdin-" + std::to_string(::getpid()));
    std::ofstream(file) << "from a file\n";
    s.stdin_source = StdinFile{file.string()};
    r = run_ok(s);
    EXPECT_EQ(r.stdout_data, "from a file\n");
    // A symlink in the file's place is refused, not followed to what it points at.
    fs::path link = file.string() + ".link";
    fs::create_symlink("/etc/shadow", link);
    s.stdin_source = StdinFile{link.string()};
    auto refused = launcher_->run(s);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().sys_errno(), ELOOP) << refused.error().message();
    fs::remove(link);
    fs::remove(file);
}

TEST_F(JailTest, EnvironmentIsExactlyTheSpec) {
    JailSpec s = spec({"env"});
    s.env = {"PATH=/usr/bin:/bin", "ONLY_THIS=1"};
    JailResult r = run_ok(s);
    ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
    EXPECT_NE(r.stdout_data.find("ONLY_THIS"), std::string::npos) << r.stdout_data;
    EXPECT_EQ(r.stdout_data.find("HOME"), std::string::npos) << r.stdout_data;
    EXPECT_NE(r.stdout_data.find("/home/user"), std::string::npos) << r.stdout_data;  // cwd
}

TEST_F(JailTest, ExitCodeAndPathSearch) {
    JailSpec s = spec({});
    s.argv = {"sh", "-c", "exit 7"};
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_EQ(r.term_signal, 0);
}

// CPU is metered exactly, not in scheduler ticks: even a run far shorter than a tick (4 ms
// here) has a non-zero CPU time, and it never exceeds the wall time of the run.
TEST_F(JailTest, ShortRunsAreMeteredExactly) {
    if (!cgroups()) GTEST_SKIP() << "no cgroup: rusage only";
    for (int i = 0; i < 5; ++i) {
        JailResult r = run_ok(spec({"true"}));
        auto cpu = r.cpu_user + r.cpu_system;
        EXPECT_GT(cpu.count(), 0);
        EXPECT_LE(cpu, r.wall);
        EXPECT_GT(r.peak_memory_bytes, 0u);
    }
}

// A root launcher builds the static root once and each run gets a copy; nothing writable
// may be shared between two runs (a copied tmpfs mount would share its contents).
TEST_F(JailTest, RunsShareNothingWritable) {
    JailSpec s = spec({});
    s.argv = {"/bin/sh", "-c",
              "for f in /dev/shm/mark /tmp/mark /home/user/mark; do "
              "  [ -e $f ] && echo \"left over: $f\"; echo x > $f || echo \"cannot write $f\"; "
              "done; for f in /mark /etc/mark /dev/mark; do echo x 2>/dev/null > $f && echo "
              "\"wrote $f\"; done; true"};
    for (int i = 0; i < 3; ++i) {
        JailResult r = run_ok(s);
        EXPECT_EQ(r.exit_code, 0) << r.stderr_tail;
        EXPECT_EQ(r.stdout_data, "") << "run " << i;
    }
}

// A read-only bind under a per-run mount (the uploads folder under /tmp) is per-run too:
// two runs sharing one template each see their own source, and cannot write to it.
TEST_F(JailTest, PerRunBindsUnderFreshMounts) {
    for (int i = 0; i < 2; ++i) {
        fs::path dir = fs::temp_directory_path() /
                       ("jail-uploads-" + std::to_string(::getpid()) + "-" + std::to_string(i));
        fs::create_directories(dir);
        std::ofstream(dir / "f") << "upload " << i;
        JailSpec s = spec({});
        s.mounts.push_back(
            {.kind = MountKind::kBind, .source = dir.string(), .target = "/tmp/uploads"});
        s.argv = {"/bin/sh", "-c",
                  "cat /tmp/uploads/f; echo x 2>/dev/null > /tmp/uploads/g && "
                  "echo ' writable'; true"};
        JailResult r = run_ok(s);
        EXPECT_EQ(r.stdout_data, "upload " + std::to_string(i)) << r.stderr_tail;
        fs::remove_all(dir);
    }
}

// The work folder as a writable view of a bundle: the program may change and add files,
// its changes are capped and vanish with the run, and the bundle folder is never written.
TEST_F(JailTest, WorkFolderIsAWritableViewOfTheBundle) {
    fs::path bundle = fs::path(ORCHAGENT_SOURCE_DIR).parent_path() /
                      ("jail-bundle-" + std::to_string(::getpid()));
    bundle = fs::temp_directory_path() / bundle.filename();
    fs::create_directories(bundle / "sub");
    std::ofstream(bundle / "main.txt") << "original\n";
    fs::permissions(bundle, fs::perms::all);
    fs::permissions(bundle / "sub", fs::perms::all);
    fs::permissions(bundle / "main.txt", fs::perms::owner_all | fs::perms::group_all |
                                             fs::perms::others_read | fs::perms::others_write);
    JailSpec s = spec({});
    s.mounts = jail_mounts(*image_, {.work_bytes = 4 << 20, .work_source = bundle.string()});
    s.mounts.push_back({.kind = MountKind::kBind, .source = probe_dir(), .target = "/probe"});
    s.argv = {"/bin/sh", "-c",
              "cat main.txt; echo changed >> main.txt; echo new > sub/new.txt; cat main.txt; "
              "ls; head -c 8000000 /dev/zero > big 2>/dev/null || echo capped"};
    for (int i = 0; i < 2; ++i) {
        JailResult r = run_ok(s);
        EXPECT_EQ(r.exit_code, 0) << r.stderr_tail;
        EXPECT_EQ(r.stdout_data, "original\noriginal\nchanged\nmain.txt\nsub\ncapped\n")
            << r.stderr_tail;
    }
    std::ifstream original(bundle / "main.txt");
    std::string content((std::istreambuf_iterator<char>(original)), {});
    EXPECT_EQ(content, "original\n");
    EXPECT_FALSE(fs::exists(bundle / "sub" / "new.txt"));
    EXPECT_FALSE(fs::exists(bundle / "big"));
    fs::remove_all(bundle);
}

TEST_F(JailTest, PythonRuns) {
    JailSpec s = spec({});
    s.argv = {"python3", "-c", "import json,os; print(json.dumps({'uid': os.getuid()}))"};
    JailResult r = run_ok(s);
    EXPECT_EQ(r.exit_code, 0) << r.stderr_tail;
    EXPECT_EQ(r.stdout_data, "{\"uid\": 1000}\n");
}

TEST_F(JailTest, MissingProgramIsASandboxErrorNamingTheStep) {
    JailSpec s = spec({});
    s.argv = {"/no/such/program"};
    auto r = launcher_->run(s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kSandboxError);
    EXPECT_EQ(r.error().sys_errno(), ENOENT);
    EXPECT_NE(r.error().message().find("execve '/no/such/program'"), std::string::npos)
        << r.error().message();
}

TEST_F(JailTest, MissingBindSourceNamesTheMount) {
    JailSpec s = spec({"true"});
    s.mounts.push_back({.kind = MountKind::kBind, .source = "/no/such/dir", .target = "/x"});
    auto r = launcher_->run(s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    EXPECT_NE(r.error().message().find("mounts[" + std::to_string(s.mounts.size() - 1) + "]"),
              std::string::npos)
        << r.error().message();
}

TEST_F(JailTest, FailedMountStepIsReportedWithItsErrno) {
    JailSpec s = spec({"true"});
    // A folder under a read-only bind cannot be created: the child reports (step, errno).
    s.mounts.push_back({.kind = MountKind::kTmpfs, .target = "/usr/new/x", .size_bytes = 1 << 20});
    auto r = launcher_->run(s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kInternalError);
    EXPECT_EQ(r.error().sys_errno(), EROFS) << r.error().message();
    EXPECT_NE(r.error().message().find("mounting"), std::string::npos) << r.error().message();
}

TEST_F(JailTest, NoCgroupProcessOrChildIsLeftBehind) {
    std::vector<std::string> parents;
    {
        auto launcher = Launcher::create();
        ASSERT_TRUE(launcher.has_value()) << launcher.error().message();
        parents = (*launcher)->cgroups().parents();
        JailSpec s = spec({"daemonize", "/tmp/heartbeat"});
        s.identity.host_base = kHostBase + 60 * 65536;
        for (int i = 0; i < 3; ++i) {
            auto r = (*launcher)->run(s);
            ASSERT_TRUE(r.has_value()) << r.error().message();
        }
        // Fresh groups wait in the pool; none holds a process.
        for (const auto& parent : parents) {
            for (const auto& group : fs::directory_iterator(parent)) {
                if (!group.is_directory()) continue;
                std::ifstream procs(group.path() / "cgroup.procs");
                std::string pid;
                EXPECT_FALSE(procs >> pid) << group.path() << " holds " << pid;
            }
        }
    }
    // The launcher gone, so are its folders.
    for (const auto& parent : parents) EXPECT_FALSE(fs::exists(parent)) << parent;
    EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
    EXPECT_EQ(errno, ECHILD);
}

TEST_F(JailTest, ConcurrentRunsDoNotMixUp) {
    constexpr int kThreads = 6, kRuns = 8;
    std::vector<std::thread> threads;
    std::atomic<int> good{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([t, &good] {
            for (int i = 0; i < kRuns; ++i) {
                JailSpec s = spec({"echo"});
                s.identity.host_base = kHostBase + static_cast<uint32_t>(t + 1) * 65536;
                std::string input = "thread " + std::to_string(t) + " run " + std::to_string(i);
                s.stdin_source = StdinBuffer{input};
                auto r = launcher_->run(s);
                if (r && r->exit_code == 0 && r->stdout_data == input) ++good;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(good.load(), kThreads * kRuns);
}

// The loopback listener (JailSpec::listener): made in the run's own network namespace and
// handed to the caller before the program runs. The program reaches it at 127.0.0.1:port
// but never holds the listening end (it cannot bind the port, and has no socket at start).
// Twice: the second run binds again in the same slot while the first one's connection is
// in TIME_WAIT there.
TEST_F(JailTest, LoopbackListenerIsHandedToTheCallerAndReachableInside) {
    constexpr const char* kProgram = R"(
import errno, os, socket
def sockets():
    n = 0
    for f in os.listdir('/proc/self/fd'):
        try:
            n += os.readlink('/proc/self/fd/' + f).startswith('socket:')
        except OSError:
            pass
    return n
at_start = sockets()
c = socket.create_connection(('127.0.0.1', 8765), timeout=5)
got = c.recv(100).decode()
c.close()
b = socket.socket()
try:
    b.bind(('127.0.0.1', 8765))
    bound = 'bound'
except OSError as e:
    bound = errno.errorcode[e.errno]
print(at_start, got, bound)
)";
    for (int round = 0; round < 2; ++round) {
        JailSpec s = spec({});
        s.argv = {"python3", "-c", kProgram};
        s.listener.port = 8765;
        std::thread server;
        int listener_fd = -1;
        bool listening = false, loopback_8765 = false, other_netns = false;
        RunHooks hooks;
        hooks.on_listener = [&](UniqueFd listener) {
            int accepting = 0;
            socklen_t len = sizeof accepting;
            listening = ::getsockopt(listener.get(), SOL_SOCKET, SO_ACCEPTCONN, &accepting,
                                     &len) == 0 &&
                        accepting == 1;
            sockaddr_in addr{};
            len = sizeof addr;
            ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len);
            loopback_8765 = addr.sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
                            ntohs(addr.sin_port) == 8765;
            // SO_NETNS_COOKIE (Linux 5.14): which network namespace a socket lives in.
            uint64_t theirs = 0, ours = 0;
            len = sizeof theirs;
            ::getsockopt(listener.get(), SOL_SOCKET, 71, &theirs, &len);
            UniqueFd mine(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
            len = sizeof ours;
            ::getsockopt(mine.get(), SOL_SOCKET, 71, &ours, &len);
            other_netns = theirs != 0 && theirs != ours;
            listener_fd = listener.release();
            server = std::thread([fd = listener_fd] {
                pollfd p{fd, POLLIN, 0};
                if (::poll(&p, 1, 10'000) == 1) {
                    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
                    if (c >= 0) {
                        [[maybe_unused]] ssize_t n = ::write(c, "hello", 5);
                        ::close(c);
                    }
                }
            });
        };
        auto r = launcher_->run(s, hooks);
        if (server.joinable()) server.join();
        if (listener_fd >= 0) ::close(listener_fd);
        ASSERT_TRUE(r.has_value()) << r.error().message();
        EXPECT_EQ(r->exit_code, 0) << r->stderr_tail;
        EXPECT_EQ(r->stdout_data, "0 hello EADDRINUSE\n") << "round " << round;
        EXPECT_TRUE(listening);
        EXPECT_TRUE(loopback_8765);
        EXPECT_TRUE(other_netns);
    }
}

// Without a listener, or with one nobody takes, nothing answers on the port.
TEST_F(JailTest, NoListenerNoConnection) {
    constexpr const char* kProgram = R"(
import socket
try:
    socket.create_connection(('127.0.0.1', 8765), timeout=5)
    print('connected')
except OSError as e:
    print(type(e).__name__)
)";
    for (bool with_listener : {false, true}) {
        JailSpec s = spec({});
        s.argv = {"python3", "-c", kProgram};
        if (with_listener) s.listener.port = 8765;  // and no hook: the launcher drops it
        JailResult r = run_ok(s);
        EXPECT_EQ(r.stdout_data, "ConnectionRefusedError\n") << r.stderr_tail;
    }
}

TEST(JailFallback, RlimitFallbackStillBoundsMemoryAndPids) {
    auto launcher = Launcher::create({.use_cgroups = false});
    ASSERT_TRUE(launcher.has_value()) << launcher.error().message();
    auto image = load_image(std::string(ORCHAGENT_SOURCE_DIR) + "/images/host.yaml");
    ASSERT_TRUE(image.has_value());
    JailSpec s;
    s.env = jail_env(*image, {});
    s.mounts = jail_mounts(*image, {});
    s.mounts.push_back({.kind = MountKind::kBind, .source = probe_dir(), .target = "/probe"});
    s.identity.host_base = kHostBase + 40 * 65536;
    s.limits.memory_bytes = 128 << 20;
    s.limits.max_pids = 16;

    s.argv = {"/probe/jail_probe", "forkbomb"};
    auto r = (*launcher)->run(s);
    if (!r && r.error().sys_errno() == EPERM) GTEST_SKIP() << r.error().message();
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(r->limits_mode, LimitsMode::kRlimitOnly);
    ASSERT_FALSE(r->warnings.empty());
    EXPECT_NE(r->warnings[0].find("RLIMIT_AS"), std::string::npos);
    int forked = -1;
    std::sscanf(r->stdout_data.c_str(), "forked %d", &forked);
    EXPECT_GE(forked, 1) << r->stdout_data << r->stderr_tail << " exit " << r->exit_code
                         << " signal " << r->term_signal;
    EXPECT_LT(forked, 16) << r->stdout_data;

    s.argv = {"/probe/jail_probe", "membomb"};
    r = (*launcher)->run(s);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_FALSE(r->succeeded() && r->stdout_data.empty());
    // Either the allocation failed (RLIMIT_AS) and the probe said so, or it died trying.
    EXPECT_TRUE(r->exit_code != 0 || r->term_signal != 0 ||
                r->stdout_data.find("allocation failed") != std::string::npos)
        << r->stdout_data << r->stderr_tail;
}

}  // namespace
}  // namespace orchagent::sandbox

namespace orchagent::sandbox {
namespace {

// The program is in every group of the run while it runs: v1 groups joined by the child
// itself, the v2 group at birth (clone3 CLONE_INTO_CGROUP). Checked from the host side.
TEST(JailCgroups, TheProgramIsInEveryGroupOfItsRun) {
    auto launcher = Launcher::create();
    ASSERT_TRUE(launcher.has_value()) << launcher.error().message();
    if ((*launcher)->limits_mode() == LimitsMode::kRlimitOnly) GTEST_SKIP() << "no cgroups";
    auto image = load_image(std::string(ORCHAGENT_SOURCE_DIR) + "/images/host.yaml");
    ASSERT_TRUE(image.has_value());
    JailSpec s;
    s.argv = {"/bin/sleep", "1"};
    s.env = jail_env(*image, {});
    s.mounts = jail_mounts(*image, {});
    s.identity.host_base = kHostBase + 50 * 65536;
    std::thread runner([&] { (void)(*launcher)->run(s); });
    std::set<std::string> holding;
    for (int tries = 0; tries < 80 && holding.size() < (*launcher)->cgroups().parents().size();
         ++tries) {
        std::this_thread::sleep_for(milliseconds(10));
        for (const auto& parent : (*launcher)->cgroups().parents()) {
            std::error_code ec;
            for (const auto& run : fs::directory_iterator(parent, ec)) {
                if (!run.is_directory()) continue;
                std::ifstream procs(run.path() / "cgroup.procs");
                std::string pid;
                if (procs >> pid) holding.insert(parent);
            }
        }
    }
    runner.join();
    EXPECT_EQ(holding.size(), (*launcher)->cgroups().parents().size());
    for (const auto& parent : (*launcher)->cgroups().parents()) {
        EXPECT_TRUE(holding.contains(parent)) << "no process of the run in " << parent;
    }
}

}  // namespace
}  // namespace orchagent::sandbox
