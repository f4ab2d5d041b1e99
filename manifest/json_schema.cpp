// valijson throws (instead of aborting) only when this is set before its headers.
#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#endif

#include "manifest/json_schema.hpp"

#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <unordered_map>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "manifest/json_limits.hpp"

namespace orchagent::manifest {
namespace {

using SchemaPtr = std::shared_ptr<const valijson::Schema>;

constexpr std::size_t kCacheMaxEntries = 256;
constexpr std::size_t kCacheMaxBytes = 16 * 1024 * 1024;
constexpr int kMaxValueDepth = 256;

// Compiled schemas by their serialised text. Cleared when full: schemas come from agents,
// which are few, so a smarter eviction buys nothing.
struct SchemaCache {
    std::mutex mutex;
    std::unordered_map<std::string, SchemaPtr> by_text;
    std::size_t bytes = 0;
};

SchemaCache& cache() {
    static SchemaCache instance;
    return instance;
}

std::optional<std::string> bad_pattern(const nlohmann::json& schema);

// libstdc++'s std::regex (valijson's engine) recurses per character and per group level: a
// 100 KB subject or a deeply nested pattern overflows the stack and kills the process. So
// patterns are bounded here and long subjects are never matched (see validate_against_schema).
std::optional<std::string> too_complex(std::string_view pattern) {
    if (pattern.size() > kMaxPatternBytes) {
        return "longer than " + std::to_string(kMaxPatternBytes) + " bytes";
    }
    int depth = 0;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
        const char c = pattern[i];
        if (c == '\\') {
            ++i;
        } else if (c == '(') {
            if (++depth > kMaxPatternGroupDepth) {
                return "groups nested deeper than " + std::to_string(kMaxPatternGroupDepth);
            }
        } else if (c == ')') {
            --depth;
        } else if (c == '{') {
            // {n}, {n,}, {n,m}: each bound at most kMaxPatternRepeat.
            std::size_t j = i + 1;
            while (j < pattern.size() &&
                   ((pattern[j] >= '0' && pattern[j] <= '9') || pattern[j] == ',')) {
                ++j;
            }
            if (j < pattern.size() && pattern[j] == '}' && j > i + 1) {
                std::string_view bounds = pattern.substr(i + 1, j - i - 1);
                for (std::size_t k = 0; k < bounds.size();) {
                    const auto comma = std::min(bounds.find(',', k), bounds.size());
                    std::string_view number = bounds.substr(k, comma - k);
                    if (number.size() > 3 ||
                        (!number.empty() && std::stoi(std::string(number)) > kMaxPatternRepeat)) {
                        return "repetition bounds over " + std::to_string(kMaxPatternRepeat);
                    }
                    k = comma + 1;
                }
            }
        }
    }
    return std::nullopt;
}

bool has_pattern_keyword(const nlohmann::json& schema) {
    std::vector<const nlohmann::json*> stack{&schema};
    while (!stack.empty()) {
        const nlohmann::json* node = stack.back();
        stack.pop_back();
        if (!node->is_structured()) continue;
        if (node->is_object() &&
            (node->contains("pattern") || node->contains("patternProperties"))) {
            return true;
        }
        for (const auto& child : *node) stack.push_back(&child);
    }
    return false;
}

// The schema without 'pattern' and 'patternProperties' (for values with long strings).
nlohmann::json without_patterns(nlohmann::json schema) {
    std::vector<nlohmann::json*> stack{&schema};
    while (!stack.empty()) {
        nlohmann::json* node = stack.back();
        stack.pop_back();
        if (!node->is_structured()) continue;
        if (node->is_object()) {
            if (node->contains("pattern") && (*node)["pattern"].is_string()) node->erase("pattern");
            if (node->contains("patternProperties") && (*node)["patternProperties"].is_object()) {
                // Names the patterns matched would now fall to additionalProperties: drop it
                // too (skipping loosens, never tightens).
                node->erase("patternProperties");
                node->erase("additionalProperties");
            }
        }
        for (auto& child : *node) stack.push_back(&child);
    }
    return schema;
}

// True when a string or an object key in `value` is longer than kMaxPatternSubjectBytes.
bool has_long_strings(const nlohmann::json& value) {
    std::vector<const nlohmann::json*> stack{&value};
    while (!stack.empty()) {
        const nlohmann::json* node = stack.back();
        stack.pop_back();
        if (node->is_string()) {
            if (node->get_ref<const std::string&>().size() > kMaxPatternSubjectBytes) return true;
        } else if (node->is_object()) {
            for (const auto& [key, child] : node->items()) {
                if (key.size() > kMaxPatternSubjectBytes) return true;
                stack.push_back(&child);
            }
        } else if (node->is_array()) {
            for (const auto& child : *node) stack.push_back(&child);
        }
    }
    return false;
}

Result<SchemaPtr> compile(const nlohmann::json& schema) {
    if (!schema.is_object() && !schema.is_boolean()) {
        return fail(ErrorCode::kInvalidInput, "a JSON Schema must be an object");
    }
    if (exceeds_depth(schema, kMaxSchemaDepth)) {
        return fail(ErrorCode::kInvalidInput,
                    "schema nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    }
    std::string key = schema.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    {
        std::lock_guard lock(cache().mutex);
        if (auto it = cache().by_text.find(key); it != cache().by_text.end()) return it->second;
    }
    if (auto bad = bad_pattern(schema)) {
        return fail(ErrorCode::kInvalidInput, "not a valid draft-07 JSON Schema: " + *bad);
    }
    auto compiled = std::make_shared<valijson::Schema>();
    try {
        valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
        valijson::adapters::NlohmannJsonAdapter adapter(schema);
        parser.populateSchema(adapter, *compiled);
    } catch (const std::exception& e) {
        return fail(ErrorCode::kInvalidInput,
                    std::string("not a valid draft-07 JSON Schema: ") + e.what());
    }
    std::lock_guard lock(cache().mutex);
    SchemaCache& c = cache();
    if (c.by_text.size() >= kCacheMaxEntries || c.bytes + key.size() > kCacheMaxBytes) {
        c.by_text.clear();
        c.bytes = 0;
    }
    c.bytes += key.size();
    c.by_text.emplace(std::move(key), compiled);
    return compiled;
}

std::string type_name(const nlohmann::json& v) {
    if (v.is_number_integer()) return "integer";
    if (v.is_number()) return "number";
    return v.type_name();  // null, boolean, string, array, object
}

struct Located {
    std::string path;
    const nlohmann::json* value = nullptr;  // null when the context could not be followed
};

// valijson's context: "<root>", "[name]", "[0]", ... -> "name[0]" and the value there.
Located locate(const std::vector<std::string>& context, const nlohmann::json& root) {
    Located out{"", &root};
    for (const std::string& raw : context) {
        if (raw == "<root>") continue;
        std::string seg = raw;
        if (seg.size() >= 2 && seg.front() == '[' && seg.back() == ']') {
            seg = seg.substr(1, seg.size() - 2);
        }
        const nlohmann::json* here = out.value;
        if (here != nullptr && here->is_array() && !seg.empty() &&
            seg.find_first_not_of("0123456789") == std::string::npos) {
            const std::size_t index = std::stoul(seg);
            out.path += "[" + seg + "]";
            out.value = index < here->size() ? &(*here)[index] : nullptr;
            continue;
        }
        out.path = join_path(out.path, seg);
        if (here != nullptr && here->is_object()) {
            auto it = here->find(seg);
            out.value = it != here->end() ? &*it : nullptr;
        } else {
            out.value = nullptr;
        }
    }
    return out;
}

bool starts_with(const std::string& s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

std::string strip_period(std::string s) {
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
}

// One valijson error -> a readable FieldError; nullopt for the wrappers valijson adds on every
// level above the real failure ("Failed to validate against schema associated with ...").
std::optional<FieldError> readable(const valijson::ValidationResults::Error& error,
                                   const nlohmann::json& value) {
    const std::string& d = error.description;
    if (starts_with(d, "Failed to validate against schema associated with property name") ||
        starts_with(d, "Failed to validate item #")) {
        return std::nullopt;
    }
    Located at = locate(error.context, value);
    if (starts_with(d, "Missing required property '")) {
        std::string name = d.substr(27);
        if (const auto q = name.rfind('\''); q != std::string::npos) name.resize(q);
        return FieldError{join_path(at.path, name), "is required"};
    }
    if (d == "Value type not permitted by 'type' constraint.") {
        std::string got = at.value != nullptr ? ", got " + type_name(*at.value) : "";
        return FieldError{at.path, "has the wrong type for the schema's 'type'" + got};
    }
    if (d == "Failed to match against any enum values.") {
        return FieldError{at.path, "must be one of the values the schema's 'enum' allows"};
    }
    if (d == "Failed to match regex specified by 'pattern' constraint.") {
        return FieldError{at.path, "does not match the schema's 'pattern'"};
    }
    if (starts_with(d,
                    "Object contains a property that could not be validated using "
                    "'properties' or 'additionalProperties' constraints: '")) {
        std::string name = d.substr(d.find(": '") + 3);
        if (const auto q = name.rfind('\''); q != std::string::npos) name.resize(q);
        return FieldError{join_path(at.path, name), "is not allowed (additionalProperties)"};
    }
    return FieldError{at.path, strip_period(d)};
}

// valijson compiles 'pattern' regexes only when it validates: compile them here so that a bad
// one is reported with the schema, not with the first call. Data keywords are not walked.
std::optional<std::string> bad_pattern(const nlohmann::json& schema) {
    std::vector<const nlohmann::json*> stack{&schema};
    while (!stack.empty()) {
        const nlohmann::json* node = stack.back();
        stack.pop_back();
        if (node->is_array()) {
            for (const auto& item : *node) stack.push_back(&item);
            continue;
        }
        if (!node->is_object()) continue;
        for (const auto& [key, value] : node->items()) {
            if (key == "enum" || key == "const" || key == "default" || key == "examples") continue;
            std::vector<std::string> patterns;
            if (key == "pattern" && value.is_string()) patterns.push_back(value);
            if (key == "patternProperties" && value.is_object()) {
                for (const auto& [p, sub] : value.items()) patterns.push_back(p);
            }
            for (const std::string& p : patterns) {
                if (auto why = too_complex(p)) return "pattern '" + p + "': " + *why;
                try {
                    std::regex compiled(p);
                } catch (const std::regex_error& e) {
                    return "bad regular expression '" + p + "': " + e.what();
                }
            }
            stack.push_back(&value);
        }
    }
    return std::nullopt;
}

}  // namespace

Result<void> check_schema(const nlohmann::json& schema) {
    auto compiled = compile(schema);
    if (!compiled) return std::unexpected(compiled.error());
    return {};
}

Result<std::vector<FieldError>> validate_against_schema(const nlohmann::json& schema,
                                                        const nlohmann::json& value,
                                                        bool* patterns_skipped) {
    if (patterns_skipped != nullptr) *patterns_skipped = false;
    auto compiled = compile(schema);
    if (!compiled) return std::unexpected(compiled.error());
    if (has_long_strings(value) && has_pattern_keyword(schema)) {
        compiled = compile(without_patterns(schema));
        if (!compiled) return std::unexpected(compiled.error());
        if (patterns_skipped != nullptr) *patterns_skipped = true;
    }
    if (exceeds_depth(value, kMaxValueDepth)) {
        return std::vector<FieldError>{
            {"", "nested deeper than " + std::to_string(kMaxValueDepth) + " levels"}};
    }
    valijson::ValidationResults results;
    try {
        valijson::Validator validator;
        valijson::adapters::NlohmannJsonAdapter adapter(value);
        validator.validate(**compiled, adapter, &results);
    } catch (const std::exception& e) {
        return fail(ErrorCode::kInvalidInput, std::string("schema validation failed: ") + e.what());
    }
    std::vector<FieldError> errors;
    for (const auto& e : results) {
        auto field = readable(e, value);
        if (!field) continue;
        bool seen = false;
        for (const FieldError& other : errors) seen = seen || other == *field;
        if (!seen) errors.push_back(std::move(*field));
    }
    // Only wrappers (should not happen): say something rather than nothing.
    if (errors.empty() && results.numErrors() > 0) {
        errors.push_back({"", "does not match the schema"});
    }
    return errors;
}

std::size_t schema_cache_size() {
    std::lock_guard lock(cache().mutex);
    return cache().by_text.size();
}

}  // namespace orchagent::manifest
