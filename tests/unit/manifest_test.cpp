// manifest/: every field rule and error path of orchagent.json / orchagent.yaml.
#include "manifest/manifest.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "manifest/yaml_json.hpp"

namespace orchagent::manifest {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json base() {
    return json{
        {"name", "my-agent"}, {"type", "tool"}, {"runtime", {{"command", "python3 main.py"}}}};
}

// Errors as "path: message" strings, for readable assertions.
std::vector<std::string> errors_of(const json& doc, const ParseOptions& options = {}) {
    std::vector<std::string> out;
    for (const FieldError& e : check_manifest(doc, options).errors) out.push_back(e.to_string());
    return out;
}

std::string only_error(const json& doc, const ParseOptions& options = {}) {
    auto errors = errors_of(doc, options);
    EXPECT_EQ(errors.size(), 1u) << ::testing::PrintToString(errors);
    return errors.empty() ? "" : errors.front();
}

json with(json doc, const std::string& key, json value) {
    doc[key] = std::move(value);
    return doc;
}

bool has_warning(const std::vector<FieldWarning>& warnings, std::string_view code,
                 std::string_view field) {
    for (const auto& w : warnings) {
        if (w.code == code && w.field == field) return true;
    }
    return false;
}

TEST(ManifestParse, MinimalToolHasTheDocumentedDefaults) {
    auto m = parse_manifest(base());
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->name, "my-agent");
    EXPECT_EQ(m->type, AgentType::kTool);
    EXPECT_EQ(m->run_mode, RunMode::kOnDemand);
    EXPECT_EQ(m->execution_engine, ExecutionEngine::kCodeRuntime);
    EXPECT_EQ(m->runtime_command, "python3 main.py");
    EXPECT_TRUE(m->callable);
    EXPECT_FALSE(m->is_public);
    EXPECT_FALSE(m->skills_locked);
    EXPECT_TRUE(m->allow_local_download);
    EXPECT_EQ(m->timeout_seconds, 60);
    EXPECT_TRUE(m->warnings.empty());
    EXPECT_TRUE(m->input_schema.is_null());
    json j = m->to_json();
    EXPECT_EQ(j["execution_engine"], "code_runtime");
    EXPECT_EQ(j["runtime"]["command"], "python3 main.py");
    EXPECT_EQ(j.dump().find("\"warnings\""), std::string::npos);
}

TEST(ManifestParse, NotAnObjectOrTooDeep) {
    EXPECT_EQ(only_error(json::array()), "the manifest must be a JSON object");
    EXPECT_EQ(only_error(json("x")), "the manifest must be a JSON object");
    json deep = json::object();
    json* at = &deep;
    for (int i = 0; i < 100; ++i) at = &((*at)["x"] = json::object());
    json doc = base();
    doc["environment"] = deep;
    EXPECT_EQ(only_error(doc), "the manifest is nested deeper than 64 levels");
}

TEST(ManifestName, RulesAndRequired) {
    const std::string rule =
        "name: must match ^[a-z0-9][a-z0-9-]*[a-z0-9]$ (2-50 characters, no \"--\")";
    for (const char* good :
         {"ab", "a1", "my-agent", "0-x", "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"}) {
        EXPECT_TRUE(errors_of(with(base(), "name", good)).empty()) << good;
    }
    for (const char* bad : {"a", "", "-ab", "ab-", "a--b", "My-Agent", "a_b", "a b", "é-a",
                            "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijk"}) {
        EXPECT_EQ(only_error(with(base(), "name", bad)), rule) << bad;
    }
    EXPECT_EQ(only_error(with(base(), "name", 5)), "name: must be a string");
    EXPECT_EQ(only_error(with(base(), "name", std::string(300, 'a'))),
              "name: must be at most 256 bytes (is 300)");
    json doc = base();
    doc.erase("name");
    EXPECT_EQ(only_error(doc), "name: is required");
}

TEST(ManifestType, EnumAliasesAndWarnings) {
    for (auto [text, type] :
         {std::pair{"prompt", AgentType::kPrompt}, std::pair{"tool", AgentType::kTool},
          std::pair{"agent", AgentType::kAgent}, std::pair{"skill", AgentType::kSkill}}) {
        json doc{{"name", "ab"}, {"type", text}, {"prompt", "hi"}};
        auto m = parse_manifest(doc);
        ASSERT_TRUE(m) << text << ": " << m.error().message();
        EXPECT_EQ(m->type, type);
        EXPECT_TRUE(m->warnings.empty()) << text;
    }
    auto code = parse_manifest(with(base(), "type", "code"));
    ASSERT_TRUE(code);
    EXPECT_EQ(code->type, AgentType::kTool);
    ASSERT_EQ(code->warnings.size(), 1u);
    EXPECT_EQ(code->warnings[0].code, "DEPRECATED_FIELD");
    EXPECT_EQ(code->warnings[0].field, "type");
    EXPECT_EQ(code->warnings[0].message, "type \"code\" is deprecated; use \"tool\"");

    json agentic = with(base(), "type", "agentic");
    agentic.erase("runtime");
    auto a = parse_manifest(agentic);
    ASSERT_TRUE(a);
    EXPECT_EQ(a->type, AgentType::kAgent);
    EXPECT_EQ(a->execution_engine, ExecutionEngine::kManagedLoop);
    EXPECT_TRUE(has_warning(a->warnings, "DEPRECATED_FIELD", "type"));

    EXPECT_EQ(only_error(with(base(), "type", "bot")),
              "type: must be one of prompt, tool, agent, skill (got \"bot\")");
    EXPECT_EQ(only_error(with(base(), "type", true)), "type: must be a string");
}

TEST(ManifestType, InferredWhenAbsent) {
    json doc = base();
    doc.erase("type");
    EXPECT_EQ(parse_manifest(doc)->type, AgentType::kTool);
    json prompt_only{{"name", "pa"}};
    ParseOptions options;
    options.prompt_file = "Summarise {{text}}";
    options.files = std::vector<std::string>{"orchagent.json", "prompt.md"};
    auto m = parse_manifest(prompt_only, options);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->type, AgentType::kPrompt);
    EXPECT_EQ(m->execution_engine, ExecutionEngine::kDirectLlm);
    EXPECT_EQ(m->prompt, "Summarise {{text}}");
}

TEST(ManifestEngine, DerivedFromTypeAndRuntime) {
    json prompt{{"name", "pa"}, {"type", "prompt"}, {"prompt", "p"}};
    EXPECT_EQ(parse_manifest(prompt)->execution_engine, ExecutionEngine::kDirectLlm);
    json agent{{"name", "pa"}, {"type", "agent"}};
    EXPECT_EQ(parse_manifest(agent)->execution_engine, ExecutionEngine::kManagedLoop);
    json skill{{"name", "pa"}, {"type", "skill"}};
    auto s = parse_manifest(skill);
    EXPECT_FALSE(s->execution_engine.has_value());
    EXPECT_TRUE(s->to_json()["execution_engine"].is_null());
    // A runtime block forces code_runtime.
    prompt["runtime"] = {{"command", "sh run.sh"}};
    EXPECT_EQ(parse_manifest(prompt)->execution_engine, ExecutionEngine::kCodeRuntime);
    agent["runtime"] = {{"command", "sh run.sh"}};
    EXPECT_EQ(parse_manifest(agent)->execution_engine, ExecutionEngine::kCodeRuntime);
    // ... but a skill is never executed.
    skill["runtime"] = {{"command", "sh run.sh"}};
    auto s2 = parse_manifest(skill);
    EXPECT_FALSE(s2->execution_engine.has_value());
    EXPECT_TRUE(has_warning(s2->warnings, "IGNORED_FIELD", "runtime"));
    // A given execution_engine that disagrees is a warning.
    auto w = parse_manifest(with(base(), "execution_engine", "direct_llm"));
    ASSERT_TRUE(w);
    EXPECT_TRUE(has_warning(w->warnings, "DEPRECATED_FIELD", "execution_engine"));
    EXPECT_TRUE(parse_manifest(with(base(), "execution_engine", "code_runtime"))->warnings.empty());
}

TEST(ManifestPrompt, PromptAgentNeedsAPrompt) {
    json doc{{"name", "pa"}, {"type", "prompt"}};
    EXPECT_EQ(only_error(doc),
              "prompt: is required for a prompt agent (a prompt.md file or the prompt field)");
    EXPECT_EQ(only_error(with(doc, "prompt", 3)), "prompt: must be a string");
    ParseOptions options;
    options.prompt_file = "from file";
    auto m = parse_manifest(with(doc, "prompt", "inline"), options);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->prompt, "inline");
    EXPECT_TRUE(has_warning(m->warnings, "IGNORED_FIELD", "prompt.md"));
}

TEST(ManifestRuntime, CommandRules) {
    EXPECT_EQ(only_error(with(base(), "runtime", "python3 main.py")), "runtime: must be an object");
    EXPECT_EQ(only_error(with(base(), "runtime", {{"command", 1}})),
              "runtime.command: must be a string");
    EXPECT_EQ(only_error(with(base(), "runtime", {{"command", json::array({"python3"})}})),
              "runtime.command: must be a string");
    EXPECT_EQ(only_error(with(base(), "runtime", {{"command", ""}})),
              "runtime.command: must not be empty");
    EXPECT_EQ(only_error(with(base(), "runtime", {{"command", "   "}})),
              "runtime.command: must not be empty");
    EXPECT_EQ(only_error(with(base(), "runtime", {{"command", "python3 'main.py"}})),
              "runtime.command: has an unterminated single quote");
    EXPECT_EQ(only_error(with(base(), "runtime", {{"command", std::string(5000, 'x')}})),
              "runtime.command: must be at most 4096 bytes (is 5000)");
    auto m = parse_manifest(with(base(), "runtime", {{"command", "python3 x.py"}, {"lang", "py"}}));
    ASSERT_TRUE(m);
    EXPECT_TRUE(has_warning(m->warnings, "UNKNOWN_FIELD", "runtime.lang"));
}

TEST(ManifestRuntime, SplitCommand) {
    using V = std::vector<std::string>;
    EXPECT_EQ(*split_command("python3 main.py"), (V{"python3", "main.py"}));
    EXPECT_EQ(*split_command("  sh  -c 'echo a  b' \"x\\\"y\" a\\ b "),
              (V{"sh", "-c", "echo a  b", "x\"y", "a b"}));
    EXPECT_EQ(*split_command("node ''"), (V{"node", ""}));
    EXPECT_FALSE(split_command(""));
    EXPECT_FALSE(split_command("a \"b"));
    EXPECT_FALSE(split_command("a\\"));
    EXPECT_FALSE(split_command(std::string_view("a\0b", 3)));
}

TEST(ManifestRuntime, DefaultCommands) {
    EXPECT_EQ(default_command("main.py"), "python3 main.py");
    EXPECT_EQ(default_command("index.js"), "node index.js");
    EXPECT_EQ(default_command("src/app.py"), "python3 src/app.py");
    EXPECT_EQ(default_command("run.sh"), "sh run.sh");
    EXPECT_EQ(default_command("main.ts"), std::nullopt);
    EXPECT_EQ(default_command("main"), std::nullopt);
}

ParseOptions files(std::vector<std::string> names) {
    ParseOptions options;
    options.files = std::move(names);
    return options;
}

TEST(ManifestEntrypoint, DetectionOrder) {
    const std::vector<std::string> order(std::begin(kEntrypointCandidates),
                                         std::end(kEntrypointCandidates));
    ASSERT_EQ(order,
              (std::vector<std::string>{"main.py", "app.py", "agent.py", "run.py", "__main__.py",
                                        "main.js", "index.js", "agent.js", "main.ts", "index.ts"}));
    json doc{{"name", "ab"}, {"type", "tool"}};
    // Each candidate wins over every later one.
    for (std::size_t i = 0; i + 1 < order.size(); ++i) {
        std::vector<std::string> present(order.begin() + static_cast<long>(i), order.end());
        present.push_back("README.md");
        std::reverse(present.begin(), present.end());
        auto m = check_manifest(doc, files(present));
        if (order[i].ends_with(".ts")) {
            ASSERT_FALSE(m.ok());
            EXPECT_EQ(m.errors[0].to_string(),
                      "runtime.command: is required: no default command for entrypoint \"" +
                          order[i] + "\" (defaults exist for .py, .js and .sh)");
            continue;
        }
        ASSERT_TRUE(m.ok()) << order[i];
        EXPECT_EQ(m.manifest->entrypoint, order[i]);
        EXPECT_TRUE(m.manifest->entrypoint_detected);
    }
    auto js = parse_manifest(doc, files({"index.js", "package.json"}));
    EXPECT_EQ(js->runtime_command, "node index.js");
    auto py = parse_manifest(doc, files({"agent.py"}));
    EXPECT_EQ(py->runtime_command, "python3 agent.py");
    // Only top-level files count.
    EXPECT_FALSE(parse_manifest(doc, files({"src/main.py"})));
}

TEST(ManifestEntrypoint, MissingIsAnErrorForCodeAgentsOnly) {
    json doc{{"name", "ab"}, {"type", "tool"}};
    EXPECT_EQ(only_error(doc, files({"README.md"})),
              "entrypoint: none found: add one of main.py, app.py, agent.py, run.py, "
              "__main__.py, main.js, index.js, agent.js, main.ts, index.ts, or set entrypoint or "
              "runtime.command");
    // Without the folder's files (the API before the upload) it is not known yet.
    auto m = parse_manifest(doc);
    ASSERT_TRUE(m);
    EXPECT_FALSE(m->entrypoint);
    EXPECT_FALSE(m->runtime_command);
    // An explicit runtime.command needs no entrypoint.
    EXPECT_TRUE(parse_manifest(with(doc, "runtime", {{"command", "sh go.sh"}}), files({})));
    // Agents and prompts do not need one.
    EXPECT_TRUE(parse_manifest(json{{"name", "ab"}, {"type", "agent"}}, files({})));
}

TEST(ManifestEntrypoint, ExplicitRules) {
    json doc{{"name", "ab"}, {"type", "tool"}};
    auto m = parse_manifest(with(doc, "entrypoint", "src/server.py"),
                            files({"main.py", "src/server.py"}));
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->entrypoint, "src/server.py");
    EXPECT_FALSE(m->entrypoint_detected);
    EXPECT_EQ(m->runtime_command, "python3 src/server.py");
    // Explicit runtime.command wins over the default.
    auto m2 = parse_manifest(
        with(with(doc, "entrypoint", "main.py"), "runtime", {{"command", "python3 -u main.py"}}),
        files({"main.py"}));
    EXPECT_EQ(m2->runtime_command, "python3 -u main.py");
    EXPECT_EQ(only_error(with(doc, "entrypoint", "gone.py"), files({"main.py"})),
              "entrypoint: file \"gone.py\" is not in the agent folder");
    for (const char* bad : {"/etc/passwd", "../x.py", "a/../../x.py", "a\\b.py"}) {
        EXPECT_EQ(only_error(with(doc, "entrypoint", bad)),
                  "entrypoint: must be a relative path inside the agent folder")
            << bad;
    }
    EXPECT_EQ(only_error(with(doc, "entrypoint", 7)), "entrypoint: must be a string");
    EXPECT_EQ(only_error(with(doc, "entrypoint", "")), "entrypoint: must not be empty");
}

TEST(ManifestFields, BooleansEnumsAndIntegers) {
    for (const char* field : {"callable", "is_public", "skills_locked", "allow_local_download"}) {
        EXPECT_EQ(only_error(with(base(), field, "yes")),
                  std::string(field) + ": must be a boolean");
        EXPECT_TRUE(parse_manifest(with(base(), field, false))) << field;
    }
    auto m = parse_manifest(with(with(base(), "callable", false), "is_public", true));
    EXPECT_FALSE(m->callable);
    EXPECT_TRUE(m->is_public);

    EXPECT_EQ(parse_manifest(with(base(), "run_mode", "always_on"))->run_mode, RunMode::kAlwaysOn);
    EXPECT_EQ(only_error(with(base(), "run_mode", "sometimes")),
              "run_mode: must be one of on_demand, always_on (got \"sometimes\")");
    EXPECT_EQ(only_error(with(base(), "run_mode", 1)), "run_mode: must be a string");

    EXPECT_EQ(parse_manifest(with(base(), "timeout_seconds", 1))->timeout_seconds, 1);
    EXPECT_EQ(parse_manifest(with(base(), "timeout_seconds", 3600))->timeout_seconds, 3600);
    for (json bad : {json(0), json(3601), json(-5), json(18446744073709551615ull)}) {
        EXPECT_EQ(only_error(with(base(), "timeout_seconds", bad)),
                  "timeout_seconds: must be between 1 and 3600");
    }
    for (json bad : {json(1.5), json("60"), json(true)}) {
        EXPECT_EQ(only_error(with(base(), "timeout_seconds", bad)),
                  "timeout_seconds: must be an integer");
    }
}

TEST(ManifestFields, StringsAndLists) {
    EXPECT_EQ(only_error(with(base(), "description", 1)), "description: must be a string");
    EXPECT_TRUE(parse_manifest(with(base(), "description", "")));
    EXPECT_EQ(only_error(with(base(), "description", std::string(4097, 'd'))),
              "description: must be at most 4096 bytes (is 4097)");

    auto m = parse_manifest(with(base(), "tags", {"pdf", "ocr"}));
    EXPECT_EQ(m->tags, (std::vector<std::string>{"pdf", "ocr"}));
    EXPECT_EQ(only_error(with(base(), "tags", "pdf")), "tags: must be an array of strings");
    EXPECT_EQ(only_error(with(base(), "tags", {"a", 2})), "tags[1]: must be a string");
    EXPECT_EQ(only_error(with(base(), "tags", {"a", ""})), "tags[1]: must not be empty");
    EXPECT_EQ(only_error(with(base(), "tags", {std::string(51, 't')})),
              "tags[0]: must be at most 50 bytes (is 51)");
    EXPECT_EQ(only_error(with(base(), "tags", json(std::vector<std::string>(21, "t")))),
              "tags: must have at most 20 items (has 21)");

    EXPECT_EQ(parse_manifest(with(base(), "default_endpoint", "analyze"))->default_endpoint,
              "analyze");
    for (const char* bad : {"-x", "a/b", "a b", ".."}) {
        EXPECT_EQ(only_error(with(base(), "default_endpoint", bad)),
                  "default_endpoint: must match ^[A-Za-z0-9][A-Za-z0-9._-]*$ (1-100 characters)")
            << bad;
    }
    EXPECT_EQ(only_error(with(base(), "default_endpoint", 3)),
              "default_endpoint: must be a string");

    EXPECT_EQ(parse_manifest(with(base(), "supported_providers", {"openai", "anthropic"}))
                  ->supported_providers.size(),
              2u);
    EXPECT_EQ(only_error(with(base(), "supported_providers", {{"x", 1}})),
              "supported_providers: must be an array of strings");
    EXPECT_TRUE(parse_manifest(with(base(), "default_models", {{"openai", "gpt-4o"}})));
    EXPECT_EQ(only_error(with(base(), "default_models", {"gpt"})),
              "default_models: must be an object");
    EXPECT_EQ(only_error(with(base(), "default_models", {{"openai", 4}})),
              "default_models.openai: must be a string");

    EXPECT_EQ(only_error(with(base(), "version", "1")), "version: must look like v1, v2, ...");
    EXPECT_EQ(parse_manifest(with(base(), "version", "v12"))->version, "v12");
    EXPECT_EQ(only_error(with(base(), "skill_files", "x")),
              "skill_files: must be an object or an array");
    EXPECT_EQ(only_error(with(base(), "loop", 1)), "loop: must be an object");
    EXPECT_EQ(only_error(with(base(), "environment", "py3")), "environment: must be an object");
    EXPECT_TRUE(parse_manifest(with(base(), "environment", {{"python", "3.11"}})));
}

TEST(ManifestFields, Secrets) {
    auto m = parse_manifest(with(base(), "required_secrets", {"OPENAI_API_KEY", "_x1"}));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->required_secrets, (std::vector<std::string>{"OPENAI_API_KEY", "_x1"}));
    const std::string rule =
        "must be an environment variable name: ^[A-Za-z_][A-Za-z0-9_]*$, at most 128 characters";
    for (const char* field : {"required_secrets", "optional_secrets"}) {
        const std::string f = field;
        EXPECT_EQ(only_error(with(base(), field, "KEY")), f + ": must be an array of strings");
        EXPECT_EQ(only_error(with(base(), field, {"A", "1KEY"})), f + "[1]: " + rule);
        EXPECT_EQ(only_error(with(base(), field, {"A-B"})), f + "[0]: " + rule);
        EXPECT_EQ(only_error(with(base(), field, {"ORCHAGENT_API_KEY"})),
                  f + "[0]: names starting with ORCHAGENT_ are reserved for the platform");
        EXPECT_EQ(only_error(with(base(), field, {std::string(129, 'A')})),
                  f + "[0]: must be at most 128 bytes (is 129)");
    }
}

TEST(ManifestFields, SkillsOrchestrationAndBundle) {
    auto m = parse_manifest(with(base(), "default_skills", {"acme/style@v1", "acme/tone"}));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->default_skills.size(), 2u);
    EXPECT_EQ(only_error(with(base(), "default_skills", {"style"})),
              "default_skills[0]: must look like org/name or org/name@version (letters, digits, "
              "'.', '_', '-')");

    json orch{{"dependencies", {{{"id", "acme/ocr"}, {"version", "v2"}}, {{"id", "acme/x"}}}},
              {"max_hops", 3},
              {"timeout_ms", 30000},
              {"per_call_downstream_cap", 100}};
    auto o = parse_manifest(with(base(), "manifest", orch));
    ASSERT_TRUE(o) << o.error().message();
    ASSERT_TRUE(o->orchestration);
    ASSERT_EQ(o->orchestration->dependencies.size(), 2u);
    EXPECT_EQ(o->orchestration->dependencies[0].id, "acme/ocr");
    EXPECT_EQ(o->orchestration->dependencies[0].version, "v2");
    EXPECT_EQ(o->orchestration->dependencies[1].version, "latest");
    EXPECT_EQ(o->orchestration->max_hops, 3);
    EXPECT_EQ(o->orchestration->timeout_ms, 30000);
    EXPECT_EQ(o->orchestration->per_call_downstream_cap, 100);
    EXPECT_EQ(o->to_json()["manifest"]["dependencies"][1]["version"], "latest");

    EXPECT_EQ(only_error(with(base(), "manifest", 1)), "manifest: must be an object");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"dependencies", "x"}})),
              "manifest.dependencies: must be an array of {id, version} objects");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"dependencies", {"acme/x"}}})),
              "manifest.dependencies[0]: must be an object");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"dependencies", {{{"version", "v1"}}}}})),
              "manifest.dependencies[0].id: is required");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"dependencies", {{{"id", "x"}}}}})),
              "manifest.dependencies[0].id: must look like org/agent");
    EXPECT_EQ(only_error(with(base(), "manifest",
                              {{"dependencies", {{{"id", "a/b"}, {"version", "2"}}}}})),
              "manifest.dependencies[0].version: must be vN or latest");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"max_hops", 0}})),
              "manifest.max_hops: must be between 1 and 10");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"max_hops", "3"}})),
              "manifest.max_hops: must be an integer");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"timeout_ms", 0}})),
              "manifest.timeout_ms: must be between 1 and 3600000");
    EXPECT_EQ(only_error(with(base(), "manifest", {{"per_call_downstream_cap", -1}})),
              "manifest.per_call_downstream_cap: must be between 0 and 1000000000");
    auto u = parse_manifest(with(base(), "manifest", {{"hops", 1}}));
    EXPECT_TRUE(has_warning(u->warnings, "UNKNOWN_FIELD", "manifest.hops"));

    auto b =
        parse_manifest(with(base(), "bundle", {{"include", {"src/**"}}, {"exclude", {"*.csv"}}}));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->bundle.include, (std::vector<std::string>{"src/**"}));
    EXPECT_EQ(b->bundle.exclude, (std::vector<std::string>{"*.csv"}));
    EXPECT_EQ(only_error(with(base(), "bundle", {"x"})), "bundle: must be an object");
    EXPECT_EQ(only_error(with(base(), "bundle", {{"include", "src"}})),
              "bundle.include: must be an array of strings");
    EXPECT_EQ(only_error(with(base(), "bundle", {{"exclude", {"../secret"}}})),
              "bundle.exclude[0]: must be a glob relative to the agent folder (no leading '/', "
              "no \"..\", no '\\')");
}

TEST(ManifestFields, UnknownFieldsWarnOnly) {
    auto m = parse_manifest(with(with(base(), "colour", "blue"), "x-extra", 1));
    ASSERT_TRUE(m);
    ASSERT_EQ(m->warnings.size(), 2u);
    EXPECT_TRUE(has_warning(m->warnings, "UNKNOWN_FIELD", "colour"));
    EXPECT_TRUE(has_warning(m->warnings, "UNKNOWN_FIELD", "x-extra"));
    EXPECT_EQ(m->warnings[0].message, "unknown field; ignored");
    EXPECT_EQ(m->warnings[0].to_json(), (json{{"code", "UNKNOWN_FIELD"},
                                              {"field", "colour"},
                                              {"message", "unknown field; ignored"}}));
}

TEST(ManifestFields, LongStringsAnywhere) {
    json doc = with(base(), "environment", {{"blob", std::string(20000, 'x')}});
    EXPECT_EQ(only_error(doc), "environment.blob: strings must be at most 16384 bytes");
    // A field with its own limit reports that one only.
    EXPECT_EQ(only_error(with(base(), "description", std::string(20000, 'd'))),
              "description: must be at most 4096 bytes (is 20000)");
}

TEST(ManifestErrors, AllCollectedAndJoined) {
    json doc{{"name", "A"},          {"type", "tool"}, {"runtime", {{"command", 5}}},
             {"timeout_seconds", 0}, {"tags", "x"},    {"callable", "no"}};
    auto report = check_manifest(doc);
    EXPECT_FALSE(report.ok());
    EXPECT_FALSE(report.manifest);
    EXPECT_EQ(report.errors.size(), 5u);
    auto m = parse_manifest(doc);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidInput);
    const std::string& msg = m.error().message();
    for (const char* part : {"name: must match", "runtime.command: must be a string",
                             "timeout_seconds: must be between 1 and 3600",
                             "tags: must be an array of strings", "callable: must be a boolean"}) {
        EXPECT_NE(msg.find(part), std::string::npos) << part << " in " << msg;
    }
    EXPECT_NE(msg.find("; "), std::string::npos);
}

TEST(ManifestSchemas, InputAndOutputMustBeDraft7) {
    json schema{{"type", "object"}, {"properties", {{"url", {{"type", "string"}}}}}};
    auto m = parse_manifest(with(with(base(), "input_schema", schema), "output_schema", schema));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->input_schema, schema);
    EXPECT_EQ(m->output_schema, schema);
    EXPECT_EQ(only_error(with(base(), "input_schema", "object")),
              "input_schema: must be an object");
    EXPECT_EQ(only_error(with(base(), "output_schema", json::array())),
              "output_schema: must be an object");
    auto bad = errors_of(with(base(), "input_schema", {{"type", "bogus"}}));
    ASSERT_EQ(bad.size(), 1u);
    EXPECT_EQ(
        bad[0],
        "input_schema: not a valid draft-07 JSON Schema: Unrecognised JSON type name 'bogus'");
    auto bad2 = errors_of(with(base(), "output_schema", {{"properties", 5}}));
    ASSERT_EQ(bad2.size(), 1u);
    EXPECT_TRUE(bad2[0].starts_with("output_schema: not a valid draft-07 JSON Schema")) << bad2[0];
    auto remote = errors_of(with(base(), "input_schema", {{"$ref", "http://example.com/s.json"}}));
    ASSERT_EQ(remote.size(), 1u);
    EXPECT_TRUE(remote[0].starts_with("input_schema: ")) << remote[0];
}

TEST(ManifestSchemas, SchemaFileFallback) {
    json in{{"type", "object"}, {"required", {"text"}}};
    json out{{"type", "object"}};
    ParseOptions options;
    options.schema_file = {{"input", in}, {"output", out}};
    auto m = parse_manifest(base(), options);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->input_schema, in);
    EXPECT_EQ(m->output_schema, out);
    // The manifest's own schema wins, with a warning.
    auto own = parse_manifest(with(base(), "input_schema", out), options);
    EXPECT_EQ(own->input_schema, out);
    EXPECT_EQ(own->output_schema, out);
    EXPECT_TRUE(has_warning(own->warnings, "IGNORED_FIELD", "schema.json.input"));
    options.schema_file = {{"input", {{"type", 5}}}, {"extra", 1}};
    auto report = check_manifest(base(), options);
    ASSERT_EQ(report.errors.size(), 1u);
    EXPECT_TRUE(report.errors[0].to_string().starts_with("schema.json.input: not a valid"));
    EXPECT_TRUE(has_warning(report.warnings, "UNKNOWN_FIELD", "schema.json.extra"));
    options.schema_file = json::array();
    EXPECT_EQ(only_error(base(), options),
              "schema.json: must be an object {\"input\": ..., \"output\": ...}");
}

// File-based tests: a fresh folder under gtest's temp dir, removed afterwards.
class ManifestDir : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::path(::testing::TempDir()) /
               ("manifest_test_" + std::to_string(::getpid()) + "_" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    void write(const std::string& name, const std::string& text) {
        fs::create_directories((dir_ / name).parent_path());
        std::ofstream(dir_ / name, std::ios::binary) << text;
    }
    std::string dir() const { return dir_.string(); }
    fs::path dir_;
};

TEST_F(ManifestDir, JsonWithDetectionSchemaAndPrompt) {
    write("orchagent.json", R"({"name": "reader", "type": "tool"})");
    write("app.py", "print('{}')");
    write("index.js", "");
    write("schema.json", R"({"input": {"type": "object"}, "output": {"type": "object"}})");
    write("prompt.md", "You read files.");
    auto m = load_manifest(dir());
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->entrypoint, "app.py");
    EXPECT_TRUE(m->entrypoint_detected);
    EXPECT_EQ(m->runtime_command, "python3 app.py");
    EXPECT_EQ(m->input_schema, (json{{"type", "object"}}));
    EXPECT_EQ(m->prompt, "You read files.");
}

TEST_F(ManifestDir, ExplicitEntrypointInSubfolder) {
    write("orchagent.json", R"({"name": "reader", "entrypoint": "src/go.js"})");
    write("src/go.js", "");
    auto m = load_manifest(dir());
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->runtime_command, "node src/go.js");
    write("orchagent.json", R"({"name": "reader", "entrypoint": "src/nope.js"})");
    auto bad = load_manifest(dir());
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message(), "entrypoint: file \"src/nope.js\" is not in the agent folder");
}

TEST_F(ManifestDir, MissingEntrypoint) {
    write("orchagent.json", R"({"name": "reader", "type": "tool"})");
    write("notes.txt", "");
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidInput);
    EXPECT_TRUE(m.error().message().starts_with("entrypoint: none found")) << m.error().message();
}

TEST_F(ManifestDir, Yaml) {
    write("orchagent.yaml",
          "name: yaml-agent\n"
          "type: code\n"
          "timeout_seconds: 120\n"
          "callable: false\n"
          "tags: [a, 'b']\n"
          "description: \"123\"\n"
          "runtime:\n"
          "  command: python3 main.py\n"
          "input_schema:\n"
          "  type: object\n"
          "  properties:\n"
          "    n: {type: integer, minimum: 0}\n");
    auto m = load_manifest(dir());
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->name, "yaml-agent");
    EXPECT_EQ(m->type, AgentType::kTool);
    EXPECT_EQ(m->timeout_seconds, 120);
    EXPECT_FALSE(m->callable);
    EXPECT_EQ(m->description, "123");
    EXPECT_EQ(m->tags, (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(has_warning(m->warnings, "DEPRECATED_FIELD", "type"));
    EXPECT_EQ(m->input_schema["properties"]["n"]["minimum"], 0);
}

TEST_F(ManifestDir, YmlAndWrongTypesInYaml) {
    write("orchagent.yml", "name: yml-agent\nruntime:\n  command: 12\ntimeout_seconds: '60'\n");
    auto report = check_manifest_dir(dir());
    std::vector<std::string> errors;
    for (const auto& e : report.errors) errors.push_back(e.to_string());
    EXPECT_EQ(errors, (std::vector<std::string>{"runtime.command: must be a string",
                                                "timeout_seconds: must be an integer"}));
}

TEST_F(ManifestDir, JsonWinsOverYamlWithAWarning) {
    write("orchagent.json", R"({"name": "from-json", "runtime": {"command": "sh x"}})");
    write("orchagent.yaml", "name: from-yaml\n");
    write("orchagent.yml", "name: from-yml\n");
    auto m = load_manifest(dir());
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->name, "from-json");
    EXPECT_TRUE(has_warning(m->warnings, "IGNORED_FIELD", "orchagent.yaml"));
    EXPECT_TRUE(has_warning(m->warnings, "IGNORED_FIELD", "orchagent.yml"));
}

TEST_F(ManifestDir, NoManifestOrNoFolder) {
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message(),
              "no orchagent.json, orchagent.yaml or orchagent.yml in '" + dir() + "'");
    auto none = load_manifest(dir() + "/absent");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message(), "'" + dir() + "/absent' is not a folder");
}

TEST_F(ManifestDir, SyntaxErrors) {
    write("orchagent.json", R"({"name": "x",})");
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_TRUE(
        m.error().message().starts_with("orchagent.json: invalid JSON: parse error at line 1"))
        << m.error().message();
    fs::remove(dir_ / "orchagent.json");
    write("orchagent.yaml", "name: [unclosed\n");
    auto y = load_manifest(dir());
    ASSERT_FALSE(y);
    EXPECT_TRUE(y.error().message().starts_with("orchagent.yaml: YAML: line "))
        << y.error().message();
    write("orchagent.yaml", "- a\n- b\n");
    auto list = load_manifest(dir());
    ASSERT_FALSE(list);
    EXPECT_EQ(list.error().message(), "the manifest must be a JSON object");
}

TEST_F(ManifestDir, InvalidSchemaJson) {
    write("orchagent.json", R"({"name": "ab", "runtime": {"command": "sh x"}})");
    write("schema.json", "{not json");
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_TRUE(m.error().message().starts_with("schema.json: invalid JSON"))
        << m.error().message();
}

TEST_F(ManifestDir, OversizeFiles) {
    write("orchagent.json",
          R"({"name": "ab", "description": ")" + std::string(300 * 1024, 'x') + "\"}");
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message(), "orchagent.json: is " +
                                       std::to_string(fs::file_size(dir_ / "orchagent.json")) +
                                       " bytes, over the 262144-byte limit");

    write("orchagent.json", R"({"name": "ab", "runtime": {"command": "sh x"}})");
    write("schema.json",
          "{\"input\": {\"description\": \"" + std::string(257 * 1024, 'x') + "\"}}");
    auto s = load_manifest(dir());
    ASSERT_FALSE(s);
    EXPECT_TRUE(s.error().message().starts_with("schema.json: is ")) << s.error().message();
    fs::remove(dir_ / "schema.json");

    write("prompt.md", std::string(1024 * 1024 + 1, 'p'));
    auto p = load_manifest(dir());
    ASSERT_FALSE(p);
    EXPECT_EQ(p.error().message(), "prompt.md: is 1048577 bytes, over the 1048576-byte limit");
    write("prompt.md", std::string(1024 * 1024, 'p'));
    EXPECT_TRUE(load_manifest(dir()));
}

TEST_F(ManifestDir, DeepJsonIsRefusedBeforeParsing) {
    write("orchagent.json",
          "{\"name\": \"ab\", \"x\": " + std::string(100000, '[') + std::string(100000, ']') + "}");
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message(), "orchagent.json: nested deeper than 64 levels");
}

TEST_F(ManifestDir, SymlinkedManifestIsRefused) {
    write("real.json", R"({"name": "ab"})");
    fs::create_symlink(dir_ / "real.json", dir_ / "orchagent.json");
    auto m = load_manifest(dir());
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().message(), "orchagent.json: must not be a symbolic link");
}

TEST(ManifestYaml, ScalarsResolveLikeYaml12) {
    auto j = yaml_to_json(
        "a: 1\nb: -2\nc: 1.5\nd: true\ne: False\nf: ~\ng: null\nh: '1'\ni: \"true\"\nj: 0x1F\n"
        "k: 0o17\nl: 1e3\nm: hello\nn:\no: 99999999999999999999999\np: .inf\nq: +3\n");
    ASSERT_TRUE(j) << j.error().message();
    EXPECT_EQ((*j)["a"], 1);
    EXPECT_EQ((*j)["b"], -2);
    EXPECT_EQ((*j)["c"], 1.5);
    EXPECT_EQ((*j)["d"], true);
    EXPECT_EQ((*j)["e"], false);
    EXPECT_TRUE((*j)["f"].is_null());
    EXPECT_TRUE((*j)["g"].is_null());
    EXPECT_EQ((*j)["h"], "1");
    EXPECT_EQ((*j)["i"], "true");
    EXPECT_EQ((*j)["j"], 31);
    EXPECT_EQ((*j)["k"], 15);
    EXPECT_EQ((*j)["l"], 1000.0);
    EXPECT_EQ((*j)["m"], "hello");
    EXPECT_TRUE((*j)["n"].is_null());
    EXPECT_EQ((*j)["o"], "99999999999999999999999");
    EXPECT_EQ((*j)["p"], ".inf");
    EXPECT_EQ((*j)["q"], 3);
}

// "c: &c [*b, *b, ...]" (ten aliases of the previous level).
std::string fmt_alias(char c, char prev) {
    std::string line = std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) line += std::string(i ? ", *" : "*") + prev;
    return line + "]\n";
}

TEST(ManifestYaml, LimitsAndErrors) {
    std::string deep;
    for (int i = 0; i < 80; ++i) deep += "[";
    for (int i = 0; i < 80; ++i) deep += "]";
    auto d = yaml_to_json(deep);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().message(), "YAML: nested deeper than 64 levels (line 1)");
    // Billion laughs: aliases expand past the node cap.
    std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
    char prev = 'a';
    for (char c = 'b'; c <= 'i'; ++c) {
        laughs += fmt_alias(c, prev);
        prev = c;
    }
    auto l = yaml_to_json(laughs);
    ASSERT_FALSE(l);
    EXPECT_EQ(l.error().message(), "YAML: more than 100000 values (after expanding aliases)");
    auto key = yaml_to_json("? [a, b]\n: 1\n");
    ASSERT_FALSE(key);
    EXPECT_EQ(key.error().message(), "YAML: line 1: mapping keys must be scalars");
}

}  // namespace
}  // namespace orchagent::manifest
