// Calling an agent (CONTRACT.md section 4): resolve the version, admit the call under the
// concurrency limit, record it, run it in the jail, build the envelope, record the outcome.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"
#include "runtime/accounts.hpp"
#include "runtime/agents.hpp"
#include "runtime/bundle.hpp"
#include "runtime/executor.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::runtime {

class LlmClient;  // runtime/llm.hpp
class Gateway;  // runtime/gateway.hpp

inline constexpr size_t kUsageOutputBytes = 10 * 1024;  // stdout/stderr kept per record
inline constexpr uint64_t kMaxUploadFileBytes = 25ull << 20;  // one uploaded file

// Per-org daily limits (UTC days); 0 is no limit. `calls` counts calls admitted to run,
// `executions` those that run the jail (code agents; prompt agents are calls only).
struct PlanLimits {
    int64_t calls_per_day = 0;
    int64_t executions_per_day = 0;
};

struct CallLimits {
    uint32_t max_running = 4;  // calls in the jail at once
    uint32_t max_waiting = 64;  // calls waiting for a turn; beyond it SERVICE_UNAVAILABLE
    int64_t max_wait_ms = 300'000;  // a turn not given by then (or by the caller's deadline)
    PlanLimits plan;                               // every org's, unless
    std::map<std::string, PlanLimits> org_plans;  // by org slug
};

// What the HTTP layer sends back.
struct CallResponse {
    int status = 200;
    nlohmann::json body;  // the envelope
    std::vector<std::pair<std::string, std::string>> headers;
    std::string run_id;
    bool platform_failure = false;  // the jail (or the bundle cache) failed, not the agent
};

struct CallOptions {
    bool verbose = false;  // ?verbose=true: stdout and stderr in metadata
    int64_t accepted_at_ms = 0;  // when the request arrived (processing_time_ms)
};

class Calls {
  public:
    Calls(store::Store& store, const Clock& clock, Agents& agents, BundleCache& cache,
          Executor& executor, CallLimits limits, std::string instance_id);

    // The version a call names: NOT_FOUND (no such org/agent/version, or past its Sunset,
    // naming the successor), FORBIDDEN (another org's private agent).
    Result<store::Agent> resolve(const Principal& caller, std::string_view org,
                                 std::string_view name, std::string_view version);

    // Runs the call and answers with its envelope; errors are envelopes too. Every call
    // that gets this far leaves one usage record.
    CallResponse call(const Principal& caller, const store::Agent& agent, const CallInput& input,
                      CallContext context, const CallOptions& options);

    // Uploaded files: each at most kMaxUploadFileBytes (DOCUMENT_TOO_LARGE), its type sniffed
    // from its bytes (content_type becomes the sniffed type when libmagic knows it) and
    // checked against the agent's `input_schema.accept` list (UNSUPPORTED_TYPE).
    Result<void> check_files(const store::Agent& agent, CallInput& input);

    // A call to `agent` refused before it ran (bad body, bad headers): recorded, answered.
    CallResponse refuse(const Principal& caller, const store::Agent& agent,
                        const CallContext& context, const Error& error);

    // Marks the calls a previous life of this daemon left running (after a crash).
    Result<int64_t> recover();

    // The plan limits of an org (CallLimits::org_plans, else the default).
    PlanLimits plan_for(const store::Org& org) const;
    // What a call by `caller` to `agent` costs the caller: the agent's price when it is
    // paid and of another org, else 0.
    static int64_t price_for(const Principal& caller, const store::Agent& agent);
    // The provider prompt agents run against (docs/operator.md, `llm:`); none by default,
    // and then they answer LLM_ERROR. Set before the first call.
    void set_llm(const LlmClient* llm) { llm_ = llm; }
    // Runs of agents with dependencies get a gateway and a service key from `gateway`
    // (set once, before the first call; without one they get neither).
    void set_gateway(Gateway* gateway) { gateway_ = gateway; }

    uint32_t running() const { return running_.load(); }
    const std::string& instance_id() const { return instance_id_; }

  private:
    // A "running" record of a call by `caller` to `agent`.
    store::UsageRecord new_record(const Principal& caller, const store::Agent& agent,
                                  const CallContext& context, int64_t started) const;
    store::CallStart start_of(const Principal& caller, const store::Agent& agent) const;
    // The answer to a call start_call refused: plan limit (RATE_LIMITED until the next UTC
    // midnight) or INSUFFICIENT_CREDITS with the balance and the price.
    CallResponse refusal(const store::StartOutcome& outcome, const store::CallStart& start,
                         const CallContext& context) const;
    Result<manifest::AgentManifest> manifest_of(const store::Agent& agent,
                                                const std::string& bundle_dir);
    CallResponse run_admitted(const Principal& caller, const store::Agent& agent,
                              const CallInput& input, CallContext& context,
                              const CallOptions& options, store::UsageRecord& record);

    store::Store& store_;
    const Clock& clock_;
    Agents& agents_;
    BundleCache& cache_;
    Executor& executor_;
    const CallLimits limits_;
    const std::string instance_id_;
    const LlmClient* llm_ = nullptr;
    Gateway* gateway_ = nullptr;

    std::mutex admit_mutex_;
    std::condition_variable admit_cv_;
    uint32_t admitted_ = 0;
    uint32_t waiting_ = 0;
    std::atomic<uint32_t> running_{0};

    // Validated manifests by agent id and update time: parsing and schema compilation
    // happen once per version, not per call.
    std::mutex manifests_mutex_;
    std::map<std::pair<std::string, int64_t>, manifest::AgentManifest> manifests_;

    // The agent document's "view" by agent id and update time: a call reads it for its
    // skills, its engine, its accept list and its admission, and parses it once.
    std::shared_ptr<const nlohmann::json> view_of(const store::Agent& agent) const;
    mutable std::mutex views_mutex_;
    mutable std::map<std::pair<std::string, int64_t>, std::shared_ptr<const nlohmann::json>> views_;
};

// The envelope of an error: {"error": {...}, "metadata": {"request_id"}} and its status.
CallResponse error_envelope(const Error& error, const std::string& request_id);

}  // namespace orchagent::runtime
