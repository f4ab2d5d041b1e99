// The OpenAPI 3.1 document that GET /openapi.json serves: api/openapi.json, the hand-written
// description of every route the router has, embedded into the binary at build time (the
// generated openapi_document.cpp, api/CMakeLists.txt). tests/e2e/openapi_routes_test.cpp
// checks that its paths and the router's table agree; ctest openapi_lint validates it.
#pragma once

#include <cstddef>
#include <string_view>

namespace orchagent::api {

// The document's bytes exactly as in api/openapi.json (pretty-printed JSON, UTF-8).
std::string_view openapi_document();

namespace detail {
// Defined in the generated openapi_document.cpp; use openapi_document().
extern const char kOpenapiJson[];
extern const std::size_t kOpenapiJsonSize;
}  // namespace detail

}  // namespace orchagent::api
