// The Launcher runs JailSpecs. Created once per process: it detects cgroups, builds the
// seccomp program and makes this process a child subreaper. run() is thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "core/unique_fd.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/cgroup_pool.hpp"
#include "sandbox/jail_result.hpp"
#include "sandbox/jail_spec.hpp"
#include "sandbox/seccomp.hpp"

namespace orchagent::sandbox {

struct LauncherOptions {
    // Folder under this process's own cgroup that holds the run groups.
    std::string cgroup_name = "orchagentd";
    // When false, no cgroup is used even if one could be: rlimits only (tests the fallback).
    bool use_cgroups = true;
};

// What a run hands its caller while the program runs.
struct RunHooks {
    // JailSpec::listener set: called once, on the launching thread, when the program has
    // exec'd, with the listening socket (the launcher keeps no copy). The program is watched
    // only after it returns, so it must not block. Without a hook the socket is closed and
    // the program's connections are refused.
    std::function<void(UniqueFd listener)> on_listener;
};

class Launcher {
  public:
    static Result<std::unique_ptr<Launcher>> create(const LauncherOptions& options = {});
    ~Launcher();
    Launcher(const Launcher&) = delete;
    Launcher& operator=(const Launcher&) = delete;

    // Runs the spec to completion: the program and every process it started are gone when
    // this returns. An Error means the jail could not be set up (the program never ran);
    // everything the program did, including crashing or timing out, is in the JailResult.
    Result<JailResult> run(const JailSpec& spec, const RunHooks& hooks = {});

    LimitsMode limits_mode() const { return cgroups_.mode(); }
    const CgroupManager& cgroups() const { return cgroups_; }
    // True when this process is root on the host: inside ids map to Identity::host_base..
    bool privileged() const { return privileged_; }

  private:
    struct Slots;  // a root launcher's per-slot namespaces (launcher.cpp)
    Launcher();
    LauncherOptions options_;
    CgroupManager cgroups_;
    SeccompProgram seccomp_;
    bool privileged_ = false;
    std::unique_ptr<Slots> slots_;
    struct Templates;  // a root launcher's mount templates (launcher.cpp)
    std::unique_ptr<Templates> templates_;
    std::unique_ptr<CgroupPool> cgroup_pool_;  // absent in rlimit-only mode
};

}  // namespace orchagent::sandbox
