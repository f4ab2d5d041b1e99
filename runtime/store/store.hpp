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
    // Inserts a record (normally status "running").
    virtual Result<void> begin_call(const UsageRecord& record) = 0;
    // Writes the outcome of a record begun before.
    virtual Result<void> finish_call(const UsageRecord& record) = 0;
    // Records still "running" that this daemon instance left behind (it crashed): marked
    // error/INTERNAL_ERROR with completed_at = now, and their idempotency claims released.
    // Returns how many records.
    virtual Result<int64_t> fail_running_calls(std::string_view instance_id, int64_t now) = 0;
    // Newest first.
    virtual Result<std::vector<UsageRecord>> list_runs(std::string_view agent_id, int limit) = 0;

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
};

// Opens the store named by a URL: "sqlite:///abs/path.db" or "sqlite://relative.db"; runs
// the migrations. INVALID_INPUT for an unknown scheme.
Result<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace orchagent::store
