// The JSON error envelope every error response carries:
//   {"error":{"code":"NOT_FOUND","message":"...","is_retryable":false},
//    "metadata":{"request_id":"req_..."}}
// with the HTTP status from error_info(), the one code -> status table.
#pragma once

#include <string_view>

#include "api/http/types.hpp"
#include "core/error.hpp"

namespace orchagent::http {

// 429 and 503 carry Retry-After (seconds) when the error is retryable.
Response error_response(const Error& error, std::string_view request_id);
Response error_response(const Error& error, std::string_view request_id,
                        std::string_view retry_after_seconds);

}  // namespace orchagent::http
