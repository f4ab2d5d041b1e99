// The embedded store: one SQLite file in WAL mode. One writer connection (SQLite allows one
// writer at a time anyway) and a few reader connections, so reads never wait for a write.
#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "core/ids.hpp"
#include "runtime/store/sqlite_db.hpp"
#include "runtime/store/sqlite_migrations.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::store {
namespace {

using sqlite::Connection;
using sqlite::Null;
using sqlite::opt;
using sqlite::Query;
using sqlite::Transaction;
using sqlite::Value;

constexpr size_t kReaders = 8;

constexpr std::string_view kAgentColumns =
    "a.id, a.org_id, o.slug, a.workspace_id, a.name, a.version, a.version_number, a.type,"
    " a.is_public, a.description, a.document, a.bundle_sha256, b.size_bytes, a.entrypoint,"
    " a.bundle_uploaded_at, a.pricing_mode, a.price_per_call_cents, a.deprecated_at,"
    " a.sunset_at, a.successor_version, a.forked_from, a.created_at, a.updated_at"
    " FROM agents a JOIN orgs o ON o.id = a.org_id LEFT JOIN bundles b"
    " ON b.sha256 = a.bundle_sha256";

Agent agent_from(const Query& q) {
    Agent a;
    a.id = q.text(0);
    a.org_id = q.text(1);
    a.org_slug = q.text(2);
    a.workspace_id = q.text(3);
    a.name = q.text(4);
    a.version = q.text(5);
    a.version_number = static_cast<int>(q.int64(6));
    a.type = q.text(7);
    a.is_public = q.int64(8) != 0;
    a.description = q.text(9);
    a.document = q.text(10);
    a.bundle_sha256 = q.opt_text(11);
    a.bundle_size = q.opt_int64(12);
    a.entrypoint = q.opt_text(13);
    a.bundle_uploaded_at = q.opt_int64(14);
    a.pricing_mode = q.text(15);
    a.price_per_call_cents = q.int64(16);
    a.deprecated_at = q.opt_int64(17);
    a.sunset_at = q.opt_int64(18);
    a.successor_version = q.opt_text(19);
    a.forked_from = q.opt_text(20);
    a.created_at = q.int64(21);
    a.updated_at = q.int64(22);
    return a;
}

Org org_from(const Query& q, int first = 0) {
    return Org{.id = q.text(first),
               .slug = q.text(first + 1),
               .name = q.text(first + 2),
               .created_at = q.int64(first + 3)};
}

Workspace workspace_from(const Query& q) {
    return Workspace{.id = q.text(0),
                     .org_id = q.text(1),
                     .name = q.text(2),
                     .slug = q.text(3),
                     .created_at = q.int64(4)};
}

ApiKey key_from(const Query& q) {
    return ApiKey{.id = q.text(0),
                  .org_id = q.text(1),
                  .name = q.text(2),
                  .prefix = q.text(3),
                  .created_at = q.int64(4),
                  .last_used_at = q.opt_int64(5)};
}

constexpr std::string_view kUsageColumns =
    "id, request_id, org_id, key_id, tenant, agent_id, agent_org_id, agent_name, version,"
    " endpoint, status, error_code, http_status, started_at, completed_at, duration_ms,"
    " execution_ms, cpu_ms, peak_memory_bytes, exit_code, stdout, stderr, instance_id,"
    " executed, skills, parent_run_id, price_cents, charge_state";

UsageRecord usage_from(const Query& q) {
    UsageRecord r;
    r.id = q.text(0);
    r.request_id = q.text(1);
    r.org_id = q.text(2);
    r.key_id = q.text(3);
    r.tenant = q.text(4);
    r.agent_id = q.text(5);
    r.agent_org_id = q.text(6);
    r.agent_name = q.text(7);
    r.version = q.text(8);
    r.endpoint = q.text(9);
    r.status = q.text(10);
    r.error_code = q.text(11);
    r.http_status = static_cast<int>(q.int64(12));
    r.started_at = q.int64(13);
    r.completed_at = q.opt_int64(14);
    r.duration_ms = q.int64(15);
    r.execution_ms = q.int64(16);
    r.cpu_ms = q.int64(17);
    r.peak_memory_bytes = q.int64(18);
    if (auto e = q.opt_int64(19)) r.exit_code = static_cast<int>(*e);
    r.stdout_text = q.text(20);
    r.stderr_text = q.text(21);
    r.instance_id = q.text(22);
    r.executed = q.int64(23) != 0;
    r.skills = q.text(24);
    r.parent_run_id = q.text(25);
    r.price_cents = q.int64(26);
    r.charge_state = q.text(27);
    return r;
}

// Runs `sql` and maps each row with `from`.
template <typename T, typename From>
Result<std::vector<T>> rows(Connection& db, std::string_view sql, const std::vector<Value>& args,
                            From from) {
    auto q = db.query(sql, args);
    if (!q) return std::unexpected(q.error());
    std::vector<T> out;
    for (;;) {
        auto more = q->step();
        if (!more) return std::unexpected(more.error());
        if (!*more) return out;
        out.push_back(from(*q));
    }
}

template <typename T, typename From>
Result<std::optional<T>> one(Connection& db, std::string_view sql,
                             const std::vector<Value>& args, From from) {
    auto q = db.query(sql, args);
    if (!q) return std::unexpected(q.error());
    auto more = q->step();
    if (!more) return std::unexpected(more.error());
    if (!*more) return std::optional<T>();
    return std::optional<T>(from(*q));
}

Result<void> run(Connection& db, std::string_view sql, const std::vector<Value>& args) {
    auto q = db.query(sql, args);
    if (!q) return std::unexpected(q.error());
    return q->run();
}

// "v12" -> 12; anything else 0.
int version_number_of(std::string_view version) {
    if (version.size() < 2 || version[0] != 'v' || version.size() > 10) return 0;
    int n = 0;
    for (char c : version.substr(1)) {
        if (c < '0' || c > '9') return 0;
        n = n * 10 + (c - '0');
    }
    return n;
}

class SqliteStore final : public Store {
  public:
    static Result<std::unique_ptr<Store>> open(const std::string& path) {
        auto writer = Connection::open(path, false);
        if (!writer) return std::unexpected(writer.error());
        if (auto m = sqlite::migrate(**writer); !m) return std::unexpected(m.error());
        std::unique_ptr<SqliteStore> store(new SqliteStore());
        store->writer_ = std::move(*writer);
        for (size_t i = 0; i < kReaders; ++i) {
            auto reader = Connection::open(path, true);
            if (!reader) return std::unexpected(reader.error());
            store->readers_[i] = std::move(*reader);
        }
        return std::unique_ptr<Store>(std::move(store));
    }

    std::string_view kind() const override { return "sqlite"; }

    // --- orgs, workspaces ------------------------------------------------------------------
    Result<void> create_org(const NewOrg& o, int64_t now) override {
        return write([&](Connection& db) -> Result<void> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            auto r = run(db, "INSERT INTO orgs (id, slug, name, created_at) VALUES (?, ?, ?, ?)",
                         {o.org.id, o.org.slug, o.org.name, now});
            if (!r) return conflict_as(r.error(), fmt::format("org '{}' exists", o.org.slug));
            if (auto w = insert_workspace(db, o.workspace); !w) return w;
            if (auto k = insert_key(db, o.org.id, o.key, now); !k) return k;
            return tx->commit();
        });
    }

    Result<std::optional<Org>> org_by_slug(std::string_view slug) override {
        return read([&](Connection& db) {
            return one<Org>(db, "SELECT id, slug, name, created_at FROM orgs WHERE slug = ?",
                            {slug}, [](const Query& q) { return org_from(q); });
        });
    }

    Result<std::optional<Org>> org_by_id(std::string_view id) override {
        return read([&](Connection& db) {
            return one<Org>(db, "SELECT id, slug, name, created_at FROM orgs WHERE id = ?", {id},
                            [](const Query& q) { return org_from(q); });
        });
    }

    Result<int64_t> org_count() override {
        return read([&](Connection& db) -> Result<int64_t> {
            auto n = one<int64_t>(db, "SELECT count(*) FROM orgs", {},
                                  [](const Query& q) { return q.int64(0); });
            if (!n) return std::unexpected(n.error());
            return n->value_or(0);
        });
    }

    Result<void> create_workspace(const Workspace& w) override {
        return write([&](Connection& db) { return insert_workspace(db, w); });
    }

    Result<std::vector<Workspace>> list_workspaces(std::string_view org_id) override {
        return read([&](Connection& db) {
            return rows<Workspace>(db,
                                   "SELECT id, org_id, name, slug, created_at FROM workspaces"
                                   " WHERE org_id = ? ORDER BY created_at, id",
                                   {org_id}, workspace_from);
        });
    }

    Result<std::optional<Workspace>> workspace_by_id(std::string_view org_id,
                                                     std::string_view id) override {
        return read([&](Connection& db) {
            return one<Workspace>(db,
                                  "SELECT id, org_id, name, slug, created_at FROM workspaces"
                                  " WHERE org_id = ? AND id = ?",
                                  {org_id, id}, workspace_from);
        });
    }

    // --- keys ------------------------------------------------------------------------------
    Result<ApiKey> create_key(std::string_view org_id, const NewKey& key, int64_t now) override {
        auto r = write([&](Connection& db) { return insert_key(db, org_id, key, now); });
        if (!r) return std::unexpected(r.error());
        return ApiKey{.id = key.id,
                      .org_id = std::string(org_id),
                      .name = key.name,
                      .prefix = key.prefix,
                      .created_at = now};
    }

    Result<std::vector<ApiKey>> list_keys(std::string_view org_id) override {
        return read([&](Connection& db) {
            return rows<ApiKey>(db,
                                "SELECT id, org_id, name, prefix, created_at, last_used_at"
                                " FROM api_keys WHERE org_id = ? AND deleted_at IS NULL"
                                " ORDER BY created_at, id",
                                {org_id}, key_from);
        });
    }

    Result<bool> delete_key(std::string_view org_id, std::string_view key_id,
                            int64_t now) override {
        return write([&](Connection& db) -> Result<bool> {
            auto r = run(db,
                         "UPDATE api_keys SET deleted_at = ? WHERE id = ? AND org_id = ?"
                         " AND deleted_at IS NULL",
                         {now, key_id, org_id});
            if (!r) return std::unexpected(r.error());
            return db.changes() > 0;
        });
    }

    Result<std::optional<std::pair<ApiKey, Org>>> key_by_hash(std::string_view hash) override {
        return read([&](Connection& db) {
            return one<std::pair<ApiKey, Org>>(
                db,
                "SELECT k.id, k.org_id, k.name, k.prefix, k.created_at, k.last_used_at,"
                " o.id, o.slug, o.name, o.created_at FROM api_keys k JOIN orgs o"
                " ON o.id = k.org_id WHERE k.key_hash = ? AND k.deleted_at IS NULL",
                {hash}, [](const Query& q) { return std::pair(key_from(q), org_from(q, 6)); });
        });
    }

    Result<void> touch_key(std::string_view key_id, int64_t now) override {
        return write([&](Connection& db) {
            return run(db, "UPDATE api_keys SET last_used_at = ? WHERE id = ?", {now, key_id});
        });
    }

    // --- agents ----------------------------------------------------------------------------
    Result<Agent> publish_agent(Agent a, const PublishOptions& options, int64_t now) override {
        auto written = write([&](Connection& db) -> Result<void> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            if (a.version.empty()) {
                auto top = one<int64_t>(db,
                                        "SELECT coalesce(max(version_number), 0) FROM agents"
                                        " WHERE org_id = ? AND name = ?",
                                        {a.org_id, a.name},
                                        [](const Query& q) { return q.int64(0); });
                if (!top) return std::unexpected(top.error());
                a.version_number = static_cast<int>(top->value_or(0)) + 1;
                a.version = fmt::format("v{}", a.version_number);
            } else {
                a.version_number = version_number_of(a.version);
            }
            a.created_at = a.updated_at = now;
            auto r = run(db,
                         "INSERT INTO agents (id, org_id, workspace_id, name, version,"
                         " version_number, type, is_public, description, document,"
                         " pricing_mode, price_per_call_cents, forked_from, bundle_sha256,"
                         " entrypoint, bundle_uploaded_at, created_at, updated_at)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         {a.id, a.org_id, a.workspace_id, a.name, a.version,
                          int64_t(a.version_number), a.type, int64_t(a.is_public),
                          a.description, a.document, a.pricing_mode, a.price_per_call_cents,
                          opt(a.forked_from), opt(a.bundle_sha256), opt(a.entrypoint),
                          opt(a.bundle_uploaded_at), now, now});
            if (!r) {
                return conflict_as(r.error(),
                                   fmt::format("{} {} exists already", a.name, a.version));
            }
            // Older live versions are deprecated by this one (a version published with a
            // lower number, e.g. an explicit v1 after v3, deprecates nothing).
            auto d = run(db,
                         "UPDATE agents SET deprecated_at = ?, sunset_at = ?,"
                         " successor_version = ?, updated_at = ? WHERE org_id = ? AND name = ?"
                         " AND id != ? AND deleted_at IS NULL AND deprecated_at IS NULL"
                         " AND version_number < ?",
                         {now, now + options.deprecation_window_ms, a.version, now, a.org_id,
                          a.name, a.id, int64_t(a.version_number)});
            if (!d) return std::unexpected(d.error());
            return tx->commit();
        });
        if (!written) return std::unexpected(written.error());
        auto stored = agent_by_id(a.id);
        if (!stored) return std::unexpected(stored.error());
        if (!*stored) return fail(ErrorCode::kInternalError, "store: published agent vanished");
        return std::move(**stored);
    }

    Result<std::optional<Agent>> agent_by_id(std::string_view id) override {
        return read([&](Connection& db) {
            return one<Agent>(db, agent_sql(" WHERE a.id = ? AND a.deleted_at IS NULL"), {id},
                              agent_from);
        });
    }

    Result<std::optional<Agent>> find_agent(std::string_view org_slug, std::string_view name,
                                            std::string_view version) override {
        return read([&](Connection& db) {
            if (version == "latest") {
                return one<Agent>(db,
                                  agent_sql(" WHERE o.slug = ? AND a.name = ?"
                                            " AND a.deleted_at IS NULL"
                                            " ORDER BY a.version_number DESC, a.created_at DESC"
                                            " LIMIT 1"),
                                  {org_slug, name}, agent_from);
            }
            return one<Agent>(db,
                              agent_sql(" WHERE o.slug = ? AND a.name = ? AND a.version = ?"
                                        " AND a.deleted_at IS NULL"),
                              {org_slug, name, version}, agent_from);
        });
    }

    Result<std::vector<Agent>> list_agents(std::string_view org_id) override {
        return read([&](Connection& db) {
            return rows<Agent>(db,
                               agent_sql(" WHERE a.org_id = ? AND a.deleted_at IS NULL"
                                         " ORDER BY a.name, a.version_number, a.created_at"),
                               {org_id}, agent_from);
        });
    }

    Result<std::vector<Agent>> list_public_agents() override {
        return read([&](Connection& db) {
            return rows<Agent>(db,
                               agent_sql(" WHERE a.is_public = 1 AND a.deleted_at IS NULL"
                                         " ORDER BY a.created_at DESC, a.id"),
                               {}, agent_from);
        });
    }

    Result<std::vector<Agent>> agent_versions(std::string_view org_id,
                                              std::string_view name) override {
        return read([&](Connection& db) {
            return rows<Agent>(db,
                               agent_sql(" WHERE a.org_id = ? AND a.name = ?"
                                         " AND a.deleted_at IS NULL ORDER BY a.version_number"),
                               {org_id, name}, agent_from);
        });
    }

    Result<void> update_agent(const Agent& a) override {
        return write([&](Connection& db) -> Result<void> {
            auto r = run(db,
                         "UPDATE agents SET is_public = ?, description = ?, document = ?,"
                         " pricing_mode = ?, price_per_call_cents = ?, deprecated_at = ?,"
                         " sunset_at = ?, successor_version = ?, updated_at = ?"
                         " WHERE id = ? AND deleted_at IS NULL",
                         {int64_t(a.is_public), a.description, a.document, a.pricing_mode,
                          a.price_per_call_cents, opt(a.deprecated_at), opt(a.sunset_at),
                          opt(a.successor_version), a.updated_at, a.id});
            if (!r) return r;
            if (db.changes() == 0) return fail(ErrorCode::kNotFound, "agent not found");
            return {};
        });
    }

    Result<int64_t> delete_agents(const std::vector<std::string>& ids, int64_t now) override {
        return write([&](Connection& db) -> Result<int64_t> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            int64_t deleted = 0;
            for (const auto& id : ids) {
                auto r = run(db,
                             "UPDATE agents SET deleted_at = ?, updated_at = ? WHERE id = ?"
                             " AND deleted_at IS NULL",
                             {now, now, id});
                if (!r) return std::unexpected(r.error());
                deleted += db.changes();
            }
            if (auto c = tx->commit(); !c) return std::unexpected(c.error());
            return deleted;
        });
    }

    Result<int64_t> fork_count(std::string_view agent_id) override {
        return read([&](Connection& db) -> Result<int64_t> {
            auto n = one<int64_t>(db,
                                  "SELECT count(*) FROM agents WHERE forked_from = ?"
                                  " AND deleted_at IS NULL",
                                  {agent_id}, [](const Query& q) { return q.int64(0); });
            if (!n) return std::unexpected(n.error());
            return n->value_or(0);
        });
    }

    Result<void> attach_bundle(std::string_view agent_id, std::string_view sha256, int64_t size,
                               std::string_view entrypoint, std::string_view document,
                               int64_t now) override {
        return write([&](Connection& db) -> Result<void> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            auto b = run(db,
                         "INSERT INTO bundles (sha256, size_bytes, created_at) VALUES (?, ?, ?)"
                         " ON CONFLICT (sha256) DO NOTHING",
                         {sha256, size, now});
            if (!b) return b;
            auto r = run(db,
                         "UPDATE agents SET bundle_sha256 = ?, entrypoint = ?, document = ?,"
                         " bundle_uploaded_at = ?, updated_at = ? WHERE id = ?"
                         " AND deleted_at IS NULL",
                         {sha256, entrypoint.empty() ? Value(Null{}) : Value(entrypoint),
                          document, now, now, agent_id});
            if (!r) return r;
            if (db.changes() == 0) return fail(ErrorCode::kNotFound, "agent not found");
            return tx->commit();
        });
    }

    // --- usage records --------------------------------------------------------------------
    Result<void> record_calls(const std::vector<UsageRecord>& records) override {
        return write([&](Connection& db) -> Result<void> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            for (const UsageRecord& r : records) {
                if (auto q = run(db, insert_usage_sql(), usage_values(r)); !q) return q;
                if (r.status != "running") {
                    if (auto c = count_in_rollups(db, r); !c) return c;
                }
            }
            return tx->commit();
        });
    }

    Result<StartOutcome> start_call(const UsageRecord& r, const CallStart& start) override {
        return write([&](Connection& db) -> Result<StartOutcome> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            StartOutcome out;
            const int64_t day = r.started_at / kDayMs;
            auto used = plan_usage_in(db, r.org_id, day);
            if (!used) return std::unexpected(used.error());
            if (start.calls_per_day > 0 && used->calls >= start.calls_per_day) {
                out.refusal = StartRefusal::kCallsPerDay;
                out.limit = start.calls_per_day;
                return out;
            }
            if (start.execution && start.executions_per_day > 0 &&
                used->executions >= start.executions_per_day) {
                out.refusal = StartRefusal::kExecutionsPerDay;
                out.limit = start.executions_per_day;
                return out;
            }
            UsageRecord record = r;
            record.status = "running";
            record.price_cents = start.price_cents;
            record.charge_state = start.price_cents > 0 ? "reserved" : "";
            if (start.price_cents > 0) {
                auto balance = balance_in(db, r.org_id);
                if (!balance) return std::unexpected(balance.error());
                out.balance_cents = *balance;
                if (*balance < start.price_cents) {
                    out.refusal = StartRefusal::kInsufficientCredits;
                    return out;
                }
                auto charged = append_credit(db, r.org_id, -start.price_cents, "charge", r.id,
                                             r.started_at);
                if (!charged) return std::unexpected(charged.error());
                out.balance_cents = charged->balance_after_cents;
            }
            auto counted = run(db,
                               "INSERT INTO plan_usage (org_id, day, calls, executions)"
                               " VALUES (?, ?, 1, ?) ON CONFLICT (org_id, day) DO UPDATE SET"
                               " calls = calls + 1, executions = executions + excluded.executions",
                               {r.org_id, day, int64_t(start.execution ? 1 : 0)});
            if (!counted) return std::unexpected(counted.error());
            if (auto q = run(db, insert_usage_sql(), usage_values(record)); !q) {
                return std::unexpected(q.error());
            }
            if (auto c = tx->commit(); !c) return std::unexpected(c.error());
            return out;
        });
    }

    Result<void> finish_call(const UsageRecord& r) override {
        return write([&](Connection& db) -> Result<void> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            if (auto f = finish_in(db, r); !f) return f;
            return tx->commit();
        });
    }

    Result<int64_t> fail_running_calls(std::string_view instance_id, int64_t now) override {
        return write([&](Connection& db) -> Result<int64_t> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            auto claims = run(db,
                              "DELETE FROM idempotency_keys WHERE state = 'running'"
                              " AND instance_id = ?",
                              {instance_id});
            if (!claims) return std::unexpected(claims.error());
            auto left = rows<UsageRecord>(
                db,
                fmt::format("SELECT {} FROM usage_records WHERE status = 'running'"
                            " AND instance_id = ?",
                            kUsageColumns),
                {instance_id}, usage_from);
            if (!left) return std::unexpected(left.error());
            for (UsageRecord& r : *left) {
                r.status = "error";
                r.error_code = "INTERNAL_ERROR";
                r.http_status = 500;
                r.completed_at = now;
                r.duration_ms = std::max<int64_t>(0, now - r.started_at);
                r.stderr_text = "the daemon stopped before the call was answered";
                if (auto f = finish_in(db, r); !f) return std::unexpected(f.error());
            }
            if (auto c = tx->commit(); !c) return std::unexpected(c.error());
            return static_cast<int64_t>(left->size());
        });
    }

    Result<std::optional<UsageRecord>> usage_record(std::string_view id) override {
        return read([&](Connection& db) {
            return one<UsageRecord>(
                db, fmt::format("SELECT {} FROM usage_records WHERE id = ?", kUsageColumns), {id},
                usage_from);
        });
    }

    Result<std::vector<UsageRecord>> list_runs(std::string_view agent_id, int limit) override {
        return read([&](Connection& db) {
            return rows<UsageRecord>(
                db,
                fmt::format("SELECT {} FROM usage_records WHERE agent_id = ?"
                            " ORDER BY started_at DESC, rowid DESC LIMIT ?",
                            kUsageColumns),
                {agent_id, int64_t(limit)}, usage_from);
        });
    }

    // --- usage queries --------------------------------------------------------------------
    Result<UsageTotals> usage_totals(std::string_view org_id, const UsageFilter& f) override {
        return read([&](Connection& db) -> Result<UsageTotals> {
            std::vector<Value> args;
            const std::string sql =
                narrow_enough(f)
                    ? fmt::format("SELECT {} FROM usage_narrow WHERE {}", kTotalsColumns,
                                  narrow_where(org_id, "day", f, kDayMs, args))
                    : fmt::format("SELECT {} FROM usage_by_day WHERE {}", kTotalsColumns,
                                  rollup_where(org_id, f, kDayMs, args));
            auto t = one<UsageTotals>(db, sql, args,
                                      [](const Query& q) { return totals_from(q, 0); });
            if (!t) return std::unexpected(t.error());
            return t->value_or(UsageTotals{});
        });
    }

    Result<std::vector<UsageBucket>> usage_timeseries(std::string_view org_id,
                                                      const UsageFilter& f,
                                                      int64_t interval_ms) override {
        const bool hourly = interval_ms < kDayMs;
        const int64_t period = hourly ? kHourMs : kDayMs;
        return read([&](Connection& db) {
            std::vector<Value> args;
            const std::string where =
                narrow_enough(f) ? narrow_where(org_id, hourly ? "hour" : "day", f, period, args)
                                 : rollup_where(org_id, f, period, args);
            const std::string_view table = narrow_enough(f) ? "usage_narrow"
                                           : hourly         ? "usage_by_hour"
                                                            : "usage_by_day";
            return rows<UsageBucket>(
                db,
                fmt::format("SELECT period, {} FROM {} WHERE {} GROUP BY period ORDER BY period",
                            kTotalsColumns, table, where),
                args, [](const Query& q) { return UsageBucket{q.int64(0), totals_from(q, 1)}; });
        });
    }

    Result<std::vector<UsageGroup>> usage_breakdown(std::string_view org_id, const UsageFilter& f,
                                                    UsageDimension by, int limit) override {
        // Each dimension: its key and grouping in the wide table, then in the narrow one.
        struct Shape {
            std::string_view key, group, agent_id;
        };
        Shape wide{"agent_name", "agent_name", "max(agent_id)"};
        Shape narrow{"agent_name", "agent_name", "max(key)"};
        std::string_view dim = "day:agent";
        switch (by) {
            case UsageDimension::kAgent: break;
            case UsageDimension::kVersion:
                wide = {"agent_name || '@' || version", "agent_id", "max(agent_id)"};
                narrow = {"agent_name || '@' || version", "key", "max(key)"};
                break;
            case UsageDimension::kEndpoint:
                wide = {"endpoint", "endpoint", "''"};
                narrow = {"key", "key", "''"};
                dim = "day:endpoint";
                break;
            case UsageDimension::kTenant:
                wide = {"tenant", "tenant", "''"};
                narrow = {"key", "key", "''"};
                dim = "day:tenant";
                break;
            case UsageDimension::kStatus:
                wide = {"status", "status", "''"};
                narrow = {"status", "status", "''"};
                dim = "day";
                break;
        }
        return read([&](Connection& db) {
            std::vector<Value> args;
            const bool use_narrow = narrow_enough(f);
            const Shape& shape = use_narrow ? narrow : wide;
            const std::string where = use_narrow ? narrow_where(org_id, dim, f, kDayMs, args)
                                                 : rollup_where(org_id, f, kDayMs, args);
            args.emplace_back(int64_t(limit));
            return rows<UsageGroup>(
                db,
                fmt::format("SELECT {}, {}, {} FROM {} WHERE {} GROUP BY {}"
                            " ORDER BY sum(calls) DESC, 1 LIMIT ?",
                            shape.key, shape.agent_id, kTotalsColumns,
                            use_narrow ? "usage_narrow" : "usage_by_day", where, shape.group),
                args, [](const Query& q) {
                    return UsageGroup{q.text(0), q.text(1), totals_from(q, 2)};
                });
        });
    }

    Result<std::vector<UsageRecord>> usage_logs(std::string_view org_id, const UsageFilter& f,
                                                const std::optional<LogCursor>& cursor,
                                                int limit) override {
        return read([&](Connection& db) {
            // With a cursor the range ends at it: SQLite then walks the index from there
            // instead of testing the cursor on every newer record.
            const int64_t to = cursor ? std::min(f.to_ms, cursor->started_at + 1) : f.to_ms;
            std::vector<Value> args{org_id, f.from_ms, to};
            std::string where = "org_id = ? AND started_at >= ? AND started_at < ?";
            if (!f.agent.empty()) {
                where += " AND agent_name = ?";
                args.emplace_back(f.agent);
            }
            if (!f.tenant.empty()) {
                where += " AND tenant = ?";
                args.emplace_back(f.tenant);
            }
            if (!f.status.empty()) {
                where += " AND status = ?";
                args.emplace_back(f.status);
            }
            if (cursor) {
                where += " AND (started_at < ? OR (started_at = ? AND id < ?))";
                args.emplace_back(cursor->started_at);
                args.emplace_back(cursor->started_at);
                args.emplace_back(cursor->id);
            }
            args.emplace_back(int64_t(limit));
            return rows<UsageRecord>(
                db,
                fmt::format("SELECT {} FROM usage_records WHERE {}"
                            " ORDER BY started_at DESC, id DESC LIMIT ?",
                            kUsageColumns, where),
                args, usage_from);
        });
    }

    Result<PlanUsage> plan_usage(std::string_view org_id, int64_t day) override {
        return read([&](Connection& db) { return plan_usage_in(db, org_id, day); });
    }

    // --- idempotency keys -----------------------------------------------------------------
    Result<IdempotencyState> claim_idempotency(std::string_view org_id, std::string_view key,
                                               std::string_view hash, std::string_view instance,
                                               int64_t now, int64_t expired_before) override {
        return write([&](Connection& db) -> Result<IdempotencyState> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            auto gone = run(db,
                            "DELETE FROM idempotency_keys WHERE org_id = ? AND key = ?"
                            " AND created_at < ?",
                            {org_id, key, expired_before});
            if (!gone) return std::unexpected(gone.error());
            struct Row {
                std::string hash, state;
                StoredResponse response;
            };
            auto row = one<Row>(db,
                                "SELECT request_hash, state, status, headers, body"
                                " FROM idempotency_keys WHERE org_id = ? AND key = ?",
                                {org_id, key}, [](const Query& q) {
                                    return Row{q.text(0), q.text(1),
                                               {static_cast<int>(q.int64(2)), q.text(3), q.text(4)}};
                                });
            if (!row) return std::unexpected(row.error());
            IdempotencyState state;
            if (*row) {
                if ((*row)->hash != hash) {
                    state.claim = IdempotencyClaim::kMismatch;
                } else if ((*row)->state == "running") {
                    state.claim = IdempotencyClaim::kInProgress;
                } else {
                    state.claim = IdempotencyClaim::kReplay;
                    state.response = std::move((*row)->response);
                }
                return state;
            }
            auto ins = run(db,
                           "INSERT INTO idempotency_keys (org_id, key, request_hash, state,"
                           " status, headers, body, instance_id, created_at)"
                           " VALUES (?, ?, ?, 'running', 0, '[]', '', ?, ?)",
                           {org_id, key, hash, instance, now});
            if (!ins) return std::unexpected(ins.error());
            if (auto c = tx->commit(); !c) return std::unexpected(c.error());
            return state;
        });
    }

    Result<void> complete_idempotency(std::string_view org_id, std::string_view key,
                                      const StoredResponse& r) override {
        return write([&](Connection& db) {
            return run(db,
                       "UPDATE idempotency_keys SET state = 'done', status = ?, headers = ?,"
                       " body = ? WHERE org_id = ? AND key = ?",
                       {int64_t(r.status), r.headers, r.body, org_id, key});
        });
    }

    Result<void> release_idempotency(std::string_view org_id, std::string_view key) override {
        return write([&](Connection& db) {
            return run(db,
                       "DELETE FROM idempotency_keys WHERE org_id = ? AND key = ?"
                       " AND state = 'running'",
                       {org_id, key});
        });
    }

    // --- credits ---------------------------------------------------------------------------
    Result<CreditTransaction> add_credit(std::string_view org_id, int64_t amount,
                                         std::string_view type, std::string_view reference,
                                         int64_t now) override {
        return write([&](Connection& db) -> Result<CreditTransaction> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            auto t = append_credit(db, org_id, amount, type, reference, now);
            if (!t) return t;
            if (auto c = tx->commit(); !c) return std::unexpected(c.error());
            return t;
        });
    }

    Result<int64_t> balance(std::string_view org_id) override {
        return read([&](Connection& db) { return balance_in(db, org_id); });
    }

    Result<std::vector<std::pair<int64_t, CreditTransaction>>> list_transactions(
        std::string_view org_id, int64_t before_seq, int limit) override {
        return read([&](Connection& db) {
            return rows<std::pair<int64_t, CreditTransaction>>(
                db,
                "SELECT seq, id, org_id, amount_cents, balance_after_cents, type, reference_id,"
                " created_at FROM credit_transactions WHERE org_id = ? AND seq < ?"
                " ORDER BY seq DESC LIMIT ?",
                {org_id, before_seq > 0 ? before_seq : INT64_MAX, int64_t(limit)},
                [](const Query& q) {
                    return std::pair(q.int64(0), CreditTransaction{.id = q.text(1),
                                                                   .org_id = q.text(2),
                                                                   .amount_cents = q.int64(3),
                                                                   .balance_after_cents = q.int64(4),
                                                                   .type = q.text(5),
                                                                   .reference_id = q.text(6),
                                                                   .created_at = q.int64(7)});
                });
        });
    }

    // --- payments --------------------------------------------------------------------------
    Result<void> create_checkout(const CheckoutSession& c) override {
        return write([&](Connection& db) {
            return run(db,
                       "INSERT INTO checkout_sessions (id, org_id, amount_cents, status,"
                       " created_at) VALUES (?, ?, ?, 'open', ?)",
                       {c.id, c.org_id, c.amount_cents, c.created_at});
        });
    }

    Result<PaymentResult> complete_checkout(std::string_view event_id, std::string_view type,
                                            const CheckoutSession& paid, int64_t now) override {
        return write([&](Connection& db) -> Result<PaymentResult> {
            auto tx = Transaction::begin(db);
            if (!tx) return std::unexpected(tx.error());
            PaymentResult out;
            auto seen = one<int64_t>(db, "SELECT 1 FROM payment_events WHERE id = ?", {event_id},
                                     [](const Query& q) { return q.int64(0); });
            if (!seen) return std::unexpected(seen.error());
            if (*seen) {
                out.outcome = PaymentOutcome::kDuplicate;
                return out;
            }
            auto mark = run(db,
                            "INSERT INTO payment_events (id, type, session_id, received_at)"
                            " VALUES (?, ?, ?, ?)",
                            {event_id, type, paid.id, now});
            if (!mark) return std::unexpected(mark.error());
            auto status = one<std::string>(db, "SELECT status FROM checkout_sessions WHERE id = ?",
                                           {paid.id}, [](const Query& q) { return q.text(0); });
            if (!status) return std::unexpected(status.error());
            auto org = one<int64_t>(db, "SELECT 1 FROM orgs WHERE id = ?", {paid.org_id},
                                    [](const Query& q) { return q.int64(0); });
            if (!org) return std::unexpected(org.error());
            if (*status == "completed") {
                out.outcome = PaymentOutcome::kDuplicate;
            } else if (!*org) {
                out.outcome = PaymentOutcome::kUnknownOrg;
            } else {
                auto done = *status ? run(db,
                                          "UPDATE checkout_sessions SET status = 'completed',"
                                          " completed_at = ? WHERE id = ?",
                                          {now, paid.id})
                                    : run(db,
                                          "INSERT INTO checkout_sessions (id, org_id, amount_cents,"
                                          " status, created_at, completed_at)"
                                          " VALUES (?, ?, ?, 'completed', ?, ?)",
                                          {paid.id, paid.org_id, paid.amount_cents, now, now});
                if (!done) return std::unexpected(done.error());
                auto t = append_credit(db, paid.org_id, paid.amount_cents, "topup", paid.id, now);
                if (!t) return std::unexpected(t.error());
                out.transaction = std::move(*t);
            }
            if (auto c = tx->commit(); !c) return std::unexpected(c.error());
            return out;
        });
    }

  private:
    SqliteStore() = default;

    static constexpr int64_t kHourMs = 3'600'000;
    static constexpr int64_t kDayMs = 86'400'000;
    static constexpr std::string_view kTotalsColumns =
        "sum(calls), sum(CASE WHEN status = 'success' THEN calls ELSE 0 END),"
        " sum(CASE WHEN status = 'error' THEN calls ELSE 0 END),"
        " sum(CASE WHEN status = 'timeout' THEN calls ELSE 0 END), sum(executions),"
        " sum(duration_ms), sum(execution_ms), sum(cpu_ms), sum(gb_seconds)";

    static UsageTotals totals_from(const Query& q, int first) {
        return UsageTotals{.calls = q.int64(first),
                           .successes = q.int64(first + 1),
                           .errors = q.int64(first + 2),
                           .timeouts = q.int64(first + 3),
                           .executions = q.int64(first + 4),
                           .duration_ms = q.int64(first + 5),
                           .execution_ms = q.int64(first + 6),
                           .cpu_ms = q.int64(first + 7),
                           .gb_seconds = q.real(first + 8)};
    }

    // The WHERE clause of a rollup query: the org, whole periods of `period_ms` covering
    // [from, to), and the filters.
    static std::string rollup_where(std::string_view org_id, const UsageFilter& f,
                                    int64_t period_ms, std::vector<Value>& args) {
        std::string where = "org_id = ? AND period >= ? AND period < ?";
        args.emplace_back(org_id);
        args.emplace_back(f.from_ms / period_ms * period_ms);
        args.emplace_back((f.to_ms + period_ms - 1) / period_ms * period_ms);
        if (!f.agent.empty()) {
            where += " AND agent_name = ?";
            args.emplace_back(std::string_view(f.agent));
        }
        if (!f.tenant.empty()) {
            where += " AND tenant = ?";
            args.emplace_back(std::string_view(f.tenant));
        }
        if (!f.status.empty()) {
            where += " AND status = ?";
            args.emplace_back(std::string_view(f.status));
        }
        return where;
    }

    // Unfiltered by agent and tenant: the narrow rollups answer (a status filter is fine).
    static bool narrow_enough(const UsageFilter& f) { return f.agent.empty() && f.tenant.empty(); }

    // The WHERE clause over usage_narrow's rows of one dimension.
    static std::string narrow_where(std::string_view org_id, std::string_view dim,
                                    const UsageFilter& f, int64_t period_ms,
                                    std::vector<Value>& args) {
        std::string where = "org_id = ? AND dim = ? AND period >= ? AND period < ?";
        args.emplace_back(org_id);
        args.emplace_back(dim);
        args.emplace_back(f.from_ms / period_ms * period_ms);
        args.emplace_back((f.to_ms + period_ms - 1) / period_ms * period_ms);
        if (!f.status.empty()) {
            where += " AND status = ?";
            args.emplace_back(std::string_view(f.status));
        }
        return where;
    }

    static std::string insert_usage_sql() {
        return fmt::format("INSERT INTO usage_records ({}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           kUsageColumns);
    }

    // An upsert's update: one more call and its sums.
    static constexpr std::string_view kAddSums =
        " calls = calls + 1, executions = executions + excluded.executions,"
        " duration_ms = duration_ms + excluded.duration_ms,"
        " execution_ms = execution_ms + excluded.execution_ms,"
        " cpu_ms = cpu_ms + excluded.cpu_ms, gb_seconds = gb_seconds + excluded.gb_seconds";

    static std::string wide_upsert(std::string_view table) {
        return fmt::format("INSERT INTO {} (org_id, period, agent_id, agent_name, version,"
                           " endpoint, tenant, status, calls, executions, duration_ms,"
                           " execution_ms, cpu_ms, gb_seconds)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"
                           " ON CONFLICT (org_id, period, agent_id, endpoint, tenant, status)"
                           " DO UPDATE SET{}",
                           table, kAddSums);
    }

    // Adds a finished record to the hourly and daily rollups, wide and narrow.
    static Result<void> count_in_rollups(Connection& db, const UsageRecord& r) {
        const double gb_seconds = static_cast<double>(r.peak_memory_bytes) / (1024.0 * 1024 * 1024) *
                                  static_cast<double>(r.execution_ms) / 1000.0;
        static const std::string wide[] = {wide_upsert("usage_by_hour"), wide_upsert("usage_by_day")};
        for (const auto& [sql, period_ms] :
             {std::pair<const std::string&, int64_t>{wide[0], kHourMs}, {wide[1], kDayMs}}) {
            auto q = run(db, sql,
                         {r.org_id, r.started_at / period_ms * period_ms, r.agent_id, r.agent_name,
                          r.version, r.endpoint, r.tenant, r.status, int64_t(r.executed ? 1 : 0),
                          r.duration_ms, r.execution_ms, r.cpu_ms, gb_seconds});
            if (!q) return q;
        }
        static const std::string narrow = fmt::format(
            "INSERT INTO usage_narrow (org_id, dim, period, key, agent_name, version, status,"
            " calls, executions, duration_ms, execution_ms, cpu_ms, gb_seconds)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"
            " ON CONFLICT (org_id, dim, period, key, status) DO UPDATE SET{}",
            kAddSums);
        struct Narrow {
            std::string_view dim;
            int64_t period_ms;
            std::string_view key;
        };
        for (const Narrow& n : {Narrow{"hour", kHourMs, ""}, Narrow{"day", kDayMs, ""},
                                Narrow{"day:agent", kDayMs, r.agent_id},
                                Narrow{"day:tenant", kDayMs, r.tenant},
                                Narrow{"day:endpoint", kDayMs, r.endpoint}}) {
            const bool agent = n.dim == "day:agent";
            auto q = run(db, narrow,
                         {r.org_id, n.dim, r.started_at / n.period_ms * n.period_ms, n.key,
                          std::string_view(agent ? r.agent_name : ""),
                          std::string_view(agent ? r.version : ""), r.status,
                          int64_t(r.executed ? 1 : 0), r.duration_ms, r.execution_ms, r.cpu_ms,
                          gb_seconds});
            if (!q) return q;
        }
        return {};
    }

    // Finishes a running record inside the caller's transaction: the outcome, the rollups,
    // and the settlement of a reserved price. A record no longer running is left alone.
    static Result<void> finish_in(Connection& db, const UsageRecord& r) {
        const bool paid_off = r.status == "success";
        // What was reserved comes back from the row itself, not from the caller.
        auto stored = one<std::tuple<std::string, std::string, int64_t, std::string>>(
            db,
            "UPDATE usage_records SET status = ?, error_code = ?, http_status = ?,"
            " completed_at = ?, duration_ms = ?, execution_ms = ?, cpu_ms = ?,"
            " peak_memory_bytes = ?, exit_code = ?, stdout = ?, stderr = ?, executed = ?,"
            " charge_state = CASE charge_state WHEN 'reserved' THEN ? ELSE charge_state END"
            " WHERE id = ? AND status = 'running'"
            " RETURNING org_id, agent_org_id, price_cents, charge_state",
            {r.status, r.error_code, int64_t(r.http_status), opt(r.completed_at), r.duration_ms,
             r.execution_ms, r.cpu_ms, r.peak_memory_bytes,
             r.exit_code ? Value(int64_t(*r.exit_code)) : Value(Null{}), r.stdout_text,
             r.stderr_text, int64_t(r.executed ? 1 : 0),
             std::string_view(paid_off ? "charged" : "refunded"), r.id},
            [](const Query& row) {
                return std::tuple(row.text(0), row.text(1), row.int64(2), row.text(3));
            });
        if (!stored) return std::unexpected(stored.error());
        if (!*stored) return fail(ErrorCode::kNotFound, "no running usage record " + r.id);
        const auto& [payer, earner, price, state] = **stored;
        UsageRecord counted = r;
        counted.org_id = payer;
        if (auto c = count_in_rollups(db, counted); !c) return c;
        if (price > 0 && state == "charged") {
            const int64_t at = r.completed_at.value_or(r.started_at);
            if (auto t = append_credit(db, earner, price, "earning", r.id, at); !t) {
                return std::unexpected(t.error());
            }
        } else if (price > 0 && state == "refunded") {
            const int64_t at = r.completed_at.value_or(r.started_at);
            if (auto t = append_credit(db, payer, price, "refund", r.id, at); !t) {
                return std::unexpected(t.error());
            }
        }
        return {};
    }

    static Result<PlanUsage> plan_usage_in(Connection& db, std::string_view org_id, int64_t day) {
        auto u = one<PlanUsage>(db,
                                "SELECT calls, executions FROM plan_usage WHERE org_id = ?"
                                " AND day = ?",
                                {org_id, day},
                                [](const Query& q) { return PlanUsage{q.int64(0), q.int64(1)}; });
        if (!u) return std::unexpected(u.error());
        return u->value_or(PlanUsage{});
    }

    // Appends a ledger row inside the caller's transaction.
    static Result<CreditTransaction> append_credit(Connection& db, std::string_view org_id,
                                                   int64_t amount, std::string_view type,
                                                   std::string_view reference, int64_t now) {
        CreditTransaction t{.id = new_id("txn"),
                            .org_id = std::string(org_id),
                            .amount_cents = amount,
                            .type = std::string(type),
                            .reference_id = std::string(reference),
                            .created_at = now};
        auto before = balance_in(db, org_id);
        if (!before) return std::unexpected(before.error());
        t.balance_after_cents = *before + amount;
        auto ins = run(db,
                       "INSERT INTO credit_transactions (id, org_id, amount_cents,"
                       " balance_after_cents, type, reference_id, created_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)",
                       {t.id, org_id, amount, t.balance_after_cents, type, reference, now});
        if (!ins) return std::unexpected(ins.error());
        return t;
    }

    static std::vector<Value> usage_values(const UsageRecord& r) {
        return {r.id, r.request_id, r.org_id, r.key_id, r.tenant, r.agent_id, r.agent_org_id,
                r.agent_name, r.version, r.endpoint, r.status, r.error_code,
                int64_t(r.http_status), r.started_at, opt(r.completed_at), r.duration_ms,
                r.execution_ms, r.cpu_ms, r.peak_memory_bytes,
                r.exit_code ? Value(int64_t(*r.exit_code)) : Value(Null{}), r.stdout_text,
                r.stderr_text, r.instance_id, int64_t(r.executed ? 1 : 0), r.skills,
                r.parent_run_id, r.price_cents, r.charge_state};
    }

    static std::string agent_sql(std::string_view where) {
        return fmt::format("SELECT {}{}", kAgentColumns, where);
    }

    static std::unexpected<Error> conflict_as(const Error& e, std::string message) {
        if (e.code() == ErrorCode::kConflict) return fail(ErrorCode::kConflict, std::move(message));
        return std::unexpected(e);
    }

    static Result<void> insert_workspace(Connection& db, const Workspace& w) {
        auto r = run(db,
                     "INSERT INTO workspaces (id, org_id, name, slug, created_at)"
                     " VALUES (?, ?, ?, ?, ?)",
                     {w.id, w.org_id, w.name, w.slug, w.created_at});
        if (!r) return conflict_as(r.error(), fmt::format("workspace '{}' exists", w.slug));
        return {};
    }

    static Result<void> insert_key(Connection& db, std::string_view org_id, const NewKey& k,
                                   int64_t now) {
        return run(db,
                   "INSERT INTO api_keys (id, org_id, name, prefix, key_hash, created_at)"
                   " VALUES (?, ?, ?, ?, ?, ?)",
                   {k.id, org_id, k.name, k.prefix, k.hash, now});
    }

    static Result<int64_t> balance_in(Connection& db, std::string_view org_id) {
        auto b = one<int64_t>(db,
                              "SELECT balance_after_cents FROM credit_transactions"
                              " WHERE org_id = ? ORDER BY seq DESC LIMIT 1",
                              {org_id}, [](const Query& q) { return q.int64(0); });
        if (!b) return std::unexpected(b.error());
        return b->value_or(0);
    }

    template <typename F>
    auto write(F&& f) -> decltype(f(std::declval<Connection&>())) {
        std::lock_guard lock(writer_mutex_);
        return f(*writer_);
    }

    // Any free reader; the thread's own one if all are busy.
    template <typename F>
    auto read(F&& f) -> decltype(f(std::declval<Connection&>())) {
        static std::atomic<size_t> next{0};
        thread_local size_t mine = next++ % kReaders;
        for (size_t i = 0; i < kReaders; ++i) {
            const size_t k = (mine + i) % kReaders;
            std::unique_lock lock(reader_mutex_[k], std::try_to_lock);
            if (lock) return f(*readers_[k]);
        }
        std::lock_guard lock(reader_mutex_[mine]);
        return f(*readers_[mine]);
    }

    std::mutex writer_mutex_;
    std::unique_ptr<Connection> writer_;
    std::mutex reader_mutex_[kReaders];
    std::unique_ptr<Connection> readers_[kReaders];
};

}  // namespace

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
    constexpr std::string_view kSqlite = "sqlite://";
    if (url.starts_with(kSqlite)) {
        const std::string path = url.substr(kSqlite.size());
        if (path.empty()) return fail(ErrorCode::kInvalidInput, "store URL: no file after sqlite://");
        return SqliteStore::open(path);
    }
    if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        return fail(ErrorCode::kInvalidInput,
                    "store URL: the PostgreSQL backend is not built yet; use sqlite://FILE");
    }
    return fail(ErrorCode::kInvalidInput,
                fmt::format("store URL '{}': expected sqlite://FILE or postgresql://...", url));
}

}  // namespace orchagent::store
