#include "manifest/field_error.hpp"

namespace orchagent::manifest {

std::string FieldError::to_string() const {
    if (path.empty()) return message;
    return path + ": " + message;
}

nlohmann::json FieldWarning::to_json() const {
    return nlohmann::json{{"code", code}, {"field", field}, {"message", message}};
}

std::string join_path(std::string_view base, std::string_view child) {
    std::string out(base);
    if (!out.empty() && !child.empty() && child.front() != '[') out += '.';
    out += child;
    return out;
}

std::string join_errors(const std::vector<FieldError>& errors, std::string_view prefix) {
    std::string out;
    for (const FieldError& e : errors) {
        if (!out.empty()) out += "; ";
        FieldError shown{join_path(prefix, e.path), e.message};
        out += shown.to_string();
    }
    return out;
}

}  // namespace orchagent::manifest
