#include "runtime/store/sqlite_db.hpp"

#include <fmt/format.h>

namespace orchagent::store::sqlite {

Error sqlite_error(sqlite3* db, std::string_view what) {
    const int code = db ? sqlite3_extended_errcode(db) : SQLITE_ERROR;
    const std::string message =
        fmt::format("store: {}: {}", what, db ? sqlite3_errmsg(db) : "no connection");
    switch (code & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return Error(ErrorCode::kServiceUnavailable, message).with_retryable(true);
        case SQLITE_CONSTRAINT:
            return Error(ErrorCode::kConflict, message);
        default:
            return Error(ErrorCode::kInternalError, message);
    }
}

Query::~Query() {
    if (!stmt_) return;
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

Result<void> Query::bind(const std::vector<Value>& values) {
    int i = 1;
    for (const auto& v : values) {
        int rc = SQLITE_OK;
        if (std::holds_alternative<Null>(v)) {
            rc = sqlite3_bind_null(stmt_, i);
        } else if (auto* n = std::get_if<int64_t>(&v)) {
            rc = sqlite3_bind_int64(stmt_, i, *n);
        } else if (auto* d = std::get_if<double>(&v)) {
            rc = sqlite3_bind_double(stmt_, i, *d);
        } else {
            auto s = std::get<std::string_view>(v);
            rc = sqlite3_bind_text64(stmt_, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        }
        if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, "bind"));
        ++i;
    }
    return {};
}

Result<bool> Query::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return std::unexpected(sqlite_error(db_, sqlite3_sql(stmt_)));
}

Result<void> Query::run() {
    for (;;) {
        auto more = step();
        if (!more) return std::unexpected(more.error());
        if (!*more) return {};
    }
}

std::string Query::text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    const int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(p, static_cast<size_t>(n)) : std::string();
}

std::optional<int64_t> Query::opt_int64(int col) const {
    if (is_null(col)) return std::nullopt;
    return int64(col);
}

std::optional<std::string> Query::opt_text(int col) const {
    if (is_null(col)) return std::nullopt;
    return text(col);
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, bool read_only) {
    sqlite3* db = nullptr;
    const int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                      SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    std::unique_ptr<Connection> connection(new Connection(db));
    if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db, fmt::format("open '{}'", path)));
    // busy_timeout: a writer waits for another (another daemon on the same file, or a
    // checkpoint) instead of failing at once.
    sqlite3_busy_timeout(db, 5000);
    const char* pragmas = read_only ? "PRAGMA foreign_keys=ON; PRAGMA query_only=ON;"
                                    : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                                      " PRAGMA foreign_keys=ON;";
    if (auto r = connection->exec(pragmas); !r) return std::unexpected(r.error());
    return connection;
}

Connection::~Connection() {
    for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
}

Result<Query> Connection::query(std::string_view sql, const std::vector<Value>& values) {
    auto it = statements_.find(sql);
    if (it == statements_.end()) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                               SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
            return std::unexpected(sqlite_error(db_, fmt::format("prepare '{}'", sql)));
        }
        it = statements_.emplace(std::string(sql), stmt).first;
    }
    Result<Query> q(std::in_place, db_, it->second);
    if (auto r = q->bind(values); !r) return std::unexpected(r.error());
    return q;
}

Result<void> Connection::exec(const std::string& sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
        Error e = sqlite_error(db_, "exec");
        sqlite3_free(message);
        return std::unexpected(e);
    }
    return {};
}

Result<Transaction> Transaction::begin(Connection& connection) {
    if (auto r = connection.exec("BEGIN IMMEDIATE"); !r) return std::unexpected(r.error());
    return Transaction(connection);
}

Transaction::~Transaction() {
    if (connection_) (void)connection_->exec("ROLLBACK");
}

Result<void> Transaction::commit() {
    auto r = connection_->exec("COMMIT");
    if (r) connection_ = nullptr;
    return r;
}

}  // namespace orchagent::store::sqlite
