#include "cli/agent_commands.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "manifest/manifest.hpp"
#include "runtime/bundle.hpp"
#include "runtime/locate.hpp"
#include "runtime/bundle_writer.hpp"
#include "runtime/executor.hpp"
#include "sandbox/launcher.hpp"

namespace orchagent::cli {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using runtime::find_image;
using runtime::find_unpack_helper;
using runtime::host_base_for;

std::string dump(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::replace); }

std::string cache_root() {
    if (const char* env = std::getenv("ORCHAGENT_CACHE")) return env;
    if (::geteuid() == 0) return "/var/cache/orchagent/bundles";
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    return xdg ? fmt::format("{}/orchagent/bundles", xdg)
               : fmt::format("{}/.cache/orchagent/bundles", home ? home : "/tmp");
}


std::string new_request_id() {
    std::random_device rd;
    return fmt::format("req_{:08x}{:08x}", rd(), rd());
}

Json error_envelope(const Error& e, const std::string& request_id) {
    return {{"error",
             {{"code", e.info().code}, {"message", e.message()}, {"is_retryable", e.retryable()}}},
            {"metadata", {{"request_id", request_id}}}};
}

// Reads --input: inline JSON or @FILE.
Result<std::string> read_input(const std::string& arg) {
    if (!arg.starts_with("@")) return arg;
    std::ifstream in(arg.substr(1), std::ios::binary);
    if (!in) return fail_errno("open", arg.substr(1), errno, ErrorCode::kInvalidInput);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string guess_content_type(const fs::path& path) {
    static const std::pair<const char*, const char*> kTypes[] = {
        {".pdf", "application/pdf"}, {".png", "image/png"},         {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},     {".gif", "image/gif"},         {".txt", "text/plain"},
        {".csv", "text/csv"},        {".json", "application/json"}, {".md", "text/markdown"},
        {".html", "text/html"},      {".zip", "application/zip"}};
    std::string ext = path.extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (auto [e, type] : kTypes) {
        if (ext == e) return type;
    }
    return "application/octet-stream";
}

struct RunOptions {
    std::string target;
    std::string input;
    std::vector<std::string> files;
    std::string metadata;
    std::string endpoint = "default";
    double timeout_seconds = 0;
};

// Runs an agent folder or bundle file as the server would, printing the envelope.
int run_agent(const RunOptions& o) {
    const auto started = std::chrono::steady_clock::now();
    const std::string request_id = new_request_id();
    auto fail_with = [&](const Error& e) {
        std::cout << dump(error_envelope(e, request_id)) << "\n";
        return 1;
    };

    auto launcher = sandbox::Launcher::create();
    if (!launcher) return fail_with(launcher.error());
    auto jail = runtime::make_unpack_jail(find_image(), find_unpack_helper());
    if (!jail) return fail_with(jail.error());
    std::error_code ec;
    fs::create_directories(cache_root(), ec);
    runtime::BundleCache cache(**launcher, std::move(*jail), cache_root(), {}, host_base_for(1));

    // A folder is bundled first, exactly as `orchagent bundle` would for an upload.
    std::string archive = o.target;
    std::optional<fs::path> temporary;
    if (fs::is_directory(o.target)) {
        temporary = fs::temp_directory_path() / fmt::format("orchagent-{}.zip", request_id);
        auto written = runtime::write_bundle_zip(o.target, temporary->string());
        if (!written) return fail_with(written.error());
        for (const auto& w : written->warnings) std::cerr << "orchagent: bundle: " << w << "\n";
        archive = temporary->string();
    }
    auto bundle_dir = cache.get_or_unpack(archive);
    if (temporary) fs::remove(*temporary, ec);
    if (!bundle_dir) return fail_with(bundle_dir.error());

    auto agent = manifest::load_manifest(*bundle_dir);
    if (!agent) return fail_with(agent.error());
    for (const auto& w : agent->warnings)
        std::cerr << "orchagent: manifest: " << w.field << ": " << w.message << "\n";
    if (o.timeout_seconds > 0)
        agent->timeout_seconds = static_cast<int>(std::ceil(o.timeout_seconds));

    runtime::CallInput input;
    if (!o.files.empty()) {
        for (const auto& f : o.files) {
            input.files.push_back({.host_path = fs::absolute(f).string(),
                                   .original_name = fs::path(f).filename().string(),
                                   .content_type = guess_content_type(f)});
        }
        if (!o.metadata.empty()) {
            input.metadata = Json::parse(o.metadata, nullptr, false);
            if (input.metadata.is_discarded() || !input.metadata.is_object()) {
                return fail_with(Error(ErrorCode::kInvalidInput, "--metadata: not a JSON object"));
            }
        }
    } else {
        auto body = read_input(o.input.empty() ? "{}" : o.input);
        if (!body) return fail_with(body.error());
        Json parsed = Json::parse(*body, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) {
            return fail_with(
                Error(ErrorCode::kInvalidInput, "--input: the body must be a JSON object"));
        }
        input.json_body = *body;
    }

    runtime::OperatorPolicy policy;
    policy.image_path = find_image();
    policy.slots = 1;
    policy.first_host_id = host_base_for(0);
    policy.scratch_dir = (fs::temp_directory_path() / "orchagent-runs").string();
    auto executor = runtime::Executor::create(**launcher, policy);
    if (!executor) return fail_with(executor.error());
    runtime::CallContext context{.request_id = request_id, .endpoint = o.endpoint};
    auto ran = (*executor)->run(*agent, *bundle_dir, input, context);
    if (!ran) return fail_with(ran.error());
    if (!ran->output) return fail_with(ran->output.error());

    auto ms = [](auto d) {
        return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    Json envelope = {{"data", ran->output->data},
                     {"warnings", ran->output->warnings},
                     {"metadata",
                      {{"request_id", request_id},
                       {"processing_time_ms", ms(std::chrono::steady_clock::now() - started)},
                       {"version", agent->version.value_or("local")},
                       {"execution_time_ms", ms(ran->jail.wall)},
                       {"compute", ran->output->compute}}}};
    for (const auto& w : agent->warnings) envelope["warnings"].push_back(w.to_json());
    std::cout << dump(envelope) << "\n";
    return 0;
}

int validate_agent(const std::string& dir) {
    auto report = manifest::check_manifest_dir(dir);
    for (const auto& e : report.errors) std::cout << "error: " << e.to_string() << "\n";
    for (const auto& w : report.warnings) {
        std::cout << "warning: " << (w.field.empty() ? "" : w.field + ": ") << w.message << " ("
                  << w.code << ")\n";
    }
    if (report.ok()) {
        const auto& m = *report.manifest;
        std::cout << fmt::format(
            "ok: {} ({}, {}{})\n", m.name, manifest::to_string(m.type),
            m.execution_engine ? manifest::to_string(*m.execution_engine) : "not executed",
            m.runtime_command ? ", runs `" + *m.runtime_command + "`" : "");
    }
    return report.ok() ? 0 : 1;
}

int bundle_agent(const std::string& dir, const std::string& out) {
    auto report = manifest::check_manifest_dir(dir);
    if (!report.ok()) {
        for (const auto& e : report.errors) std::cerr << "orchagent: " << e.to_string() << "\n";
        return 1;
    }
    auto written = runtime::write_bundle_zip(dir, out);
    if (!written) {
        std::cerr << "orchagent: " << written.error().message() << "\n";
        return 1;
    }
    for (const auto& w : written->warnings) std::cerr << "orchagent: skipped: " << w << "\n";
    std::cout << fmt::format("{}: {} files, {} bytes\n", out, written->files, written->bytes);
    return 0;
}

}  // namespace

void add_agent_commands(CLI::App& app, int& exit_code) {
    auto run = std::make_shared<RunOptions>();
    auto* run_cmd = app.add_subcommand(
        "run",
        "Run an agent folder or bundle locally, in the same jail the server uses, and "
        "print the response envelope (exit 0 on success, 1 on an error envelope)");
    run_cmd->add_option("agent", run->target, "agent folder or bundle (.zip, .tar, .tar.gz)")
        ->required();
    run_cmd->add_option("--input", run->input, "JSON body, or @FILE");
    run_cmd->add_option("--file", run->files, "a file to upload (repeatable)");
    run_cmd->add_option("--metadata", run->metadata, "JSON metadata sent with the files");
    run_cmd->add_option("--endpoint", run->endpoint, "endpoint label (ORCHAGENT_ENDPOINT)")
        ->capture_default_str();
    run_cmd->add_option("--timeout", run->timeout_seconds, "deadline in seconds");
    run_cmd->callback([run, &exit_code] { exit_code = run_agent(*run); });

    auto dir = std::make_shared<std::string>();
    auto out = std::make_shared<std::string>();
    auto* bundle_cmd = app.add_subcommand("bundle", "Build the upload zip of an agent folder");
    bundle_cmd->add_option("dir", *dir, "agent folder")->required();
    bundle_cmd->add_option("-o,--output", *out, "zip to write")->required();
    bundle_cmd->callback([dir, out, &exit_code] { exit_code = bundle_agent(*dir, *out); });

    auto vdir = std::make_shared<std::string>();
    auto* validate_cmd = app.add_subcommand(
        "validate", "Check an agent folder's manifest and schemas (exit 0 when valid)");
    validate_cmd->add_option("dir", *vdir, "agent folder")->required();
    validate_cmd->callback([vdir, &exit_code] { exit_code = validate_agent(*vdir); });
}

}  // namespace orchagent::cli
