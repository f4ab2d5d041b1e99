// A thin owner of SQLite connections and prepared statements, private to the SQLite store.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace orchagent::store::sqlite {

struct Null {};
// A value bound to a `?` parameter.
using Value = std::variant<Null, int64_t, double, std::string_view>;

inline Value opt(const std::optional<int64_t>& v) { return v ? Value(*v) : Value(Null{}); }
inline Value opt(const std::optional<std::string>& v) {
    return v ? Value(std::string_view(*v)) : Value(Null{});
}

// One prepared statement in use: bound on construction, reset on destruction.
class Query {
  public:
    Query(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
    Query(Query&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query();

    Result<void> bind(const std::vector<Value>& values);
    // True while there is a row; false when done.
    Result<bool> step();
    // Runs to completion (INSERT/UPDATE/DELETE).
    Result<void> run();

    int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
    double real(int col) const { return sqlite3_column_double(stmt_, col); }
    bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
    std::string text(int col) const;
    std::optional<int64_t> opt_int64(int col) const;
    std::optional<std::string> opt_text(int col) const;

  private:
    sqlite3* db_;
    sqlite3_stmt* stmt_;
};

// One connection with its statement cache. Not thread-safe: the store guards each with a
// mutex.
class Connection {
  public:
    static Result<std::unique_ptr<Connection>> open(const std::string& path, bool read_only);
    ~Connection();

    // Prepared once per connection, then reused.
    Result<Query> query(std::string_view sql, const std::vector<Value>& values = {});
    // Runs SQL text without parameters (migrations, BEGIN/COMMIT).
    Result<void> exec(const std::string& sql);
    int64_t changes() const { return sqlite3_changes64(db_); }
    sqlite3* handle() const { return db_; }

  private:
    explicit Connection(sqlite3* db) : db_(db) {}
    sqlite3* db_;
    std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

// An error from the connection's last failure: SQLITE_BUSY becomes SERVICE_UNAVAILABLE
// (retryable), a constraint violation CONFLICT, anything else INTERNAL_ERROR.
Error sqlite_error(sqlite3* db, std::string_view what);

// BEGIN IMMEDIATE .. COMMIT, rolled back unless commit() succeeded.
class Transaction {
  public:
    static Result<Transaction> begin(Connection& connection);
    Transaction(Transaction&& other) noexcept : connection_(other.connection_) {
        other.connection_ = nullptr;
    }
    Transaction(const Transaction&) = delete;
    ~Transaction();
    Result<void> commit();

  private:
    explicit Transaction(Connection& connection) : connection_(&connection) {}
    Connection* connection_;
};

}  // namespace orchagent::store::sqlite
