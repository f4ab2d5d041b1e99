#include "api/http/envelope.hpp"

#include <nlohmann/json.hpp>

namespace orchagent::http {

Response error_response(const Error& error, std::string_view request_id) {
    return error_response(error, request_id, "1");
}

Response error_response(const Error& error, std::string_view request_id,
                        std::string_view retry_after_seconds) {
    const nlohmann::json body = {{"error",
                                  {{"code", error.info().code},
                                   {"message", error.message()},
                                   {"is_retryable", error.retryable()}}},
                                 {"metadata", {{"request_id", request_id}}}};
    Response response;
    response.status = error.http_status();
    // Messages can quote user input: replace invalid UTF-8 rather than throw.
    response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if ((response.status == 429 || response.status == 503) && error.retryable()) {
        response.header("Retry-After", std::string(retry_after_seconds));
    }
    return response;
}

}  // namespace orchagent::http
