// The store: every durable fact of the control plane behind one interface. The SQLite
// backend (sqlite_store.cpp) is the embedded default; a PostgreSQL backend shares several
// daemons. Nothing here is SQL-specific: operations that must change several rows together
// are single methods, each one transaction in the backend.
//
// Times are milliseconds since the epoch (UTC). Ids are strings with a type prefix.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace orchagent::store {

struct Org {
    std::string id;
    std::string slug;
    std::string name;
    int64_t created_at = 0;
};

struct Workspace {
    std::string id;
    std::string org_id;
    std::string name;
    std::string slug;
    int64_t created_at = 0;
};

struct ApiKey {
    std::string id;
    std::string org_id;
    std::string name;
    std::string prefix;  // first characters of the key, for listings
    int64_t created_at = 0;
    std::optional<int64_t> last_used_at;
};

// What a new key is stored as: never the key itself.
struct NewKey {
    std::string id;
    std::string name;
    std::string prefix;
    std::string hash;  // sha256 hex of the whole key
};

// An org created with its first workspace and key, in one transaction.
struct NewOrg {
    Org org;
    Workspace workspace;
    NewKey key;
};

// One version of an agent. `document` is the agent as the API shows it (the validated
// manifest's JSON); the columns beside it are what queries filter or order on.
struct Agent {
    std::string id;
    std::string org_id;
    std::string org_slug;  // filled by reads, ignored by writes
    std::string workspace_id;
    std::string name;
    std::string version;     // "v3"
    int version_number = 0;  // 3; versions not of the form vN get 0
    std::string type;        // prompt|tool|agent|skill
    bool is_public = false;
    std::string description;
    std::string document;  // JSON object
    // Bundle: set by an upload.
    std::optional<std::string> bundle_sha256;
    std::optional<int64_t> bundle_size;
    std::optional<std::string> entrypoint;
    std::optional<int64_t> bundle_uploaded_at;
    // Pricing.
    std::string pricing_mode = "free";  // free|per_call
    int64_t price_per_call_cents = 0;
    // Deprecation: set on every older version when a newer one is published.
    std::optional<int64_t> deprecated_at;
    std::optional<int64_t> sunset_at;
    std::optional<std::string> successor_version;
    std::optional<std::string> forked_from;  // source agent id
    int64_t created_at = 0;
    int64_t updated_at = 0;
};

// One call of an agent, written when the call is accepted (status "running") and again
// when it ends: every accepted call has a record, whatever crashes in between. Also what
// GET /agents/{id}/logs and the /usage endpoints read.
struct UsageRecord {
    std::string id;  // "run_..." (the x-run-id header)
    std::string request_id;
    std::string org_id;  // the caller's org
    std::string key_id;
    std::string tenant;  // X-Orchagent-Tenant, "" when none
    std::string agent_id;
    std::string agent_org_id;
    std::string agent_name;
    std::string version;
    std::string endpoint;
    std::string status = "running";  // running|success|error|timeout
    std::string error_code;          // "" on success
    int http_status = 0;
    int64_t started_at = 0;
    std::optional<int64_t> completed_at;
    int64_t duration_ms = 0;       // accepted to answered
    int64_t execution_ms = 0;      // the jail's wall time
    int64_t cpu_ms = 0;            // metered CPU, user + system
    int64_t peak_memory_bytes = 0;
    std::optional<int> exit_code;
    std::string stdout_text;  // cut to 10 KB
    std::string stderr_text;
    std::string instance_id;  // the daemon that ran it
    bool executed = false;    // the jail ran (an execution, for /usage/compute)
    std::string skills;       // the skills that applied, "org/skill@v1,..." ("" none)
    std::string parent_run_id;  // the run whose agent made this call ("" top level)
    // A paid call: the price reserved from the caller's balance before the run, and what
    // became of it: "" (free), reserved, charged (the author earned it), refunded.
    int64_t price_cents = 0;
    std::string charge_state;
};
using RunLog = UsageRecord;

struct CreditTransaction {
    std::string id;
    std::string org_id;
    int64_t amount_cents = 0;
    int64_t balance_after_cents = 0;
    std::string type;  // topup|charge|refund|earning|grant
    std::string reference_id;
    int64_t created_at = 0;
};

// What admitting a call needs checked and written with its "running" record, in one
// transaction: the org's plan limits for the UTC day, and the price of a paid call.
struct CallStart {
    int64_t calls_per_day = 0;       // 0: no limit
    int64_t executions_per_day = 0;  // 0: no limit
    bool execution = true;           // the call will run the jail
    // A paid call: price_cents reserved from record.org_id (a `charge` transaction), then
    // earned by record.agent_org_id on success or refunded on failure.
    int64_t price_cents = 0;
};
enum class StartRefusal { kNone, kCallsPerDay, kExecutionsPerDay, kInsufficientCredits };
struct StartOutcome {
    StartRefusal refusal = StartRefusal::kNone;
    int64_t balance_cents = 0;  // the caller's balance after the reservation (or short of it)
    int64_t limit = 0;          // the plan limit that refused the call
};

// Which calls a usage query covers. Times are ms since the epoch; the range is
// [from_ms, to_ms). Empty strings match everything.
struct UsageFilter {
    int64_t from_ms = 0;
    int64_t to_ms = 0;
    std::string agent;   // agent name
    std::string tenant;
    std::string status;  // success|error|timeout|running
};
struct UsageTotals {
    int64_t calls = 0;
    int64_t successes = 0;
    int64_t errors = 0;    // error, plus running records a crash left (marked error)
    int64_t timeouts = 0;
    int64_t executions = 0;
    int64_t duration_ms = 0;
    int64_t execution_ms = 0;
    int64_t cpu_ms = 0;
    double gb_seconds = 0;  // peak memory (GiB) x the jail's wall time (s)
};
struct UsageBucket {
    int64_t start_ms = 0;
    UsageTotals totals;
};
enum class UsageDimension { kAgent, kVersion, kEndpoint, kTenant, kStatus };
struct UsageGroup {
    std::string key;         // the agent name, "name@version", endpoint, tenant or status
    std::string agent_id;    // kVersion: that version's id
    UsageTotals totals;
};
// A position in /usage/logs (newest first): the last record of the previous page.
struct LogCursor {
    int64_t started_at = 0;
    std::string id;
};
struct PlanUsage {
    int64_t calls = 0;
    int64_t executions = 0;
};
struct CheckoutSession {
    std::string id;  // the provider's session id
    std::string org_id;
    int64_t amount_cents = 0;
    std::string status;  // open|completed
    int64_t created_at = 0;
};
enum class PaymentOutcome { kCredited, kDuplicate, kUnknownOrg };
struct PaymentResult {
    PaymentOutcome outcome = PaymentOutcome::kCredited;
    std::optional<CreditTransaction> transaction;
};


// Idempotency-Key: what a repeat of a request gets.
struct StoredResponse {
    int status = 0;
    std::string headers;  // JSON array of [name, value]
    std::string body;
};
enum class IdempotencyClaim {
    kClaimed,     // first use of the key: go ahead, then complete or release it
    kMismatch,    // the key was used for a different request
    kInProgress,  // the first request is still running
    kReplay,      // answered before: `response` holds the answer
};
struct IdempotencyState {
    IdempotencyClaim claim = IdempotencyClaim::kClaimed;
    StoredResponse response;
};

// What publishing a version needs beyond the row itself.
struct PublishOptions {
    // Sunset of the versions this one deprecates: published_at + this.
    int64_t deprecation_window_ms = 60LL * 24 * 3600 * 1000;
};

class Store {
  public:
    virtual ~Store() = default;
    // "sqlite" or "postgresql" (GET /health).
    virtual std::string_view kind() const = 0;

    // --- orgs, workspaces ------------------------------------------------------------------
    // CONFLICT when the slug is taken.
    virtual Result<void> create_org(const NewOrg& org, int64_t now) = 0;
    virtual Result<std::optional<Org>> org_by_slug(std::string_view slug) = 0;
    virtual Result<std::optional<Org>> org_by_id(std::string_view id) = 0;
    virtual Result<int64_t> org_count() = 0;
    // CONFLICT when the org already has a workspace with this slug.
    virtual Result<void> create_workspace(const Workspace& workspace) = 0;
    virtual Result<std::vector<Workspace>> list_workspaces(std::string_view org_id) = 0;
    virtual Result<std::optional<Workspace>> workspace_by_id(std::string_view org_id,
                                                             std::string_view id) = 0;

    // --- API keys --------------------------------------------------------------------------
    virtual Result<ApiKey> create_key(std::string_view org_id, const NewKey& key,
                                      int64_t now) = 0;
    virtual Result<std::vector<ApiKey>> list_keys(std::string_view org_id) = 0;
    // False when the org has no live key with this id.
    virtual Result<bool> delete_key(std::string_view org_id, std::string_view key_id,
                                    int64_t now) = 0;
    // The live key with this hash and its org.
    virtual Result<std::optional<std::pair<ApiKey, Org>>> key_by_hash(std::string_view hash) = 0;
    virtual Result<void> touch_key(std::string_view key_id, int64_t now) = 0;

    // --- agents ----------------------------------------------------------------------------
    // Publishes a version. With an empty `agent.version` the next vN of (org, name) is
    // assigned; an explicit version already used is CONFLICT. Every older live version of
    // (org, name) without a deprecation gets deprecated_at = now, sunset_at = now + window
    // and successor_version = this one. Returns the stored row.
    virtual Result<Agent> publish_agent(Agent agent, const PublishOptions& options,
                                        int64_t now) = 0;
    // A live (not deleted) agent by id, of any org.
    virtual Result<std::optional<Agent>> agent_by_id(std::string_view id) = 0;
    // The live version of (org slug, name, version); version "latest" is the highest
    // version_number (then newest).
    virtual Result<std::optional<Agent>> find_agent(std::string_view org_slug,
                                                    std::string_view name,
                                                    std::string_view version) = 0;
    virtual Result<std::vector<Agent>> list_agents(std::string_view org_id) = 0;
    virtual Result<std::vector<Agent>> list_public_agents() = 0;
    // Live versions of (org, name).
    virtual Result<std::vector<Agent>> agent_versions(std::string_view org_id,
                                                      std::string_view name) = 0;
    // Writes the mutable fields: is_public, description, document, pricing, deprecation
    // and updated_at. NOT_FOUND when the agent is gone.
    virtual Result<void> update_agent(const Agent& agent) = 0;
    // Soft-deletes the given agents (one transaction). Returns how many were live.
    virtual Result<int64_t> delete_agents(const std::vector<std::string>& ids, int64_t now) = 0;
    // Live agents forked from this one.
    virtual Result<int64_t> fork_count(std::string_view agent_id) = 0;
    // Records the bundle (content address, size) and points the agent at it, one transaction.
    virtual Result<void> attach_bundle(std::string_view agent_id, std::string_view sha256,
                                       int64_t size, std::string_view entrypoint,
                                       std::string_view document, int64_t now) = 0;

    // --- usage records --------------------------------------------------------------------
    // Inserts finished records (calls refused before they ran) and counts them in the
    // rollups, one transaction for the lot.
    virtual Result<void> record_calls(const std::vector<UsageRecord>& records) = 0;
    // Admits a call: checks the plan limits for the record's UTC day and, for a paid call,
    // reserves the price from the caller's balance (a `charge`); then inserts the record as
    // "running". All or nothing: a refusal writes nothing and says why.
    virtual Result<StartOutcome> start_call(const UsageRecord& record, const CallStart& start) = 0;
    // Writes the outcome of a started record, counts it in the rollups and settles a
    // reservation (success: the author's `earning`; otherwise a `refund`), one transaction.
    virtual Result<void> finish_call(const UsageRecord& record) = 0;
    // Records still "running" that this daemon instance left behind (it crashed): marked
    // error/INTERNAL_ERROR with completed_at = now, reservations refunded, counted, and
    // their idempotency claims released. Returns how many records.
    virtual Result<int64_t> fail_running_calls(std::string_view instance_id, int64_t now) = 0;
    virtual Result<std::optional<UsageRecord>> usage_record(std::string_view id) = 0;
    // Newest first.
    virtual Result<std::vector<UsageRecord>> list_runs(std::string_view agent_id, int limit) = 0;

    // --- usage queries (caller org's calls; from the rollups unless said) ----------------
    // Whole UTC days: filter.from_ms and to_ms are rounded down to midnight (to_ms: up).
    virtual Result<UsageTotals> usage_totals(std::string_view org_id, const UsageFilter& filter) = 0;
    // Buckets of interval_ms (an hour or a day), only those with calls, oldest first.
    virtual Result<std::vector<UsageBucket>> usage_timeseries(std::string_view org_id,
                                                              const UsageFilter& filter,
                                                              int64_t interval_ms) = 0;
    // Most calls first.
    virtual Result<std::vector<UsageGroup>> usage_breakdown(std::string_view org_id,
                                                            const UsageFilter& filter,
                                                            UsageDimension by, int limit) = 0;
    // The records themselves, newest first, after `cursor` when given.
    virtual Result<std::vector<UsageRecord>> usage_logs(std::string_view org_id,
                                                        const UsageFilter& filter,
                                                        const std::optional<LogCursor>& cursor,
                                                        int limit) = 0;
    // What the plan limits count for this UTC day (days since the epoch).
    virtual Result<PlanUsage> plan_usage(std::string_view org_id, int64_t day) = 0;

    // --- idempotency keys -----------------------------------------------------------------
    // Claims (org, key) for a request with this hash, in one transaction. A key older than
    // `expired_before` is forgotten first.
    virtual Result<IdempotencyState> claim_idempotency(std::string_view org_id,
                                                       std::string_view key,
                                                       std::string_view request_hash,
                                                       std::string_view instance_id, int64_t now,
                                                       int64_t expired_before) = 0;
    virtual Result<void> complete_idempotency(std::string_view org_id, std::string_view key,
                                              const StoredResponse& response) = 0;
    // Forgets a claim whose request ended without an answer worth repeating (retry later).
    virtual Result<void> release_idempotency(std::string_view org_id, std::string_view key) = 0;

    // --- credits ---------------------------------------------------------------------------
    // Appends a transaction and returns it with balance_after_cents; one transaction, so the
    // balance is always the sum of the ledger.
    virtual Result<CreditTransaction> add_credit(std::string_view org_id, int64_t amount_cents,
                                                 std::string_view type,
                                                 std::string_view reference_id, int64_t now) = 0;
    virtual Result<int64_t> balance(std::string_view org_id) = 0;
    // Newest first; `before_seq` pages (0: from the newest). Returns each with its seq.
    virtual Result<std::vector<std::pair<int64_t, CreditTransaction>>> list_transactions(
        std::string_view org_id, int64_t before_seq, int limit) = 0;

    // --- payments --------------------------------------------------------------------------
    virtual Result<void> create_checkout(const CheckoutSession& session) = 0;
    // Applies a verified "session paid" event once, in one transaction: a `topup` of what
    // the provider charged (paid.amount_cents) to paid.org_id, referencing the session. An
    // event id seen before, or a session already completed, credits nothing (kDuplicate).
    // A session this store did not create (its row was lost after the provider made it) is
    // credited too: the provider's signature is the proof. An org that does not exist
    // credits nothing (kUnknownOrg); the event is remembered either way.
    virtual Result<PaymentResult> complete_checkout(std::string_view event_id,
                                                    std::string_view event_type,
                                                    const CheckoutSession& paid, int64_t now) = 0;
};

// Opens the store named by a URL: "sqlite:///abs/path.db" or "sqlite://relative.db"; runs
// the migrations. INVALID_INPUT for an unknown scheme.
Result<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace orchagent::store
