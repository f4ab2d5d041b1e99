#pragma once

#include "runtime/store/sqlite_db.hpp"

namespace orchagent::store::sqlite {

// Applies the migrations not yet recorded in schema_migrations; returns how many ran.
Result<int> migrate(Connection& db);
int latest_schema_version();

}  // namespace orchagent::store::sqlite
