// Request's look-ups. Header names are stored lower-cased, so a case-insensitive compare
// against the caller's spelling is enough.
#include <strings.h>

#include "api/http/types.hpp"

namespace orchagent::http {

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key.size() == name.size() && strncasecmp(key.data(), name.data(), key.size()) == 0) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return std::string_view(value);
    }
    return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
    for (const auto& [key, value] : params) {
        if (key == name) return value;
    }
    return {};
}

}  // namespace orchagent::http
