// cgroups: one group per run for memory, pids and CPU limits, metering and killing the tree.
// cgroup v2 where its controllers are delegated to us; v1 controllers where they are not
// (v2's cgroup.kill still used to end the tree when a v2 hierarchy exists); nothing at all
// when neither can be written (the launcher then falls back to rlimits and says so).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "core/unique_fd.hpp"
#include "sandbox/jail_result.hpp"
#include "sandbox/jail_spec.hpp"

namespace orchagent::sandbox {

struct CgroupUsage {
    std::chrono::microseconds cpu_user{0};
    std::chrono::microseconds cpu_system{0};
    uint64_t peak_memory_bytes = 0;
    uint32_t peak_pids = 0;  // 0 where unknown (v1 has no pids.peak)
    uint64_t oom_kills = 0;  // processes the memory limit killed
};

class RunCgroup;

// Created once per launcher. Finds where this process may create groups: always below the
// process's own cgroup in each hierarchy (/proc/self/cgroup), never below the root.
class CgroupManager {
  public:
    // `name`: the folder under our own cgroup holding the run groups, e.g. "orchagentd".
    // Never fails for lack of cgroups: mode() is then kRlimitOnly and why() says why.
    static CgroupManager detect(std::string_view name);

    LimitsMode mode() const { return mode_; }
    const std::string& why() const { return why_; }  // why v2 or v1 was not usable, if not

    // Makes the run's group(s) (`run_id`: [A-Za-z0-9_-]{1,64}) and writes the limits.
    // Not for kRlimitOnly.
    Result<std::unique_ptr<RunCgroup>> create(std::string_view run_id, const Limits& limits) const;
    // The same without limits (kernel defaults: none); set_limits() before use. For pools
    // that make groups ahead of the runs that need them.
    Result<std::unique_ptr<RunCgroup>> create_without_limits(std::string_view run_id) const;

    // Removes this manager's (empty) folders; the launcher calls it when it goes away.
    void remove_folders() const;

    // Paths (for tests and docs): the parent folder of run groups, per hierarchy in use.
    const std::vector<std::string>& parents() const { return parents_; }

  private:
    LimitsMode mode_ = LimitsMode::kRlimitOnly;
    std::string why_;
    std::string v2_parent_;  // <v2 mount>/<own path>/<name>; empty without a usable v2
    // v1 only: <controller mount>/<own path>/<name> for memory, cpu, cpuacct, pids
    std::string v1_memory_, v1_cpu_, v1_cpuacct_, v1_pids_;
    std::vector<std::string> parents_;
    friend class RunCgroup;
};

// One run's group(s). The destructor kills whatever is left in it and removes it.
class RunCgroup {
  public:
    ~RunCgroup();
    RunCgroup(const RunCgroup&) = delete;
    RunCgroup& operator=(const RunCgroup&) = delete;

    // Writes memory, pids and CPU limits (and, on v2, swap off and whole-group OOM kills).
    Result<void> set_limits(const Limits& limits) const;

    // Moves `pid` into the group(s). Called by the parent before the child proceeds.
    Result<void> add(pid_t pid) const;
    // Kills every process in the group(s): v2 cgroup.kill when present, else SIGKILL to each
    // pid listed, repeated until the group is empty.
    Result<void> kill() const;
    // Reads the meters. Call after the tree is gone for final figures.
    Result<CgroupUsage> usage() const;

    // How a new process joins without anyone writing its pid to cgroup.procs: that write
    // takes a global lock whose release waits for an RCU grace period (8 ms median here when
    // runs are not back to back; docs/benchmarks.md). The v2 group is joined at birth with
    // clone3(CLONE_INTO_CGROUP) on this folder (empty when there is no v2 group)...
    const std::string& v2_path() const { return v2_; }
    // ...and each v1 group by the child itself, writing "0" to these `tasks` files: moving
    // one's own single thread skips the global lock (85 us instead of 8 ms).
    std::vector<std::string> v1_task_files() const;

    // Folders of this run's groups, per hierarchy (tests check they vanish).
    const std::vector<std::string>& paths() const { return paths_; }

  private:
    friend class CgroupManager;
    RunCgroup() = default;
    LimitsMode mode_ = LimitsMode::kCgroupV1;
    std::string v2_;  // may be set in v1 mode too (kill only)
    std::string memory_, cpu_, cpuacct_, pids_;
    std::vector<std::string> paths_;
};

}  // namespace orchagent::sandbox
