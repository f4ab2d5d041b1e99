#include "cli/jail_command.hpp"

#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "sandbox/image.hpp"
#include "sandbox/launcher.hpp"

namespace orchagent::cli {
namespace {

struct JailOptions {
    std::string image = "images/host.yaml";
    double timeout_seconds = 10;
    uint64_t memory_mib = 512;
    uint32_t pids = 64;
    uint32_t cpu_millicores = 1000;
    std::string stdin_file;
    std::vector<std::string> binds, binds_rw, env;
    bool json = false;
    bool no_cgroups = false;
    std::vector<std::string> command;
};

nlohmann::json to_json(const sandbox::JailResult& r) {
    auto us = [](auto d) { return static_cast<int64_t>(d.count()); };
    return {{"exit_code", r.exit_code},
            {"term_signal", r.term_signal},
            {"timed_out", r.timed_out},
            {"oom_killed", r.oom_killed},
            {"stdout_overflow", r.stdout_overflow},
            {"stderr_truncated", r.stderr_truncated},
            {"stdout_bytes", r.stdout_bytes},
            {"stderr_bytes", r.stderr_bytes},
            {"wall_us", us(r.wall)},
            {"cpu_user_us", us(r.cpu_user)},
            {"cpu_system_us", us(r.cpu_system)},
            {"peak_memory_bytes", r.peak_memory_bytes},
            {"peak_pids", r.peak_pids},
            {"limits_mode", sandbox::to_string(r.limits_mode)},
            {"warnings", r.warnings}};
}

// SRC or SRC:DST
sandbox::Mount bind_of(const std::string& arg, bool writable) {
    auto colon = arg.find(':');
    std::string source = arg.substr(0, colon);
    std::string target = colon == std::string::npos ? source : arg.substr(colon + 1);
    return {.kind = sandbox::MountKind::kBind,
            .source = source,
            .target = target,
            .writable = writable};
}

int run_jail(const JailOptions& o) {
    auto image = sandbox::load_image(o.image);
    if (!image) {
        std::cerr << "orchagent jail: " << image.error().message() << "\n";
        return 2;
    }
    auto launcher = sandbox::Launcher::create({.use_cgroups = !o.no_cgroups});
    if (!launcher) {
        std::cerr << "orchagent jail: " << launcher.error().message() << "\n";
        return 2;
    }
    sandbox::JailSpec spec;
    spec.argv = o.command;
    std::vector<std::pair<std::string, std::string>> extra;
    for (const auto& kv : o.env) {
        auto eq = kv.find('=');
        extra.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
    }
    spec.env = sandbox::jail_env(*image, extra);
    spec.mounts = sandbox::jail_mounts(*image, {});
    for (const auto& b : o.binds) spec.mounts.push_back(bind_of(b, false));
    for (const auto& b : o.binds_rw) spec.mounts.push_back(bind_of(b, true));
    spec.cwd = "/home/user";
    // One process, one run: a host id range chosen from our pid so that concurrent
    // `orchagent jail` processes do not share host ids. The daemon allocates slots instead.
    spec.identity.host_base = (1u << 30) + (static_cast<uint32_t>(::getpid()) % 16384) * 65536;
    spec.limits.memory_bytes = o.memory_mib << 20;
    spec.limits.max_pids = o.pids;
    spec.limits.cpu_millicores = o.cpu_millicores;
    spec.timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds * 1000));
    if (!o.stdin_file.empty()) spec.stdin_source = sandbox::StdinFile{o.stdin_file};

    auto result = (*launcher)->run(spec);
    if (!result) {
        std::cerr << "orchagent jail: " << result.error().message() << "\n";
        return 2;
    }
    std::cout << result->stdout_data << std::flush;
    std::cerr << result->stderr_tail;
    nlohmann::json summary = to_json(*result);
    if (o.json) {
        std::cerr << summary.dump(2) << "\n";
    }
    if (result->timed_out) return 124;
    if (result->term_signal != 0) return 128 + result->term_signal;
    return result->exit_code;
}

}  // namespace

void add_jail_command(CLI::App& app, int& exit_code) {
    auto options = std::make_shared<JailOptions>();
    auto* cmd = app.add_subcommand(
        "jail", "Run a command in the jail (default image images/host.yaml) and report");
    cmd->add_option("--image", options->image, "image definition (YAML)")->capture_default_str();
    cmd->add_option("--timeout", options->timeout_seconds, "deadline in seconds")
        ->capture_default_str();
    cmd->add_option("--memory", options->memory_mib, "memory limit in MiB")->capture_default_str();
    cmd->add_option("--pids", options->pids, "process limit")->capture_default_str();
    cmd->add_option("--cpu", options->cpu_millicores, "CPU in millicores (1000 = one core)")
        ->capture_default_str();
    cmd->add_option("--stdin", options->stdin_file, "file to give the command as stdin");
    cmd->add_option("--bind", options->binds, "read-only bind SRC[:DST] (repeatable)");
    cmd->add_option("--bind-rw", options->binds_rw, "writable bind SRC[:DST] (repeatable)");
    cmd->add_option("--env", options->env, "KEY=VALUE added to the image's environment");
    cmd->add_flag("--json", options->json, "print the jail's measurements as JSON on stderr");
    cmd->add_flag("--no-cgroups", options->no_cgroups, "use the rlimit-only fallback");
    cmd->add_option("command", options->command, "the command and its arguments (after --)")
        ->required();
    cmd->callback([options, &exit_code] { exit_code = run_jail(*options); });
}

}  // namespace orchagent::cli
