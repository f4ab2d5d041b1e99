#include "runtime/service_keys.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "runtime/agents.hpp"
#include "runtime/calls.hpp"

namespace orchagent::runtime {

std::mutex DownstreamBudget::mutex_;

bool DownstreamBudget::take(int64_t cents) {
    if (cents <= 0) return true;
    std::lock_guard lock(mutex_);
    for (const DownstreamBudget* b = this; b != nullptr; b = b->parent_.get()) {
        if (b->remaining_ < cents) return false;
    }
    for (DownstreamBudget* b = this; b != nullptr; b = b->parent_.get()) b->remaining_ -= cents;
    return true;
}

int64_t DownstreamBudget::remaining() const {
    std::lock_guard lock(mutex_);
    return remaining_;
}

int64_t run_deadline_ms(const Executor& executor, const manifest::AgentManifest& agent,
                        const CallContext& context) {
    return system_now_ms() + executor.budget(agent, context).count();
}

std::shared_ptr<ServiceGrant> make_grant(const Principal& caller, const store::Agent& agent,
                                         const manifest::AgentManifest& manifest,
                                         CallContext& context, const std::string& run_id,
                                         int64_t deadline_epoch_ms) {
    auto grant = std::make_shared<ServiceGrant>();
    grant->caller = caller;
    grant->run_id = run_id;
    grant->agent_org_id = agent.org_id;
    grant->agent_label = fmt::format("{}/{}@{}", agent.org_slug, agent.name, agent.version);
    const manifest::Orchestration orchestration =
        manifest.orchestration.value_or(manifest::Orchestration{});
    grant->dependencies = orchestration.dependencies;
    if (orchestration.max_hops)
        context.max_hops = std::min(context.max_hops, *orchestration.max_hops);
    context.deadline_epoch_ms = deadline_epoch_ms;
    grant->max_hops = context.max_hops;
    grant->deadline_epoch_ms = deadline_epoch_ms;
    grant->call_timeout_ms = orchestration.timeout_ms;
    grant->tenant = context.tenant;
    grant->skills_headers = context.skills_headers;
    // No cap declared: no paid downstream call at all (free ones are never limited).
    grant->budget =
        std::make_shared<DownstreamBudget>(orchestration.per_call_downstream_cap.value_or(0),
                                           context.via ? context.via->budget : nullptr);
    return grant;
}

std::string ServiceKeys::mint(std::shared_ptr<const ServiceGrant> grant) {
    std::string key = std::string(kServiceKeyPrefix) + random_hex(32);
    std::lock_guard lock(mutex_);
    by_hash_[sha256_hex(key)] = std::move(grant);
    return key;
}

void ServiceKeys::revoke(const std::string& key) {
    const std::string hash = sha256_hex(key);
    std::lock_guard lock(mutex_);
    by_hash_.erase(hash);
}

std::shared_ptr<const ServiceGrant> ServiceKeys::find(std::string_view key,
                                                      std::string_view peer) const {
    if (!key.starts_with(kServiceKeyPrefix)) return nullptr;
    // Looked up by hash, like API keys: timing says nothing about live keys.
    const std::string hash = sha256_hex(key);
    std::lock_guard lock(mutex_);
    auto it = by_hash_.find(hash);
    if (it == by_hash_.end()) return nullptr;
    auto bound = peers_.find(std::string(peer));
    if (bound == peers_.end() || bound->second != it->second->run_id) return nullptr;
    return it->second;
}

void ServiceKeys::bind_peer(const std::string& peer, const std::string& run_id) {
    std::lock_guard lock(mutex_);
    peers_[peer] = run_id;
}

void ServiceKeys::unbind_peer(const std::string& peer) {
    std::lock_guard lock(mutex_);
    peers_.erase(peer);
}

size_t ServiceKeys::live_keys() const {
    std::lock_guard lock(mutex_);
    return by_hash_.size();
}

namespace {

bool view_callable(const store::Agent& agent) {
    auto doc = nlohmann::json::parse(agent.document, nullptr, false);
    if (!doc.is_object()) return true;
    auto view = doc.find("view");
    if (view == doc.end() || !view->is_object()) return true;
    auto callable = view->find("callable");
    return callable == view->end() || !callable->is_boolean() || callable->get<bool>();
}

}  // namespace

Result<store::Agent> admit_sub_call(const std::shared_ptr<const ServiceGrant>& grant, Calls& calls,
                                    std::string_view org, std::string_view name,
                                    std::string_view version, CallContext& context,
                                    int64_t now_epoch_ms) {
    const ServiceGrant& g = *grant;
    // Only what the manifest declared, checked before any lookup: an undeclared name learns
    // nothing about what exists.
    const std::string id = fmt::format("{}/{}", org, name);
    auto dep = std::find_if(g.dependencies.begin(), g.dependencies.end(),
                            [&](const manifest::Dependency& d) { return d.id == id; });
    if (dep == g.dependencies.end()) {
        return fail(ErrorCode::kForbidden,
                    fmt::format("{} is not a declared dependency of {} (manifest.dependencies)", id,
                                g.agent_label));
    }
    // Visibility is the calling agent's org's: its own agents and public ones. (The top-level
    // caller's private agents are not offered to another org's code.)
    Principal as_agent_org = g.caller;
    as_agent_org.org.id = g.agent_org_id;
    auto target = calls.resolve(as_agent_org, org, name, dep->version);
    if (!target) return std::unexpected(target.error());
    if (version != dep->version) {
        auto asked = calls.resolve(as_agent_org, org, name, version);
        if (!asked) return std::unexpected(asked.error());
        if (asked->id != target->id) {
            return fail(ErrorCode::kForbidden,
                        fmt::format("{} declares {}@{} ({}); this key cannot call {}",
                                    g.agent_label, id, dep->version, target->version, version));
        }
    }
    if (!view_callable(*target)) {
        return fail(
            ErrorCode::kForbidden,
            fmt::format("{}/{} is not callable by other agents (callable: false)", org, name));
    }
    // Hops: one fewer than the run's; the agent's header may only lower it.
    const int hops = std::min(g.max_hops - 1, context.max_hops);
    if (g.max_hops - 1 <= 0) {
        return fail(ErrorCode::kMaxHopsExceeded,
                    fmt::format("{} has no hops left (X-Orchagent-Max-Hops reached 0): it may not "
                                "call another agent",
                                g.agent_label));
    }
    context.max_hops = hops;
    // The deadline: the run's, lowered by the agent's header and manifest.timeout_ms.
    int64_t deadline = g.deadline_epoch_ms;
    if (context.deadline_epoch_ms) deadline = std::min(deadline, *context.deadline_epoch_ms);
    if (g.call_timeout_ms) deadline = std::min(deadline, now_epoch_ms + *g.call_timeout_ms);
    context.deadline_epoch_ms = deadline;
    context.tenant = g.tenant;
    context.skills_headers = g.skills_headers;
    context.via = grant;
    // Paid calls of another org's agent spend the budget (the owner org's calls are free).
    const int64_t cost =
        is_paid(*target) && target->org_id != g.caller.org.id ? target->price_per_call_cents : 0;
    if (!g.budget->take(cost)) {
        return fail(ErrorCode::kForbidden,
                    fmt::format("{} costs {} cents; {} has {} cents left of its downstream "
                                "budget (manifest.per_call_downstream_cap)",
                                id, cost, g.agent_label, g.budget->remaining()));
    }
    return std::move(*target);
}

}  // namespace orchagent::runtime
