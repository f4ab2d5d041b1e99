// Service keys (CONTRACT.md section 4): what a run of an agent with dependencies may do
// through its gateway, and the rules a call made with its key follows. A key is minted per
// run, held in this process only (never stored), and revoked when the run ends.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "manifest/manifest.hpp"
#include "runtime/accounts.hpp"
#include "runtime/executor.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::runtime {

class Calls;

inline constexpr std::string_view kServiceKeyPrefix = "sk_svc_";

// The budget of paid downstream calls (manifest.per_call_downstream_cap, in cents) of one
// run. A nested run's budget hangs under its parent's: a paid call anywhere below counts
// against every budget above it, so a chain never spends more than its top allows.
class DownstreamBudget {
  public:
    DownstreamBudget(int64_t cents, std::shared_ptr<DownstreamBudget> parent)
        : remaining_(cents), parent_(std::move(parent)) {}
    // Takes `cents` from this budget and every ancestor, or nothing: false when any is short.
    bool take(int64_t cents);
    int64_t remaining() const;

  private:
    static std::mutex mutex_;  // one lock for every chain: takes are rare and short
    int64_t remaining_;
    std::shared_ptr<DownstreamBudget> parent_;
};

// What one run's service key allows.
struct ServiceGrant {
    Principal caller;          // the top-level caller: usage and billing land on its org
    std::string run_id;        // the run holding the key (its usage record id)
    std::string agent_org_id;  // its agent's org, whose private agents the key may call
    std::string agent_label;   // "org/name@v3", for messages
    std::vector<manifest::Dependency> dependencies;  // the only targets ("org/name", version)
    int max_hops = 0;                        // the run's remaining hops; a sub-call gets one fewer
    int64_t deadline_epoch_ms = 0;           // the run's deadline; no sub-call gets a later one
    std::optional<int64_t> call_timeout_ms;  // manifest.timeout_ms: each sub-call's own cap
    std::string tenant;                      // X-Orchagent-Tenant of the run, passed on
    std::vector<std::pair<std::string, std::string>> skills_headers;  // passed on as well
    std::shared_ptr<DownstreamBudget> budget;
};

// The absolute deadline (epoch ms) a run of `agent` in `context` gets from the executor.
int64_t run_deadline_ms(const Executor& executor, const manifest::AgentManifest& agent,
                        const CallContext& context);

// The grant of a run of `agent` (which has dependencies) called by `caller` in `context`.
// The context is brought in line with the grant: max_hops lowered to manifest.max_hops and
// the deadline fixed to `deadline_epoch_ms`, so the agent's environment says what its key
// allows.
std::shared_ptr<ServiceGrant> make_grant(const Principal& caller, const store::Agent& agent,
                                         const manifest::AgentManifest& manifest,
                                         CallContext& context, const std::string& run_id,
                                         int64_t deadline_epoch_ms);

// The keys of the runs in progress, and the gateway connections they may be used on.
class ServiceKeys {
  public:
    // A new key ("sk_svc_" + 64 hex characters, 256 random bits) for `grant`.
    std::string mint(std::shared_ptr<const ServiceGrant> grant);
    void revoke(const std::string& key);
    // The grant behind `key` presented by a request from `peer` ("127.0.0.1:40312"):
    // nullptr unless the key is live and `peer` is one of its own run's gateway connections.
    // A key copied out of its run is worth nothing anywhere else.
    std::shared_ptr<const ServiceGrant> find(std::string_view key, std::string_view peer) const;
    // The gateway's upstream connections: requests from `peer` come through run `run_id`'s
    // gateway (until unbound).
    void bind_peer(const std::string& peer, const std::string& run_id);
    void unbind_peer(const std::string& peer);
    size_t live_keys() const;

  private:
    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::shared_ptr<const ServiceGrant>> by_hash_;
    std::unordered_map<std::string, std::string> peers_;  // peer -> run id
};

// A call made with a service key, checked against its grant: the target must be a declared
// dependency (org/name, at the declared version: the path may name it or anything that
// resolves to the same version), visible to the run's agent (public, or of its org),
// `callable`, and within the downstream budget (FORBIDDEN otherwise); hops one fewer than
// the run's (MAX_HOPS_EXCEEDED when none are left). `context` is the one the request asked
// for; it becomes the sub-call's: the agent's X-Orchagent-Max-Hops and
// X-Orchagent-Deadline-Ms may only lower what the grant allows, the tenant and skills are the
// run's. Returns the agent to call.
Result<store::Agent> admit_sub_call(const std::shared_ptr<const ServiceGrant>& grant, Calls& calls,
                                    std::string_view org, std::string_view name,
                                    std::string_view version, CallContext& context,
                                    int64_t now_epoch_ms);

}  // namespace orchagent::runtime
