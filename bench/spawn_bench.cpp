// Spawn-to-completion of /bin/true, side by side in one run (rounds interleaved so that
// machine noise hits every contender alike):
//   posix_spawn      plain posix_spawn + waitpid, no isolation
//   orchagent jail   Launcher::run: every namespace, seccomp, cgroup, the default image's mounts
//   bwrap            bwrap --unshare-all --ro-bind / / --proc /proc --dev /dev /bin/true
//   orchagent CLI    the whole `orchagent jail` process (start-up, image, seccomp build, run)
// Then again from a parent holding 1 GiB of touched memory, where fork() pays for the page
// tables and clone(CLONE_VM) does not.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "sandbox/image.hpp"
#include "sandbox/launcher.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using namespace orchagent;

struct Contender {
    std::string name;
    std::function<bool()> once;  // false on failure
    std::vector<double> ms;
};

bool spawn_and_wait(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return false;
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

bool fork_and_wait() {
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/true", "true", nullptr);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

double percentile(std::vector<double> v, double p) {
    std::sort(v.begin(), v.end());
    size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
    return v[i];
}

void measure(std::vector<Contender>& contenders, int rounds) {
    for (auto& c : contenders) {
        for (int i = 0; i < 5; ++i) c.once();  // warm up
        c.ms.clear();
    }
    for (int r = 0; r < rounds; ++r) {
        for (auto& c : contenders) {
            auto t0 = Clock::now();
            if (!c.once()) {
                std::fprintf(stderr, "%s failed\n", c.name.c_str());
                std::exit(1);
            }
            c.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
    }
}

void print(const std::vector<Contender>& contenders, const std::string& title) {
    double base = percentile(contenders.front().ms, 0.5);
    std::printf("\n%s (%zu rounds, interleaved)\n", title.c_str(), contenders.front().ms.size());
    std::printf("  %-34s %10s %10s %10s\n", "contender", "median ms", "p99 ms", "x first");
    for (const auto& c : contenders) {
        double median = percentile(c.ms, 0.5);
        std::printf("  %-34s %10.3f %10.3f %10.2f\n", c.name.c_str(), median,
                    percentile(c.ms, 0.99), median / base);
    }
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = argc > 1 ? std::atoi(argv[1]) : 300;
    std::string cli = argc > 2 ? argv[2] : "";
    std::string source_dir = ORCHAGENT_SOURCE_DIR;

    auto launcher = sandbox::Launcher::create();
    if (!launcher) {
        std::fprintf(stderr, "launcher: %s\n", launcher.error().message().c_str());
        return 1;
    }
    auto image = sandbox::load_image(source_dir + "/images/host.yaml");
    if (!image) {
        std::fprintf(stderr, "image: %s\n", image.error().message().c_str());
        return 1;
    }
    sandbox::JailSpec spec;
    spec.argv = {"/bin/true"};
    spec.env = sandbox::jail_env(*image, {});
    spec.mounts = sandbox::jail_mounts(*image, {});
    spec.cwd = "/home/user";
    spec.identity.host_base = 1u << 30;
    auto jail_once = [&] {
        auto r = (*launcher)->run(spec);
        if (!r) std::fprintf(stderr, "jail: %s\n", r.error().message().c_str());
        return r && r->exit_code == 0;
    };
    std::printf("orchagent spawn benchmark: /bin/true to completion; limits mode %s\n",
                sandbox::to_string((*launcher)->limits_mode()));

    std::vector<Contender> contenders = {
        {"posix_spawn (no isolation)", [] { return spawn_and_wait({"/bin/true"}); }, {}},
        {"orchagent jail (Launcher::run)", jail_once, {}},
        {"bwrap --unshare-all --proc --dev",
         [] {
             return spawn_and_wait({"/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/", "/",
                                    "--proc", "/proc", "--dev", "/dev", "/bin/true"});
         },
         {}},
    };
    if (!cli.empty()) {
        contenders.push_back({"orchagent jail CLI (whole process)",
                              [cli, source_dir] {
                                  return spawn_and_wait({cli, "jail", "--image",
                                                         source_dir + "/images/host.yaml", "--",
                                                         "/bin/true"});
                              },
                              {}});
    }
    measure(contenders, rounds);
    print(contenders, "spawn to completion");

    // A daemon's runs are rarely back to back. Moving a process with a cgroup.procs write
    // costs ~8 ms here once the previous move is more than a few ms old (an RCU grace period);
    // the jail avoids that write, and this row shows it.
    {
        std::vector<double> spaced;
        for (int i = 0; i < std::max(20, rounds / 10); ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            auto t0 = Clock::now();
            if (!jail_once()) return 1;
            spaced.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        std::printf("\nruns 50 ms apart (%zu runs)\n  %-34s %10.3f %10.3f\n", spaced.size(),
                    "orchagent jail (Launcher::run)", percentile(spaced, 0.5),
                    percentile(spaced, 0.99));
    }

    // The daemon will be large: 1 GiB of touched memory, then fork vs our clone(CLONE_VM).
    const size_t ballast_bytes = size_t{1} << 30;
    std::vector<char> ballast(ballast_bytes);
    for (size_t i = 0; i < ballast.size(); i += 4096) ballast[i] = 1;
    std::vector<Contender> big = {
        {"posix_spawn (no isolation)", [] { return spawn_and_wait({"/bin/true"}); }, {}},
        {"fork+exec (no isolation)", fork_and_wait, {}},
        {"orchagent jail (Launcher::run)", jail_once, {}},
    };
    measure(big, std::max(20, rounds / 5));
    print(big, "from a parent with 1 GiB resident");
    return 0;
}
