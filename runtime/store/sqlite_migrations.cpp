// The SQLite schema as numbered migrations. A migration is never edited once released:
// a change is a new entry at the end. Each runs in one transaction with its
// schema_migrations row, so a crash leaves either all of it or none.
#include "runtime/store/sqlite_migrations.hpp"

#include <fmt/format.h>

namespace orchagent::store::sqlite {
namespace {

constexpr std::string_view kMigrations[] = {
    // 1: orgs, workspaces, keys, bundles, agents, usage records, the credit ledger.
    R"sql(
CREATE TABLE orgs (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES orgs(id),
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (org_id, slug)
);
CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    key_hash      TEXT NOT NULL UNIQUE,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER,
    deleted_at    INTEGER
);
CREATE INDEX api_keys_by_org ON api_keys (org_id);
CREATE TABLE bundles (
    sha256      TEXT PRIMARY KEY,
    size_bytes  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE agents (
    id                    TEXT PRIMARY KEY,
    org_id                TEXT NOT NULL REFERENCES orgs(id),
    workspace_id          TEXT NOT NULL REFERENCES workspaces(id),
    name                  TEXT NOT NULL,
    version               TEXT NOT NULL,
    version_number        INTEGER NOT NULL,
    type                  TEXT NOT NULL,
    is_public             INTEGER NOT NULL,
    description           TEXT NOT NULL,
    document              TEXT NOT NULL,
    bundle_sha256         TEXT REFERENCES bundles(sha256),
    entrypoint            TEXT,
    bundle_uploaded_at    INTEGER,
    pricing_mode          TEXT NOT NULL CHECK (pricing_mode IN ('free', 'per_call')),
    price_per_call_cents  INTEGER NOT NULL CHECK (price_per_call_cents >= 0),
    deprecated_at         INTEGER,
    sunset_at             INTEGER,
    successor_version     TEXT,
    forked_from           TEXT,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    deleted_at            INTEGER
);
-- A version can be used again once deleted; a version number never is (max over all rows).
CREATE UNIQUE INDEX agents_live_version ON agents (org_id, name, version) WHERE deleted_at IS NULL;
CREATE INDEX agents_by_org_name ON agents (org_id, name, version_number);
CREATE INDEX agents_public ON agents (created_at) WHERE is_public = 1 AND deleted_at IS NULL;
CREATE INDEX agents_by_fork_source ON agents (forked_from) WHERE forked_from IS NOT NULL;
-- One row per accepted call: inserted as 'running', finished when answered; a daemon that
-- restarts marks its own 'running' rows as errors.
CREATE TABLE usage_records (
    id                 TEXT PRIMARY KEY,
    request_id         TEXT NOT NULL,
    org_id             TEXT NOT NULL,
    key_id             TEXT NOT NULL,
    tenant             TEXT NOT NULL,
    agent_id           TEXT NOT NULL,
    agent_org_id       TEXT NOT NULL,
    agent_name         TEXT NOT NULL,
    version            TEXT NOT NULL,
    endpoint           TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('running', 'success', 'error', 'timeout')),
    error_code         TEXT NOT NULL,
    http_status        INTEGER NOT NULL,
    started_at         INTEGER NOT NULL,
    completed_at       INTEGER,
    duration_ms        INTEGER NOT NULL,
    execution_ms       INTEGER NOT NULL,
    cpu_ms             INTEGER NOT NULL,
    peak_memory_bytes  INTEGER NOT NULL,
    exit_code          INTEGER,
    stdout             TEXT NOT NULL,
    stderr             TEXT NOT NULL,
    instance_id        TEXT NOT NULL
);
CREATE INDEX usage_by_agent ON usage_records (agent_id, started_at);
CREATE INDEX usage_by_org ON usage_records (org_id, started_at);
CREATE INDEX usage_running ON usage_records (instance_id) WHERE status = 'running';
-- Idempotency-Key on calls: the first request's hash and, once answered, its response.
CREATE TABLE idempotency_keys (
    org_id        TEXT NOT NULL,
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('running', 'done')),
    status        INTEGER NOT NULL,
    headers       TEXT NOT NULL,
    body          TEXT NOT NULL,
    instance_id   TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE TABLE credit_transactions (
    seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
    id                   TEXT NOT NULL UNIQUE,
    org_id               TEXT NOT NULL REFERENCES orgs(id),
    amount_cents         INTEGER NOT NULL,
    balance_after_cents  INTEGER NOT NULL,
    type                 TEXT NOT NULL
        CHECK (type IN ('topup', 'charge', 'refund', 'earning', 'grant')),
    reference_id         TEXT NOT NULL,
    created_at           INTEGER NOT NULL
);
CREATE INDEX credit_transactions_by_org ON credit_transactions (org_id, seq);
)sql",
    // 2: usage queries, plan limits, paid calls, payments.
    R"sql(
-- What a call ran and what it cost: `executed` when the jail ran (an execution), the price
-- reserved from the caller's balance and what became of it.
ALTER TABLE usage_records ADD COLUMN executed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN skills TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN parent_run_id TEXT NOT NULL DEFAULT '';
ALTER TABLE usage_records ADD COLUMN price_cents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN charge_state TEXT NOT NULL DEFAULT ''
    CHECK (charge_state IN ('', 'reserved', 'charged', 'refunded'));
CREATE INDEX usage_by_org_agent ON usage_records (org_id, agent_name, started_at);
-- Finished calls summed per caller org, UTC hour (and UTC day), agent version, endpoint,
-- tenant and status, written in the transaction that finishes the call. The /usage queries
-- read these, never the records, so they stay fast with millions of records: a 30-day
-- breakdown reads at most 30 rows per combination, an hourly series at most 24 per day.
CREATE TABLE usage_by_hour (
    org_id        TEXT NOT NULL,
    period        INTEGER NOT NULL,
    agent_id      TEXT NOT NULL,
    agent_name    TEXT NOT NULL,
    version       TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    status        TEXT NOT NULL,
    calls         INTEGER NOT NULL,
    executions    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    execution_ms  INTEGER NOT NULL,
    cpu_ms        INTEGER NOT NULL,
    gb_seconds    REAL NOT NULL,
    PRIMARY KEY (org_id, period, agent_id, endpoint, tenant, status)
) WITHOUT ROWID;
CREATE TABLE usage_by_day (
    org_id        TEXT NOT NULL,
    period        INTEGER NOT NULL,
    agent_id      TEXT NOT NULL,
    agent_name    TEXT NOT NULL,
    version       TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    tenant        TEXT NOT NULL,
    status        TEXT NOT NULL,
    calls         INTEGER NOT NULL,
    executions    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    execution_ms  INTEGER NOT NULL,
    cpu_ms        INTEGER NOT NULL,
    gb_seconds    REAL NOT NULL,
    PRIMARY KEY (org_id, period, agent_id, endpoint, tenant, status)
) WITHOUT ROWID;
-- Calls admitted to run, and executions, per org and UTC day: the plan limits.
CREATE TABLE plan_usage (
    org_id      TEXT NOT NULL,
    day         INTEGER NOT NULL,
    calls       INTEGER NOT NULL,
    executions  INTEGER NOT NULL,
    PRIMARY KEY (org_id, day)
) WITHOUT ROWID;
CREATE INDEX usage_reserved ON usage_records (instance_id) WHERE charge_state = 'reserved';
-- Checkout sessions created with the payment provider, and the provider's events already
-- applied (a replayed event changes nothing).
CREATE TABLE checkout_sessions (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES orgs(id),
    amount_cents  INTEGER NOT NULL CHECK (amount_cents > 0),
    status        TEXT NOT NULL CHECK (status IN ('open', 'completed')),
    created_at    INTEGER NOT NULL,
    completed_at  INTEGER
);
CREATE TABLE payment_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
)sql",
    // 3: narrow rollups, so that the unfiltered /usage queries read a few thousand rows.
    R"sql(
-- The same sums as usage_by_hour/usage_by_day, keyed by one dimension at a time: dim 'hour'
-- and 'day' (key ''), 'day:agent' (key: the version's agent id), 'day:tenant', 'day:endpoint'.
CREATE TABLE usage_narrow (
    org_id        TEXT NOT NULL,
    dim           TEXT NOT NULL,
    period        INTEGER NOT NULL,
    key           TEXT NOT NULL,
    agent_name    TEXT NOT NULL,
    version       TEXT NOT NULL,
    status        TEXT NOT NULL,
    calls         INTEGER NOT NULL,
    executions    INTEGER NOT NULL,
    duration_ms   INTEGER NOT NULL,
    execution_ms  INTEGER NOT NULL,
    cpu_ms        INTEGER NOT NULL,
    gb_seconds    REAL NOT NULL,
    PRIMARY KEY (org_id, dim, period, key, status)
) WITHOUT ROWID;
INSERT INTO usage_narrow SELECT org_id, 'hour', period, '', '', '', status, sum(calls), sum(executions), sum(duration_ms), sum(execution_ms), sum(cpu_ms), sum(gb_seconds)
    FROM usage_by_hour GROUP BY org_id, period, status;
INSERT INTO usage_narrow SELECT org_id, 'day', period, '', '', '', status, sum(calls), sum(executions), sum(duration_ms), sum(execution_ms), sum(cpu_ms), sum(gb_seconds)
    FROM usage_by_day GROUP BY org_id, period, status;
INSERT INTO usage_narrow SELECT org_id, 'day:agent', period, agent_id, max(agent_name),
    max(version), status, sum(calls), sum(executions), sum(duration_ms), sum(execution_ms), sum(cpu_ms), sum(gb_seconds) FROM usage_by_day GROUP BY org_id, period, agent_id, status;
INSERT INTO usage_narrow SELECT org_id, 'day:tenant', period, tenant, '', '', status, sum(calls), sum(executions), sum(duration_ms), sum(execution_ms), sum(cpu_ms), sum(gb_seconds)
    FROM usage_by_day GROUP BY org_id, period, tenant, status;
INSERT INTO usage_narrow SELECT org_id, 'day:endpoint', period, endpoint, '', '', status, sum(calls), sum(executions), sum(duration_ms), sum(execution_ms), sum(cpu_ms), sum(gb_seconds)
    FROM usage_by_day GROUP BY org_id, period, endpoint, status;
)sql",
};

}  // namespace

Result<int> migrate(Connection& db) {
    if (auto r = db.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
        !r) {
        return std::unexpected(r.error());
    }
    int applied = 0;
    for (size_t i = 0; i < std::size(kMigrations); ++i) {
        const int64_t version = static_cast<int64_t>(i) + 1;
        auto tx = Transaction::begin(db);
        if (!tx) return std::unexpected(tx.error());
        // Checked inside the transaction: two daemons starting on one file migrate once.
        auto q = db.query("SELECT 1 FROM schema_migrations WHERE version = ?", {version});
        if (!q) return std::unexpected(q.error());
        auto present = q->step();
        if (!present) return std::unexpected(present.error());
        if (*present) continue;
        if (auto r = db.exec(std::string(kMigrations[i])); !r) {
            return std::unexpected(r.error().with_context(fmt::format("migration {}", version)));
        }
        auto mark = db.query(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%s','now'))",
            {version});
        if (!mark) return std::unexpected(mark.error());
        if (auto r = mark->run(); !r) return std::unexpected(r.error());
        if (auto r = tx->commit(); !r) return std::unexpected(r.error());
        ++applied;
    }
    return applied;
}

int latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

}  // namespace orchagent::store::sqlite
