// Agent manifests: orchagent.json / orchagent.yaml, schema.json and prompt.md (CONTRACT.md
// section 3), parsed and validated into a plain value. Every problem is collected with the
// field path it concerns; docs/manifest.md lists every field, default and limit.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "manifest/field_error.hpp"

namespace orchagent::manifest {

enum class AgentType { kPrompt, kTool, kAgent, kSkill };
enum class RunMode { kOnDemand, kAlwaysOn };
enum class ExecutionEngine { kDirectLlm, kCodeRuntime, kManagedLoop };

std::string_view to_string(AgentType type);
std::string_view to_string(RunMode mode);
std::string_view to_string(ExecutionEngine engine);

// Limits. Files are measured before they are read; the rest while validating.
inline constexpr std::size_t kMaxManifestBytes = 256 * 1024;
inline constexpr std::size_t kMaxSchemaBytes = 256 * 1024;
inline constexpr std::size_t kMaxPromptBytes = 1024 * 1024;
inline constexpr int kMaxDepth = 64;                       // nesting of any document
inline constexpr std::size_t kMaxStringBytes = 16 * 1024;  // any string not listed below
inline constexpr std::size_t kMaxDescriptionBytes = 4096;
inline constexpr std::size_t kMaxListItems = 50;  // tags, secrets, skills, globs, ...
inline constexpr std::size_t kMaxTagBytes = 50;
inline constexpr std::size_t kMaxSecretNameBytes = 128;
inline constexpr std::size_t kMaxPathBytes = 1024;  // entrypoint, bundle globs
inline constexpr std::size_t kMaxCommandBytes = 4096;
inline constexpr int kDefaultTimeoutSeconds = 60;
inline constexpr int kMaxTimeoutSeconds = 3600;

// Entrypoint candidates, in the order they are looked for.
inline constexpr std::string_view kEntrypointCandidates[] = {
    "main.py", "app.py",   "agent.py", "run.py",  "__main__.py",
    "main.js", "index.js", "agent.js", "main.ts", "index.ts",
};

struct Dependency {
    std::string id;       // "org/agent"
    std::string version;  // "v3", "latest"
};

// The `manifest` block: how this agent may call others.
struct Orchestration {
    std::vector<Dependency> dependencies;
    std::optional<int> max_hops;                          // 1..10
    std::optional<std::int64_t> timeout_ms;               // 1..3,600,000
    std::optional<std::int64_t> per_call_downstream_cap;  // >= 0
};

struct BundleRules {
    std::vector<std::string> include;  // glob patterns relative to the agent folder
    std::vector<std::string> exclude;
};

struct AgentManifest {
    std::string name;
    AgentType type = AgentType::kTool;
    RunMode run_mode = RunMode::kOnDemand;
    // Empty for skills, which are never executed.
    std::optional<ExecutionEngine> execution_engine;
    std::optional<std::string> entrypoint;       // explicit or auto-detected
    bool entrypoint_detected = false;            // true when auto-detected
    std::optional<std::string> runtime_command;  // explicit or the default for the entrypoint
    bool has_runtime_block = false;
    nlohmann::json loop;  // opaque object, null when absent
    bool callable = true;
    std::string description;
    std::vector<std::string> tags;
    bool is_public = false;
    int timeout_seconds = kDefaultTimeoutSeconds;
    std::optional<std::string> default_endpoint;
    nlohmann::json input_schema;   // null when absent
    nlohmann::json output_schema;  // null when absent
    std::vector<std::string> supported_providers;
    nlohmann::json default_models;  // object provider -> model, null when absent
    std::vector<std::string> required_secrets;
    std::vector<std::string> optional_secrets;
    std::vector<std::string> default_skills;
    bool skills_locked = false;
    std::optional<Orchestration> orchestration;  // the `manifest` block
    BundleRules bundle;
    nlohmann::json environment;  // opaque object, null when absent
    // API fields (POST /agents), also accepted in files.
    std::optional<std::string> prompt;  // the manifest's `prompt`, else prompt.md
    std::optional<std::string> version;
    bool allow_local_download = true;
    nlohmann::json skill_files;  // opaque, null when absent

    std::vector<FieldWarning> warnings;

    bool is_code() const { return execution_engine == ExecutionEngine::kCodeRuntime; }
    // The agent as the API shows it (download, GET /agents/{id}).
    nlohmann::json to_json() const;
};

// "org/name" or "org/name@version" (a dependency or a skill), at most 200 bytes.
bool is_agent_ref(std::string_view ref);

struct ParseOptions {
    // The agent folder's files (relative paths), when known: enables entrypoint detection,
    // the existence check of an explicit entrypoint and the missing-entrypoint error.
    std::optional<std::vector<std::string>> files;
    // prompt.md's text, if the folder has one.
    std::optional<std::string> prompt_file;
    // schema.json's parsed content, if the folder has one ({"input": ..., "output": ...}).
    nlohmann::json schema_file;
};

// Everything a validation found: errors make the manifest unusable, warnings do not.
struct ValidationReport {
    std::optional<AgentManifest> manifest;  // set when errors is empty
    std::vector<FieldError> errors;
    std::vector<FieldWarning> warnings;
    bool ok() const { return errors.empty(); }
};

// Validates a manifest document, collecting every error.
ValidationReport check_manifest(const nlohmann::json& doc, const ParseOptions& options = {});
// Reads and validates an agent folder (for `orchagent validate`): file problems (missing,
// too large, unparsable) are reported as errors on the file's name.
ValidationReport check_manifest_dir(const std::string& dir);

// The same as Results: INVALID_INPUT with every error joined by "; ".
Result<AgentManifest> parse_manifest(const nlohmann::json& doc, const ParseOptions& options = {});
Result<AgentManifest> load_manifest(const std::string& dir);
// Relative paths of an agent folder's regular files (dot-folders, node_modules, venv and
// __pycache__ skipped), at most kMaxListedFiles: what entrypoint detection looks at.
std::vector<std::string> list_agent_files(const std::string& dir);

// The default runtime.command for an entrypoint: "python3 main.py", "node index.js",
// "sh run.sh"; nullopt for other extensions.
std::optional<std::string> default_command(std::string_view entrypoint);

// Splits a runtime.command into argv the way a POSIX shell splits words: blanks separate,
// '…' and "…" quote, backslash escapes; no expansion of any kind. Fails on an unterminated
// quote or an empty command.
Result<std::vector<std::string>> split_command(std::string_view command);

}  // namespace orchagent::manifest
