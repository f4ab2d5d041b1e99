// JSON Schema (draft-07) through valijson: checking that a schema compiles, and validating a
// value against one with errors that name the failing field. Compiled schemas are cached.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/error.hpp"
#include "manifest/field_error.hpp"

namespace orchagent::manifest {

// Limits on 'pattern' / 'patternProperties' (libstdc++'s std::regex recurses per character
// and per group level, so long subjects or deep patterns would overflow the stack).
inline constexpr std::size_t kMaxPatternBytes = 512;
inline constexpr int kMaxPatternGroupDepth = 4;
inline constexpr int kMaxPatternRepeat = 100;  // {n,m} bounds
inline constexpr std::size_t kMaxPatternSubjectBytes = 512;

// Compiles `schema` as draft-07. Fails with INVALID_INPUT saying why (unknown type name,
// bad regex, remote $ref, unresolvable $ref, ...). Remote references are never fetched.
Result<void> check_schema(const nlohmann::json& schema);

// Validates `value` against `schema`. The result lists every failure with its field path
// relative to the value ("file_url: is required", "items[2].id: must be of type integer,
// got string"), empty when the value conforms. Fails only when the schema does not compile.
// When the value holds a string (or object key) longer than kMaxPatternSubjectBytes, pattern
// and patternProperties are not checked at all and *patterns_skipped is set (report a
// VALIDATION_SKIPPED warning).
Result<std::vector<FieldError>> validate_against_schema(const nlohmann::json& schema,
                                                        const nlohmann::json& value,
                                                        bool* patterns_skipped = nullptr);

// How many compiled schemas the cache holds (for tests).
std::size_t schema_cache_size();

}  // namespace orchagent::manifest
