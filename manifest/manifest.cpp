// Validation of manifest documents: one pass over the fields of CONTRACT.md section 3, every
// problem collected with its path. Reading the agent folder is in manifest_dir.cpp.
#include "manifest/manifest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <set>

#include "manifest/json_limits.hpp"
#include "manifest/json_schema.hpp"

namespace orchagent::manifest {
namespace {

using nlohmann::json;

constexpr std::string_view kNameRule =
    "must match ^[a-z0-9][a-z0-9-]*[a-z0-9]$ (2-50 characters, no \"--\")";
constexpr std::string_view kEndpointRule =
    "must match ^[A-Za-z0-9][A-Za-z0-9._-]*$ (1-100 characters)";
constexpr std::string_view kSecretRule =
    "must be an environment variable name: ^[A-Za-z_][A-Za-z0-9_]*$, at most 128 characters";
constexpr std::string_view kRefRule =
    "must look like org/name or org/name@version (letters, digits, '.', '_', '-')";

// Every field the manifest knows; anything else is an UNKNOWN_FIELD warning.
const std::set<std::string, std::less<>> kKnownFields = {
    "name",
    "type",
    "run_mode",
    "runtime",
    "entrypoint",
    "loop",
    "callable",
    "description",
    "tags",
    "is_public",
    "timeout_seconds",
    "default_endpoint",
    "input_schema",
    "output_schema",
    "supported_providers",
    "default_models",
    "required_secrets",
    "optional_secrets",
    "default_skills",
    "skills_locked",
    "manifest",
    "bundle",
    "environment",
    "execution_engine",
    "prompt",
    "version",
    "allow_local_download",
    "skill_files",
};

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

bool valid_name(std::string_view s) {
    if (s.size() < 2 || s.size() > 50) return false;
    if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
    if (s.find("--") != std::string_view::npos) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool valid_endpoint(std::string_view s) {
    if (s.empty() || s.size() > 100 || !is_alnum(s.front())) return false;
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool valid_env_name(std::string_view s) {
    if (s.empty() || s.size() > kMaxSecretNameBytes) return false;
    if (s.front() >= '0' && s.front() <= '9') return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return is_alnum(c) || c == '_'; });
}

bool valid_ref_part(std::string_view s) {
    if (s == "." || s == "..") return false;  // names, never path steps
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return is_alnum(c) || c == '.' || c == '_' || c == '-';
    });
}

// org/name or org/name@version
bool valid_ref(std::string_view s) {
    if (s.size() > 200) return false;
    const auto at = s.find('@');
    std::string_view head = s.substr(0, at);
    if (at != std::string_view::npos && !valid_ref_part(s.substr(at + 1))) return false;
    const auto slash = head.find('/');
    if (slash == std::string_view::npos) return false;
    return valid_ref_part(head.substr(0, slash)) && valid_ref_part(head.substr(slash + 1));
}

bool valid_version(std::string_view s) {
    if (s.size() < 2 || s.size() > 12 || s.front() != 'v' || s[1] == '0') return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A relative path inside the agent folder: no absolute path, no "..", no NUL or backslash.
bool valid_relative_path(std::string_view s) {
    if (s.empty() || s.size() > kMaxPathBytes || s.front() == '/') return false;
    if (s.find('\0') != std::string_view::npos || s.find('\\') != std::string_view::npos) {
        return false;
    }
    std::size_t start = 0;
    while (start <= s.size()) {
        const auto end = std::min(s.find('/', start), s.size());
        if (s.substr(start, end - start) == "..") return false;
        start = end + 1;
    }
    return true;
}

class Checker {
  public:
    std::vector<FieldError> errors;
    std::vector<FieldWarning> warnings;

    void error(std::string path, std::string message) {
        errors.push_back({std::move(path), std::move(message)});
    }
    void warn(std::string code, std::string field, std::string message) {
        warnings.push_back({std::move(code), std::move(field), std::move(message)});
    }

    // A string of at most max_bytes; nullopt (with an error unless absent) otherwise.
    std::optional<std::string> string_at(const json& v, const std::string& path,
                                         std::size_t max_bytes, bool allow_empty = false) {
        if (!v.is_string()) {
            error(path, "must be a string");
            return std::nullopt;
        }
        const auto& s = v.get_ref<const std::string&>();
        if (s.empty() && !allow_empty) {
            error(path, "must not be empty");
            return std::nullopt;
        }
        if (s.size() > max_bytes) {
            error(path, fmt::format("must be at most {} bytes (is {})", max_bytes, s.size()));
            return std::nullopt;
        }
        return s;
    }

    std::optional<bool> bool_at(const json& v, const std::string& path) {
        if (!v.is_boolean()) {
            error(path, "must be a boolean");
            return std::nullopt;
        }
        return v.get<bool>();
    }

    std::optional<std::int64_t> int_at(const json& v, const std::string& path, std::int64_t min,
                                       std::int64_t max) {
        if (!v.is_number_integer()) {
            error(path, "must be an integer");
            return std::nullopt;
        }
        // Unsigned values past INT64_MAX are out of range whatever the bounds.
        if (v.is_number_unsigned() &&
            v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
            error(path, fmt::format("must be between {} and {}", min, max));
            return std::nullopt;
        }
        const auto n = v.get<std::int64_t>();
        if (n < min || n > max) {
            error(path, fmt::format("must be between {} and {}", min, max));
            return std::nullopt;
        }
        return n;
    }

    bool object_at(const json& v, const std::string& path) {
        if (!v.is_object()) {
            error(path, "must be an object");
            return false;
        }
        return true;
    }

    // An array of strings, each checked by `item_ok` (rule shown on failure).
    template <typename Pred>
    std::vector<std::string> string_list_at(const json& v, const std::string& path,
                                            std::size_t max_bytes, Pred item_ok,
                                            std::string_view rule,
                                            std::size_t max_items = kMaxListItems) {
        std::vector<std::string> out;
        if (!v.is_array()) {
            error(path, "must be an array of strings");
            return out;
        }
        if (v.size() > max_items) {
            error(path, fmt::format("must have at most {} items (has {})", max_items, v.size()));
            return out;
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            const std::string item_path = fmt::format("{}[{}]", path, i);
            auto s = string_at(v[i], item_path, max_bytes);
            if (!s) continue;
            if (!item_ok(*s)) {
                error(item_path, std::string(rule));
                continue;
            }
            out.push_back(std::move(*s));
        }
        return out;
    }

    void unknown_keys(const json& obj, const std::string& path,
                      std::initializer_list<std::string_view> known) {
        for (const auto& [key, value] : obj.items()) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                warn("UNKNOWN_FIELD", join_path(path, key), "unknown field; ignored");
            }
        }
    }
};

const json* member(const json& obj, std::string_view key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
}

std::optional<std::string> detect_entrypoint(const std::vector<std::string>& files) {
    for (std::string_view candidate : kEntrypointCandidates) {
        if (std::find(files.begin(), files.end(), candidate) != files.end()) {
            return std::string(candidate);
        }
    }
    return std::nullopt;
}

std::string candidate_list() {
    std::string out;
    for (std::string_view c : kEntrypointCandidates) {
        if (!out.empty()) out += ", ";
        out += c;
    }
    return out;
}

void check_schema_field(Checker& c, const json& v, const std::string& path, json& out) {
    if (!c.object_at(v, path)) return;
    if (auto ok = check_schema(v); !ok) {
        c.error(path, ok.error().message());
        return;
    }
    out = v;
}

void check_orchestration(Checker& c, const json& v, AgentManifest& m) {
    if (!c.object_at(v, "manifest")) return;
    c.unknown_keys(v, "manifest",
                   {"dependencies", "max_hops", "timeout_ms", "per_call_downstream_cap"});
    Orchestration o;
    if (const json* deps = member(v, "dependencies")) {
        if (!deps->is_array()) {
            c.error("manifest.dependencies", "must be an array of {id, version} objects");
        } else if (deps->size() > kMaxListItems) {
            c.error("manifest.dependencies", fmt::format("must have at most {} items (has {})",
                                                         kMaxListItems, deps->size()));
        } else {
            for (std::size_t i = 0; i < deps->size(); ++i) {
                const std::string path = fmt::format("manifest.dependencies[{}]", i);
                const json& d = (*deps)[i];
                if (!c.object_at(d, path)) continue;
                c.unknown_keys(d, path, {"id", "version"});
                Dependency dep{.version = "latest"};
                if (const json* id = member(d, "id")) {
                    auto s = c.string_at(*id, path + ".id", 200);
                    if (s && !valid_ref(*s)) c.error(path + ".id", "must look like org/agent");
                    if (s) dep.id = *s;
                } else {
                    c.error(path + ".id", "is required");
                }
                if (const json* ver = member(d, "version")) {
                    auto s = c.string_at(*ver, path + ".version", 20);
                    if (s && *s != "latest" && !valid_version(*s)) {
                        c.error(path + ".version", "must be vN or latest");
                    } else if (s) {
                        dep.version = *s;
                    }
                }
                o.dependencies.push_back(std::move(dep));
            }
        }
    }
    if (const json* v2 = member(v, "max_hops")) {
        if (auto n = c.int_at(*v2, "manifest.max_hops", 1, 10)) o.max_hops = static_cast<int>(*n);
    }
    if (const json* v2 = member(v, "timeout_ms")) {
        if (auto n = c.int_at(*v2, "manifest.timeout_ms", 1, 3'600'000)) o.timeout_ms = *n;
    }
    if (const json* v2 = member(v, "per_call_downstream_cap")) {
        if (auto n = c.int_at(*v2, "manifest.per_call_downstream_cap", 0, 1'000'000'000)) {
            o.per_call_downstream_cap = *n;
        }
    }
    m.orchestration = std::move(o);
}

void check_bundle(Checker& c, const json& v, AgentManifest& m) {
    if (!c.object_at(v, "bundle")) return;
    c.unknown_keys(v, "bundle", {"include", "exclude"});
    const auto glob_ok = [](const std::string& s) { return valid_relative_path(s); };
    constexpr std::string_view rule =
        "must be a glob relative to the agent folder (no leading '/', no \"..\", no '\\')";
    if (const json* inc = member(v, "include")) {
        m.bundle.include =
            c.string_list_at(*inc, "bundle.include", kMaxPathBytes, glob_ok, rule, 200);
    }
    if (const json* exc = member(v, "exclude")) {
        m.bundle.exclude =
            c.string_list_at(*exc, "bundle.exclude", kMaxPathBytes, glob_ok, rule, 200);
    }
}

void check_type(Checker& c, const json& v, AgentManifest& m) {
    auto s = c.string_at(v, "type", 32);
    if (!s) return;
    if (*s == "prompt") {
        m.type = AgentType::kPrompt;
    } else if (*s == "tool") {
        m.type = AgentType::kTool;
    } else if (*s == "agent") {
        m.type = AgentType::kAgent;
    } else if (*s == "skill") {
        m.type = AgentType::kSkill;
    } else if (*s == "code") {
        m.type = AgentType::kTool;
        c.warn("DEPRECATED_FIELD", "type", "type \"code\" is deprecated; use \"tool\"");
    } else if (*s == "agentic") {
        m.type = AgentType::kAgent;
        c.warn("DEPRECATED_FIELD", "type", "type \"agentic\" is deprecated; use \"agent\"");
    } else {
        c.error("type", fmt::format("must be one of prompt, tool, agent, skill (got \"{}\")", *s));
    }
}

// type, runtime and entrypoint together decide the engine and the command.
void derive_execution(Checker& c, const json& doc, const ParseOptions& options, AgentManifest& m) {
    if (const json* rt = member(doc, "runtime")) {
        if (c.object_at(*rt, "runtime")) {
            m.has_runtime_block = true;
            c.unknown_keys(*rt, "runtime", {"command"});
            if (const json* cmd = member(*rt, "command")) {
                if (auto s = c.string_at(*cmd, "runtime.command", kMaxCommandBytes)) {
                    if (auto argv = split_command(*s); !argv) {
                        c.error("runtime.command", argv.error().message());
                    } else {
                        m.runtime_command = *s;
                    }
                }
            }
        }
    }
    if (const json* ep = member(doc, "entrypoint")) {
        if (auto s = c.string_at(*ep, "entrypoint", kMaxPathBytes)) {
            if (!valid_relative_path(*s)) {
                c.error("entrypoint", "must be a relative path inside the agent folder");
            } else if (options.files && std::find(options.files->begin(), options.files->end(),
                                                  *s) == options.files->end()) {
                c.error("entrypoint", fmt::format("file \"{}\" is not in the agent folder", *s));
            } else {
                m.entrypoint = *s;
            }
        }
    }
    const bool type_given = doc.contains("type");
    std::optional<std::string> detected;
    if (!m.entrypoint && !doc.contains("entrypoint") && options.files) {
        detected = detect_entrypoint(*options.files);
    }
    if (!type_given) {
        // No type: code when there is code, a prompt agent when there is only a prompt.
        const bool has_code = m.has_runtime_block || doc.contains("entrypoint") || detected;
        m.type = (!has_code && m.prompt) ? AgentType::kPrompt : AgentType::kTool;
    }

    if (m.type == AgentType::kSkill) {
        if (m.has_runtime_block) {
            c.warn("IGNORED_FIELD", "runtime", "skills are never executed; runtime ignored");
        }
        m.execution_engine = std::nullopt;
        return;
    }
    if (m.has_runtime_block || m.type == AgentType::kTool) {
        m.execution_engine = ExecutionEngine::kCodeRuntime;
    } else if (m.type == AgentType::kPrompt) {
        m.execution_engine = ExecutionEngine::kDirectLlm;
    } else {
        m.execution_engine = ExecutionEngine::kManagedLoop;
    }
    if (!m.is_code()) return;

    if (!m.entrypoint && detected) {
        m.entrypoint = detected;
        m.entrypoint_detected = true;
    }
    if (m.runtime_command) return;
    if (m.entrypoint) {
        m.runtime_command = default_command(*m.entrypoint);
        if (!m.runtime_command) {
            c.error("runtime.command",
                    fmt::format("is required: no default command for entrypoint \"{}\" "
                                "(defaults exist for .py, .js and .sh)",
                                *m.entrypoint));
        }
        return;
    }
    // Without the folder's files (a manifest sent to the API before its bundle) the entrypoint
    // comes later, with the upload.
    if (options.files && !doc.contains("entrypoint") &&
        !(doc.contains("runtime") && doc["runtime"].is_object() &&
          doc["runtime"].contains("command"))) {
        c.error("entrypoint", "none found: add one of " + candidate_list() +
                                  ", or set entrypoint or runtime.command");
    }
}

void check_fields(Checker& c, const json& doc, const ParseOptions& options, AgentManifest& m) {
    for (const auto& [key, value] : doc.items()) {
        if (!kKnownFields.contains(key)) {
            c.warn("UNKNOWN_FIELD", key, "unknown field; ignored");
        }
    }

    if (const json* v = member(doc, "name")) {
        if (auto s = c.string_at(*v, "name", 256, true)) {
            if (valid_name(*s)) {
                m.name = *s;
            } else {
                c.error("name", std::string(kNameRule));
            }
        }
    } else {
        c.error("name", "is required");
    }
    if (const json* v = member(doc, "type")) check_type(c, *v, m);
    if (const json* v = member(doc, "run_mode")) {
        if (auto s = c.string_at(*v, "run_mode", 32)) {
            if (*s == "on_demand") {
                m.run_mode = RunMode::kOnDemand;
            } else if (*s == "always_on") {
                m.run_mode = RunMode::kAlwaysOn;
            } else {
                c.error("run_mode",
                        fmt::format("must be one of on_demand, always_on (got \"{}\")", *s));
            }
        }
    }
    if (const json* v = member(doc, "prompt")) {
        if (auto s = c.string_at(*v, "prompt", kMaxPromptBytes)) {
            m.prompt = *s;
            if (options.prompt_file) {
                c.warn("IGNORED_FIELD", "prompt.md", "the manifest's prompt field wins");
            }
        }
    } else if (options.prompt_file) {
        m.prompt = options.prompt_file;
    }
    derive_execution(c, doc, options, m);
    if (m.type == AgentType::kPrompt && !m.prompt && !doc.contains("prompt")) {
        c.error("prompt", "is required for a prompt agent (a prompt.md file or the prompt field)");
    }

    if (const json* v = member(doc, "loop")) {
        if (c.object_at(*v, "loop")) m.loop = *v;
    }
    if (const json* v = member(doc, "callable")) {
        if (auto b = c.bool_at(*v, "callable")) m.callable = *b;
    }
    if (const json* v = member(doc, "description")) {
        if (auto s = c.string_at(*v, "description", kMaxDescriptionBytes, true)) {
            m.description = *s;
        }
    }
    if (const json* v = member(doc, "tags")) {
        m.tags = c.string_list_at(
            *v, "tags", kMaxTagBytes, [](const std::string&) { return true; }, "", 20);
    }
    if (const json* v = member(doc, "is_public")) {
        if (auto b = c.bool_at(*v, "is_public")) m.is_public = *b;
    }
    if (const json* v = member(doc, "timeout_seconds")) {
        if (auto n = c.int_at(*v, "timeout_seconds", 1, kMaxTimeoutSeconds)) {
            m.timeout_seconds = static_cast<int>(*n);
        }
    }
    if (const json* v = member(doc, "default_endpoint")) {
        if (auto s = c.string_at(*v, "default_endpoint", 256)) {
            if (valid_endpoint(*s)) {
                m.default_endpoint = *s;
            } else {
                c.error("default_endpoint", std::string(kEndpointRule));
            }
        }
    }

    // Schemas: the manifest's own, else schema.json's input/output.
    const json* schema_file = options.schema_file.is_null() ? nullptr : &options.schema_file;
    if (schema_file != nullptr && !schema_file->is_object()) {
        c.error("schema.json", "must be an object {\"input\": ..., \"output\": ...}");
        schema_file = nullptr;
    }
    if (schema_file != nullptr) c.unknown_keys(*schema_file, "schema.json", {"input", "output"});
    for (const auto& [field, key, out] :
         {std::tuple{"input_schema", "input", &m.input_schema},
          std::tuple{"output_schema", "output", &m.output_schema}}) {
        const json* from_file = schema_file ? member(*schema_file, key) : nullptr;
        if (const json* v = member(doc, field)) {
            check_schema_field(c, *v, field, *out);
            if (from_file) {
                c.warn("IGNORED_FIELD", fmt::format("schema.json.{}", key),
                       fmt::format("the manifest's {} wins", field));
            }
        } else if (from_file) {
            check_schema_field(c, *from_file, fmt::format("schema.json.{}", key), *out);
        }
    }

    const auto any = [](const std::string&) { return true; };
    if (const json* v = member(doc, "supported_providers")) {
        m.supported_providers = c.string_list_at(*v, "supported_providers", 50, any, "");
    }
    if (const json* v = member(doc, "default_models")) {
        if (c.object_at(*v, "default_models")) {
            for (const auto& [provider, model] : v->items()) {
                c.string_at(model, join_path("default_models", provider), 200);
            }
            m.default_models = *v;
        }
    }
    const auto secret_ok = [](const std::string& s) { return valid_env_name(s); };
    for (const auto& [field, out] : {std::pair{"required_secrets", &m.required_secrets},
                                     std::pair{"optional_secrets", &m.optional_secrets}}) {
        const json* v = member(doc, field);
        if (v == nullptr) continue;
        *out = c.string_list_at(*v, field, kMaxSecretNameBytes, secret_ok, kSecretRule);
        for (std::size_t i = 0; i < out->size(); ++i) {
            if ((*out)[i].starts_with("ORCHAGENT_")) {
                c.error(fmt::format("{}[{}]", field, i),
                        "names starting with ORCHAGENT_ are reserved for the platform");
            }
        }
    }
    if (const json* v = member(doc, "default_skills")) {
        m.default_skills = c.string_list_at(
            *v, "default_skills", 200, [](const std::string& s) { return valid_ref(s); }, kRefRule);
    }
    if (const json* v = member(doc, "skills_locked")) {
        if (auto b = c.bool_at(*v, "skills_locked")) m.skills_locked = *b;
    }
    if (const json* v = member(doc, "manifest")) check_orchestration(c, *v, m);
    if (const json* v = member(doc, "bundle")) check_bundle(c, *v, m);
    if (const json* v = member(doc, "environment")) {
        if (c.object_at(*v, "environment")) m.environment = *v;
    }
    if (const json* v = member(doc, "execution_engine")) {
        if (auto s = c.string_at(*v, "execution_engine", 32)) {
            const std::string derived =
                m.execution_engine ? std::string(to_string(*m.execution_engine)) : "none";
            if (*s != derived) {
                c.warn("DEPRECATED_FIELD", "execution_engine",
                       fmt::format("derived from type and runtime (\"{}\"); \"{}\" ignored",
                                   derived, *s));
            }
        }
    }
    if (const json* v = member(doc, "version")) {
        if (auto s = c.string_at(*v, "version", 12)) {
            if (valid_version(*s)) {
                m.version = *s;
            } else {
                c.error("version", "must look like v1, v2, ...");
            }
        }
    }
    if (const json* v = member(doc, "allow_local_download")) {
        if (auto b = c.bool_at(*v, "allow_local_download")) m.allow_local_download = *b;
    }
    if (const json* v = member(doc, "skill_files")) {
        if (!v->is_object() && !v->is_array()) {
            c.error("skill_files", "must be an object or an array");
        } else {
            m.skill_files = *v;
        }
    }
}

// Any string anywhere (opaque blocks, schemas) over kMaxStringBytes, bar the prompt.
void check_string_sizes(Checker& c, const json& doc) {
    std::vector<std::pair<const json*, std::string>> stack{{&doc, ""}};
    while (!stack.empty()) {
        auto [node, path] = std::move(stack.back());
        stack.pop_back();
        if (node->is_string()) {
            const bool reported = std::any_of(c.errors.begin(), c.errors.end(),
                                              [&](const FieldError& e) { return e.path == path; });
            if (path != "prompt" && !reported &&
                node->get_ref<const std::string&>().size() > kMaxStringBytes) {
                c.error(path, fmt::format("strings must be at most {} bytes", kMaxStringBytes));
            }
        } else if (node->is_object()) {
            for (const auto& [key, value] : node->items()) {
                if (key.size() > 256) {
                    c.error(path, "field names must be at most 256 bytes");
                    continue;
                }
                stack.emplace_back(&value, join_path(path, key));
            }
        } else if (node->is_array()) {
            for (std::size_t i = 0; i < node->size(); ++i) {
                stack.emplace_back(&(*node)[i], fmt::format("{}[{}]", path, i));
            }
        }
    }
}

}  // namespace

std::string_view to_string(AgentType type) {
    switch (type) {
        case AgentType::kPrompt:
            return "prompt";
        case AgentType::kTool:
            return "tool";
        case AgentType::kAgent:
            return "agent";
        case AgentType::kSkill:
            return "skill";
    }
    return "tool";
}

std::string_view to_string(RunMode mode) {
    return mode == RunMode::kAlwaysOn ? "always_on" : "on_demand";
}

std::string_view to_string(ExecutionEngine engine) {
    switch (engine) {
        case ExecutionEngine::kDirectLlm:
            return "direct_llm";
        case ExecutionEngine::kCodeRuntime:
            return "code_runtime";
        case ExecutionEngine::kManagedLoop:
            return "managed_loop";
    }
    return "code_runtime";
}

std::optional<std::string> default_command(std::string_view entrypoint) {
    if (entrypoint.ends_with(".py")) return fmt::format("python3 {}", entrypoint);
    if (entrypoint.ends_with(".js")) return fmt::format("node {}", entrypoint);
    if (entrypoint.ends_with(".sh")) return fmt::format("sh {}", entrypoint);
    return std::nullopt;
}

Result<std::vector<std::string>> split_command(std::string_view command) {
    std::vector<std::string> argv;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < command.size(); ++i) {
        const char ch = command[i];
        if (quote == '\'') {
            if (ch == '\'') {
                quote = 0;
            } else {
                word += ch;
            }
        } else if (quote == '"') {
            if (ch == '"') {
                quote = 0;
            } else if (ch == '\\' && i + 1 < command.size() &&
                       std::string_view("\"\\$`").find(command[i + 1]) != std::string_view::npos) {
                word += command[++i];
            } else {
                word += ch;
            }
        } else if (ch == ' ' || ch == '\t' || ch == '\n') {
            if (in_word) argv.push_back(std::move(word));
            word.clear();
            in_word = false;
        } else if (ch == '\'' || ch == '"') {
            quote = ch;
            in_word = true;
        } else if (ch == '\\') {
            if (i + 1 == command.size()) {
                return fail(ErrorCode::kInvalidInput, "ends with a lone backslash");
            }
            word += command[++i];
            in_word = true;
        } else if (ch == '\0') {
            return fail(ErrorCode::kInvalidInput, "must not contain NUL");
        } else {
            word += ch;
            in_word = true;
        }
    }
    if (quote != 0) {
        return fail(ErrorCode::kInvalidInput, fmt::format("has an unterminated {} quote",
                                                          quote == '"' ? "double" : "single"));
    }
    if (in_word) argv.push_back(std::move(word));
    if (argv.empty()) return fail(ErrorCode::kInvalidInput, "must not be empty");
    return argv;
}

ValidationReport check_manifest(const json& doc, const ParseOptions& options) {
    ValidationReport report;
    Checker c;
    if (!doc.is_object()) {
        report.errors.push_back({"", "the manifest must be a JSON object"});
        return report;
    }
    if (exceeds_depth(doc, kMaxDepth)) {
        report.errors.push_back(
            {"", fmt::format("the manifest is nested deeper than {} levels", kMaxDepth)});
        return report;
    }
    AgentManifest m;
    check_fields(c, doc, options, m);
    check_string_sizes(c, doc);
    report.errors = std::move(c.errors);
    report.warnings = std::move(c.warnings);
    if (report.errors.empty()) {
        m.warnings = report.warnings;
        report.manifest = std::move(m);
    }
    return report;
}

Result<AgentManifest> parse_manifest(const json& doc, const ParseOptions& options) {
    ValidationReport report = check_manifest(doc, options);
    if (!report.ok()) return fail(ErrorCode::kInvalidInput, join_errors(report.errors));
    return std::move(*report.manifest);
}

json AgentManifest::to_json() const {
    json out = json::object();
    out["name"] = name;
    out["type"] = to_string(type);
    out["run_mode"] = to_string(run_mode);
    out["execution_engine"] = execution_engine ? json(to_string(*execution_engine)) : json(nullptr);
    out["callable"] = callable;
    out["description"] = description;
    out["tags"] = tags;
    out["is_public"] = is_public;
    out["timeout_seconds"] = timeout_seconds;
    out["default_endpoint"] = default_endpoint ? json(*default_endpoint) : json(nullptr);
    out["entrypoint"] = entrypoint ? json(*entrypoint) : json(nullptr);
    out["runtime"] = runtime_command ? json{{"command", *runtime_command}} : json(nullptr);
    out["input_schema"] = input_schema;
    out["output_schema"] = output_schema;
    out["supported_providers"] = supported_providers;
    out["default_models"] = default_models.is_null() ? json::object() : default_models;
    out["required_secrets"] = required_secrets;
    out["optional_secrets"] = optional_secrets;
    out["default_skills"] = default_skills;
    out["skills_locked"] = skills_locked;
    if (orchestration) {
        json deps = json::array();
        for (const Dependency& d : orchestration->dependencies) {
            deps.push_back({{"id", d.id}, {"version", d.version}});
        }
        json o = {{"dependencies", std::move(deps)}};
        if (orchestration->max_hops) o["max_hops"] = *orchestration->max_hops;
        if (orchestration->timeout_ms) o["timeout_ms"] = *orchestration->timeout_ms;
        if (orchestration->per_call_downstream_cap) {
            o["per_call_downstream_cap"] = *orchestration->per_call_downstream_cap;
        }
        out["manifest"] = std::move(o);
    } else {
        out["manifest"] = nullptr;
    }
    out["bundle"] = {{"include", bundle.include}, {"exclude", bundle.exclude}};
    out["environment"] = environment;
    out["loop"] = loop;
    out["prompt"] = prompt ? json(*prompt) : json(nullptr);
    out["allow_local_download"] = allow_local_download;
    if (version) out["version"] = *version;
    if (!skill_files.is_null()) out["skill_files"] = skill_files;
    return out;
}

bool is_agent_ref(std::string_view ref) { return valid_ref(ref); }

}  // namespace orchagent::manifest
