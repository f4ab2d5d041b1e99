// A problem found in a document, named by the field it concerns.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace orchagent::manifest {

// `path` is dotted with [i] for array items ("runtime.command", "tags[2]",
// "manifest.dependencies[0].id"); empty for the document itself.
struct FieldError {
    std::string path;
    std::string message;

    // "runtime.command: must be a string", or the message alone when the path is empty.
    std::string to_string() const;
    bool operator==(const FieldError&) const = default;
};

// A warning in the shape of the envelope's `warnings` entries: {code, field, message}.
struct FieldWarning {
    std::string code;  // DEPRECATED_FIELD, UNKNOWN_FIELD, ...
    std::string field;
    std::string message;

    nlohmann::json to_json() const;
    bool operator==(const FieldWarning&) const = default;
};

// Joins errors with "; ", each as "prefix.path: message" (prefix may be empty).
std::string join_errors(const std::vector<FieldError>& errors, std::string_view prefix = {});

// "a" + "b" -> "a.b"; "" + "b" -> "b"; "a" + "[0]" -> "a[0]".
std::string join_path(std::string_view base, std::string_view child);

}  // namespace orchagent::manifest
