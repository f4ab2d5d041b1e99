// Internal to sandbox/: each kernel feature's parent-side and child-side step, one file each.
// Parent-side functions may allocate and return Result; child-side functions are noexcept,
// allocate nothing and return 0 or an errno.
#pragma once

#include <sys/types.h>

#include <deque>
#include <string>

#include "core/error.hpp"
#include "core/unique_fd.hpp"
#include "sandbox/child.hpp"
#include "sandbox/jail_spec.hpp"

namespace orchagent::sandbox {

// Owns every string a ChildPlan points to (a deque never moves its elements).
class PlanStrings {
  public:
    const char* add(std::string s) { return strings_.emplace_back(std::move(s)).c_str(); }

  private:
    std::deque<std::string> strings_;
};

// userns.cpp
// A root launcher's per-slot namespaces: a user namespace mapping the slot's id range and a
// network namespace it owns with lo up. Kept open for the launcher's life, joined by runs.
struct SlotNamespaces {
    UniqueFd user;
    UniqueFd net;
};
Result<SlotNamespaces> make_slot_namespaces(const Identity& identity);
Result<void> write_id_maps(pid_t pid, const Identity& identity, bool privileged);
int child_join_slot_user(const ChildPlan& plan) noexcept;

// mounts.cpp
// kAll: every mount for this run. kTemplate: only the static part (read-only binds, files,
// symlinks, folders, /dev nodes), built once in a namespace of its own, then read-only.
// kRun: only what is made anew per run (proc, tmpfs, writable binds, /dev/shm), in a copy of
// the template namespace (`template_ns`).
enum class MountPhase { kAll, kTemplate, kRun };
Result<void> plan_mounts(const JailSpec& spec, PlanStrings& strings, ChildPlan& plan,
                         MountPhase phase = MountPhase::kAll, int template_ns = -1);
// Whether the spec's static mounts can be shared through a template (no owned files or
// folders, nothing static under a per-run mount).
bool can_use_template(const JailSpec& spec);
// Identifies the static part of a spec: equal keys, same template.
std::string template_key(const JailSpec& spec);
// Builds the template namespace for `spec` (root launcher only). `run_plan` gives ownership.
Result<UniqueFd> make_mount_template(const JailSpec& spec, const ChildPlan& run_plan);
int child_apply_mounts(const ChildPlan& plan, int32_t* failed_index) noexcept;
int child_pivot_root(const ChildPlan& plan) noexcept;
int child_root_read_only() noexcept;

// rlimits.cpp
void plan_rlimits(const Limits& limits, bool without_cgroups, ChildPlan& plan);
int child_apply_rlimits(const ChildPlan& plan, bool address_space) noexcept;

// caps.cpp
Result<void> plan_caps(ChildPlan& plan);
void release_caps(ChildPlan& plan);
int child_drop_caps(const ChildPlan& plan) noexcept;

// net.cpp
int child_loopback_up() noexcept;
int child_join_slot_net(const ChildPlan& plan) noexcept;
// Makes the listener at 127.0.0.1:plan.listener_port in the current network namespace,
// sends it over plan.listener_channel_fd and closes its own copy.
int child_make_listener(const ChildPlan& plan) noexcept;
// The parent's side: the listener the child sent (EAGAIN-free: the child has exec'd).
Result<UniqueFd> receive_listener(int channel_fd);

}  // namespace orchagent::sandbox
