// cgroup groups for runs: needs root and writable cgroups (skips with a message otherwise).
#include "sandbox/cgroup.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "sandbox/cgroup_pool.hpp"

namespace orchagent::sandbox {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream out;
    out << in.rdbuf();
    return out.str();
}

bool exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0;
}

// The first of the run's folders holding `file`, joined with it; "" when none does.
std::string find_file(const RunCgroup& group, const std::string& file) {
    for (const auto& dir : group.paths()) {
        if (exists(dir + "/" + file)) return dir + "/" + file;
    }
    return "";
}

struct Pipe {
    UniqueFd read, write;
    Pipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
};

// Reads exactly `size` bytes, waiting at most 5 s; false on timeout or EOF.
bool read_exact(int fd, void* out, size_t size) {
    auto* p = static_cast<char*>(out);
    while (size > 0) {
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, 5000) != 1) return false;
        const ssize_t n = ::read(fd, p, size);
        if (n <= 0) return false;
        p += n;
        size -= static_cast<size_t>(n);
    }
    return true;
}

// A forked child that waits on a pipe until released, so the parent can add() it first.
class Child {
  public:
    template <typename Body>
    explicit Child(Body body) {
        Pipe go;
        pid_ = ::fork();
        if (pid_ == 0) {
            go.write.reset();
            char c;
            if (::read(go.read.get(), &c, 1) != 1) ::_exit(99);
            ::_exit(body());
        }
        go_ = std::move(go.write);
    }
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    void release() {
        ASSERT_EQ(::write(go_.get(), "x", 1), 1);
        go_.reset();
    }
    int wait() {
        int status = 0;
        EXPECT_EQ(::waitpid(pid_, &status, 0), pid_);
        pid_ = -1;
        return status;
    }

  private:
    pid_t pid_ = -1;
    UniqueFd go_;
};

// True once every folder of the group lists no process (within 2 s).
bool wait_empty(const RunCgroup& group) {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
        bool empty = true;
        for (const auto& dir : group.paths()) empty = empty && slurp(dir + "/cgroup.procs").empty();
        if (empty) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

// Reaps orphans reparented to us (we are a child subreaper) until none is left (2 s at most).
void reap_all() {
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < deadline) {
        const pid_t r = ::waitpid(-1, nullptr, WNOHANG);
        if (r < 0) return;
        if (r == 0) std::this_thread::sleep_for(1ms);
    }
}

class CgroupTest : public ::testing::Test {
  protected:
    static std::string name() { return "orchagent-cgtest-" + std::to_string(::getpid()); }

    static void SetUpTestSuite() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
    static void TearDownTestSuite() {
        for (const auto& parent : parents_seen()) {
            ::rmdir(parent.c_str());                               // <name>/<pid>-<n>
            ::rmdir(parent.substr(0, parent.rfind('/')).c_str());  // <name>, once empty
        }
    }
    static std::set<std::string>& parents_seen() {
        static std::set<std::string> parents;
        return parents;
    }

    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "cgroup tests need root";
        manager_ = CgroupManager::detect(name());
        for (const auto& parent : manager_.parents()) parents_seen().insert(parent);
        if (manager_.mode() == LimitsMode::kRlimitOnly) {
            GTEST_SKIP() << "no usable cgroups here: " << manager_.why();
        }
    }

    std::unique_ptr<RunCgroup> make(const std::string& id, const Limits& limits = {}) {
        auto group = manager_.create(id, limits);
        EXPECT_TRUE(group.has_value()) << (group ? "" : group.error().message());
        return group ? std::move(*group) : nullptr;
    }

    CgroupManager manager_;
};

TEST_F(CgroupTest, DetectsTheHierarchyInUse) {
    // Pure v2 hosts mount cgroup2 at /sys/fs/cgroup; this hybrid machine has no v2 controllers.
    if (exists("/sys/fs/cgroup/cgroup.controllers")) {
        EXPECT_EQ(manager_.mode(), LimitsMode::kCgroupV2) << manager_.why();
    } else {
        EXPECT_EQ(manager_.mode(), LimitsMode::kCgroupV1);
        EXPECT_TRUE(manager_.why().starts_with("cgroup v2: ")) << manager_.why();
    }
    ASSERT_FALSE(manager_.parents().empty());
    for (const auto& parent : manager_.parents()) {
        EXPECT_TRUE(parent.ends_with(fmt::format("/{}/{}-", name(), ::getpid()) +
                                     parent.substr(parent.rfind('-') + 1)))
            << parent;
        EXPECT_TRUE(exists(parent + "/cgroup.procs")) << parent;
    }
}

TEST_F(CgroupTest, CreateMakesFoldersAndWritesLimits) {
    Limits limits;
    limits.memory_bytes = 64ull << 20;
    limits.max_pids = 16;
    limits.cpu_millicores = 500;
    auto group = make("limits-1", limits);
    ASSERT_TRUE(group);
    ASSERT_FALSE(group->paths().empty());
    for (const auto& dir : group->paths()) {
        EXPECT_TRUE(
            (dir.find("/" + name() + "/") != std::string::npos && dir.ends_with("/limits-1")))
            << dir;
        EXPECT_TRUE(exists(dir + "/cgroup.procs")) << dir;
    }
    EXPECT_EQ(slurp(find_file(*group, "pids.max")), "16\n");
    if (manager_.mode() == LimitsMode::kCgroupV2) {
        EXPECT_EQ(slurp(find_file(*group, "memory.max")), "67108864\n");
        EXPECT_EQ(slurp(find_file(*group, "cpu.max")), "50000 100000\n");
        EXPECT_EQ(slurp(find_file(*group, "memory.oom.group")), "1\n");
    } else {
        EXPECT_EQ(slurp(find_file(*group, "memory.limit_in_bytes")), "67108864\n");
        if (auto memsw = find_file(*group, "memory.memsw.limit_in_bytes"); !memsw.empty()) {
            EXPECT_EQ(slurp(memsw), "67108864\n");
        }
        EXPECT_EQ(slurp(find_file(*group, "cpu.cfs_period_us")), "100000\n");
        EXPECT_EQ(slurp(find_file(*group, "cpu.cfs_quota_us")), "50000\n");
    }
}

TEST_F(CgroupTest, MemoryLimitOomKillsAndIsMetered) {
    Limits limits;
    limits.memory_bytes = 32ull << 20;
    auto group = make("oom-1", limits);
    ASSERT_TRUE(group);
    Child child([] {
        const size_t size = 128ull << 20;
        auto* p = static_cast<char*>(
            ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        if (p == MAP_FAILED) return 2;
        for (size_t i = 0; i < size; i += 4096) p[i] = 1;
        return 0;
    });
    ASSERT_TRUE(group->add(child.pid()));
    child.release();
    const int status = child.wait();
    ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    auto usage = group->usage();
    ASSERT_TRUE(usage) << usage.error().message();
    EXPECT_GE(usage->oom_kills, 1u);
    EXPECT_GE(usage->peak_memory_bytes, limits.memory_bytes * 3 / 4);
    EXPECT_LE(usage->peak_memory_bytes, limits.memory_bytes);
}

TEST_F(CgroupTest, PidsLimitStopsForks) {
    Limits limits;
    limits.max_pids = 8;
    auto group = make("pids-1", limits);
    ASSERT_TRUE(group);
    Pipe report;
    Child child([&] {
        int forked = 0;
        for (;;) {
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::pause();
                ::_exit(0);
            }
            if (pid < 0) break;
            ++forked;
        }
        const int result[2] = {forked, errno};
        if (::write(report.write.get(), result, sizeof result) != sizeof result) return 3;
        ::pause();
        return 0;
    });
    ASSERT_TRUE(group->add(child.pid()));
    child.release();
    int result[2] = {-1, 0};
    ASSERT_TRUE(read_exact(report.read.get(), result, sizeof result));
    EXPECT_EQ(result[0], 7);  // the child itself is the 8th
    EXPECT_EQ(result[1], EAGAIN);
    auto usage = group->usage();
    ASSERT_TRUE(usage) << usage.error().message();
    EXPECT_TRUE(usage->peak_pids == 0 || usage->peak_pids == 8) << usage->peak_pids;  // 0: unknown
    ASSERT_TRUE(group->kill());
    EXPECT_TRUE(WIFSIGNALED(child.wait()));
    EXPECT_TRUE(wait_empty(*group));
    reap_all();
}

TEST_F(CgroupTest, CpuTimeIsMeteredAndCapped) {
    Limits limits;
    limits.cpu_millicores = 500;  // 50 ms per 100 ms period
    auto group = make("cpu-1", limits);
    ASSERT_TRUE(group);
    Child child([] {
        timespec t{};
        do {
            ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        } while (t.tv_sec == 0 && t.tv_nsec < 300'000'000);
        return 0;
    });
    ASSERT_TRUE(group->add(child.pid()));
    const auto start = std::chrono::steady_clock::now();
    child.release();
    const int status = child.wait();
    const auto wall = std::chrono::steady_clock::now() - start;
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    // 300 ms of CPU at half a core needs about 600 ms of wall clock.
    EXPECT_GE(wall, 450ms);
    auto usage = group->usage();
    ASSERT_TRUE(usage) << usage.error().message();
    const auto cpu = usage->cpu_user + usage->cpu_system;
    EXPECT_GE(cpu, 200ms) << cpu.count() << " us";
    EXPECT_LE(cpu, 2s) << cpu.count() << " us";
}

TEST_F(CgroupTest, KillEndsADoubleForkedTree) {
    auto group = make("kill-1");
    ASSERT_TRUE(group);
    Pipe report;
    Child child([&] {
        const pid_t middle = ::fork();
        if (middle == 0) {
            ::setsid();
            if (::fork() == 0) {
                const pid_t self = ::getpid();
                if (::write(report.write.get(), &self, sizeof self) != sizeof self) ::_exit(3);
                for (;;) ::pause();
            }
            ::_exit(0);
        }
        ::waitpid(middle, nullptr, 0);
        for (;;) ::pause();
        return 0;
    });
    ASSERT_TRUE(group->add(child.pid()));
    child.release();
    pid_t grandchild = -1;
    ASSERT_TRUE(read_exact(report.read.get(), &grandchild, sizeof grandchild));
    ASSERT_TRUE(group->kill());
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    EXPECT_TRUE(wait_empty(*group));
    // Orphaned when its parent exited, the grandchild came to us (child subreaper).
    int grand_status = 0;
    ASSERT_EQ(::waitpid(grandchild, &grand_status, 0), grandchild);
    EXPECT_TRUE(WIFSIGNALED(grand_status) && WTERMSIG(grand_status) == SIGKILL);
}

TEST_F(CgroupTest, DestructorKillsAndRemovesFolders) {
    auto group = make("gone-1");
    ASSERT_TRUE(group);
    Child child([] { return 0; });  // never released: still waiting when the group goes
    ASSERT_TRUE(group->add(child.pid()));
    const auto paths = group->paths();
    group.reset();
    for (const auto& dir : paths) EXPECT_FALSE(exists(dir)) << dir;
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST_F(CgroupTest, BadRunIdIsInvalidInput) {
    const std::vector<std::string> bad = {
        "", "a/b", "..", "a b", "a.b", "caf\xc3\xa9", std::string(65, 'a'), std::string("a\0b", 3)};
    for (const auto& id : bad) {
        auto group = manager_.create(id, {});
        ASSERT_FALSE(group.has_value()) << id;
        EXPECT_EQ(group.error().code(), ErrorCode::kInvalidInput) << id;
    }
    EXPECT_TRUE(make(std::string(64, 'a')));
}

TEST_F(CgroupTest, DuplicateRunIdFailsAndLeavesTheFirst) {
    auto first = make("dup-1");
    ASSERT_TRUE(first);
    auto second = manager_.create("dup-1", {});
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().code(), ErrorCode::kConflict);
    EXPECT_NE(second.error().message().find("EEXIST"), std::string::npos)
        << second.error().message();
    for (const auto& dir : first->paths()) EXPECT_TRUE(exists(dir)) << dir;
}

// A launcher that crashed left <name>/<its pid>-0/<run> with a process in it: the next
// detect() kills it and removes the folder. A live launcher's folder is left alone.
TEST_F(CgroupTest, DetectRemovesLeftoversOfADeadLauncherOnly) {
    pid_t dead = ::fork();
    if (dead == 0) _exit(0);
    ASSERT_GT(dead, 0);
    ::waitpid(dead, nullptr, 0);  // its pid now names nobody
    Child child([] { return 0; });
    std::vector<std::string> stale, live;
    for (const auto& parent : manager_.parents()) {
        const std::string shared = parent.substr(0, parent.rfind('/'));
        stale.push_back(shared + "/" + std::to_string(dead) + "-0");
        live.push_back(shared + "/1-0");  // pid 1 is alive
        ASSERT_EQ(::mkdir(stale.back().c_str(), 0755), 0) << stale.back();
        ASSERT_EQ(::mkdir(live.back().c_str(), 0755), 0) << live.back();
        const std::string run = stale.back() + "/stale-1";
        ASSERT_EQ(::mkdir(run.c_str(), 0755), 0) << run;
        std::ofstream(run + "/cgroup.procs") << child.pid() << std::flush;
        EXPECT_NE(slurp(run + "/cgroup.procs"), "") << run;
    }
    auto again = CgroupManager::detect(name());
    EXPECT_EQ(again.mode(), manager_.mode());
    for (const auto& dir : stale) EXPECT_FALSE(exists(dir)) << dir;
    for (const auto& dir : live) {
        EXPECT_TRUE(exists(dir)) << dir;
        ::rmdir(dir.c_str());
    }
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    // Two managers of one process never share a folder.
    for (const auto& parent : again.parents()) {
        EXPECT_EQ(std::ranges::count(manager_.parents(), parent), 0) << parent;
    }
    again.remove_folders();
}

// The pool hands out fresh groups with the asked limits, removes retired ones in the
// background, and leaves nothing behind when it goes.
TEST_F(CgroupTest, PoolGivesFreshGroupsAndRemovesThem) {
    std::vector<std::string> seen;
    {
        CgroupPool pool(manager_, 2);
        Limits limits;
        limits.max_pids = 11;
        for (int i = 0; i < 4; ++i) {
            auto group = pool.take(limits);
            ASSERT_TRUE(group.has_value()) << group.error().message();
            EXPECT_EQ(slurp(find_file(**group, "pids.max")), "11\n");
            for (const auto& p : (*group)->paths()) {
                EXPECT_EQ(std::ranges::count(seen, p), 0) << "reused " << p;
                seen.push_back(p);
            }
            pool.retire(std::move(*group));
        }
        for (int tries = 0; tries < 200 && exists(seen.front()); ++tries) {
            std::this_thread::sleep_for(5ms);
        }
        EXPECT_FALSE(exists(seen.front())) << "retired group still there";
    }
    for (const auto& parent : manager_.parents()) {
        std::error_code ec;
        int groups = 0;
        for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
            groups += entry.is_directory();
        }
        EXPECT_EQ(groups, 0) << parent;
    }
}

}  // namespace
}  // namespace orchagent::sandbox
