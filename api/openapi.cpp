#include "api/openapi.hpp"

namespace orchagent::api {

std::string_view openapi_document() { return {detail::kOpenapiJson, detail::kOpenapiJsonSize}; }

}  // namespace orchagent::api
