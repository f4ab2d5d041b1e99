#include "runtime/executor.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "manifest/json_schema.hpp"
#include "manifest/stdin_manifest.hpp"

namespace orchagent::runtime {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

int64_t now_epoch_ms() {
    return std::chrono::duration_cast<milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// A folder for one run's uploads, removed with its owner. Only root writes it; the agent
// sees it read-only, so removing it follows no link the agent could have planted.
class ScratchDir {
  public:
    static Result<ScratchDir> make(const std::string& root, const std::string& request_id) {
        std::error_code ec;
        fs::create_directories(root, ec);
        if (ec) return fail_errno("mkdir", root, ec.value());
        ::chmod(root.c_str(), 0711);
        std::string dir = fmt::format("{}/{}-{}", root, request_id, ::getpid());
        if (::mkdir(dir.c_str(), 0755) != 0) return fail_errno("mkdir", dir);
        return ScratchDir(dir);
    }
    ScratchDir(ScratchDir&& other) noexcept : path_(std::exchange(other.path_, "")) {}
    ~ScratchDir() {
        std::error_code ec;
        if (!path_.empty()) fs::remove_all(path_, ec);
    }
    const std::string& path() const { return path_; }

  private:
    explicit ScratchDir(std::string path) : path_(std::move(path)) {}
    std::string path_;
};

// Copies a caller's file into the run's upload folder as `name`, read-only to the agent.
Result<uint64_t> copy_upload(const std::string& from, const std::string& to, bool movable) {
    std::error_code ec;
    if (!fs::is_regular_file(fs::symlink_status(from, ec))) {
        return fail(ErrorCode::kInvalidInput, fmt::format("'{}' is not a regular file", from));
    }
    // A server upload is moved (same filesystem: no second copy of 25 MB); a user's file,
    // or one on another filesystem, is copied.
    if (!movable || ::rename(from.c_str(), to.c_str()) != 0) {
        fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
        if (ec) return fail_errno("copy", from, ec.value());
    }
    ::chmod(to.c_str(), 0444);
    return static_cast<uint64_t>(fs::file_size(to, ec));
}

}  // namespace

Executor::Executor(sandbox::Launcher& launcher, OperatorPolicy policy, sandbox::ImageSpec image)
    : launcher_(launcher), policy_(std::move(policy)), image_(std::move(image)) {
    for (uint32_t s = policy_.slots; s > 0; --s) free_slots_.push_back(s - 1);
}

Result<std::unique_ptr<Executor>> Executor::create(sandbox::Launcher& launcher,
                                                   OperatorPolicy policy) {
    if (policy.slots == 0) return fail(ErrorCode::kInvalidInput, "policy.slots: at least 1");
    if (uint64_t{policy.first_host_id} + uint64_t{policy.slots} * 65536 > 0xFFFFFFFFull) {
        return fail(ErrorCode::kInvalidInput, "policy.first_host_id: the slots pass the last id");
    }
    auto image = sandbox::load_image(policy.image_path);
    if (!image) return std::unexpected(image.error());
    return std::unique_ptr<Executor>(new Executor(launcher, std::move(policy), std::move(*image)));
}

uint32_t Executor::acquire_slot() {
    std::unique_lock lock(mutex_);
    slot_free_.wait(lock, [this] { return !free_slots_.empty(); });
    uint32_t slot = free_slots_.back();
    free_slots_.pop_back();
    return slot;
}

void Executor::release_slot(uint32_t slot) {
    {
        std::lock_guard lock(mutex_);
        free_slots_.push_back(slot);
    }
    slot_free_.notify_one();
}

milliseconds Executor::budget(const manifest::AgentManifest& agent,
                              const CallContext& context) const {
    milliseconds limit(int64_t{std::min(agent.timeout_seconds, policy_.max_timeout_seconds)} *
                       1000);
    if (context.deadline_epoch_ms) {
        limit = std::min(limit, milliseconds(*context.deadline_epoch_ms - now_epoch_ms()));
    }
    return limit;
}

Result<CallResult> Executor::run(const manifest::AgentManifest& agent,
                                 const std::string& bundle_dir, const CallInput& input,
                                 const CallContext& context, const RunGateway* gateway) {
    CallResult result;
    if (!agent.is_code() || !agent.runtime_command) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("agent '{}' has no code to run (type {})", agent.name,
                                manifest::to_string(agent.type)));
    }
    const milliseconds timeout = budget(agent, context);
    if (timeout.count() <= 0) {
        result.output = fail(ErrorCode::kTimeout, "the call's deadline had passed before it ran");
        return result;
    }
    // A JSON body must match input_schema before anything runs.
    if (input.json_body && !input.json_body->empty() && !agent.input_schema.is_null()) {
        auto body = nlohmann::json::parse(*input.json_body, nullptr, false);
        if (body.is_discarded()) {
            result.output = fail(ErrorCode::kInvalidInput, "the body is not valid JSON");
            return result;
        }
        auto problems = manifest::validate_against_schema(agent.input_schema, body);
        if (!problems) return std::unexpected(problems.error());
        if (!problems->empty()) {
            result.output =
                fail(ErrorCode::kInvalidInput,
                     manifest::join_errors(*problems, "input does not match input_schema: "));
            return result;
        }
    }
    auto argv = manifest::split_command(*agent.runtime_command);
    if (!argv) return std::unexpected(argv.error());

    sandbox::JailSpec spec;
    spec.argv = std::move(*argv);
    spec.cwd = "/home/user";
    spec.limits = policy_.limits;
    spec.output = policy_.output;
    spec.timeout = timeout;
    spec.mounts = sandbox::jail_mounts(image_, {.tmp_bytes = policy_.tmp_bytes,
                                                .work_bytes = policy_.work_bytes,
                                                .work_source = bundle_dir});
    std::vector<std::pair<std::string, std::string>> env = {
        {"HOME", "/home/user"},
        {"ORCHAGENT_REQUEST_ID", context.request_id},
        {"ORCHAGENT_DEADLINE_MS", std::to_string(now_epoch_ms() + timeout.count())},
        {"ORCHAGENT_MAX_HOPS", std::to_string(context.max_hops)},
        {"ORCHAGENT_ENDPOINT", context.endpoint},
    };
    if (!context.tenant.empty()) env.emplace_back("ORCHAGENT_TENANT", context.tenant);
    sandbox::RunHooks hooks;
    if (gateway != nullptr) {
        env.insert(env.end(), gateway->env.begin(), gateway->env.end());
        spec.listener.port = gateway->port;
        hooks.on_listener = gateway->attach;
    }
    spec.env = sandbox::jail_env(image_, env);

    // Input: the JSON body as sent, or the files and their manifest.
    std::optional<ScratchDir> scratch;
    if (!input.files.empty()) {
        auto made = ScratchDir::make(policy_.scratch_dir, context.request_id);
        if (!made) return std::unexpected(made.error());
        scratch.emplace(std::move(*made));
        std::vector<manifest::UploadedFile> uploaded;
        for (size_t i = 0; i < input.files.size(); ++i) {
            const auto& file = input.files[i];
            std::string name = manifest::sanitize_upload_name(file.original_name, i);
            auto size = copy_upload(file.host_path, scratch->path() + "/" + name, file.movable);
            if (!size) return std::unexpected(size.error());
            uploaded.push_back({.path = manifest::upload_path(file.original_name, i),
                                .original_name = file.original_name,
                                .content_type = file.content_type,
                                .size_bytes = *size});
        }
        spec.mounts.push_back({.kind = sandbox::MountKind::kBind,
                               .source = scratch->path(),
                               .target = std::string(manifest::kUploadsDir)});
        spec.stdin_source =
            sandbox::StdinBuffer{manifest::build_stdin_manifest(uploaded, input.metadata).dump()};
    } else if (input.json_body) {
        spec.stdin_source = sandbox::StdinBuffer{*input.json_body};
    } else {
        // A multipart call without files still gets the manifest, with its metadata.
        spec.stdin_source = sandbox::StdinBuffer{manifest::build_stdin_manifest({}, input.metadata).dump()};
    }

    const uint32_t slot = acquire_slot();
    spec.identity.host_base = policy_.first_host_id + slot * 65536;
    auto ran = launcher_.run(spec, hooks);
    if (gateway != nullptr && gateway->close) gateway->close();
    release_slot(slot);
    if (!ran) return std::unexpected(ran.error());
    result.ran = true;
    result.jail = std::move(*ran);
    result.output = interpret_run(result.jail);
    // Output that does not match output_schema is a warning, not a failure.
    if (result.output && !agent.output_schema.is_null()) {
        auto problems = manifest::validate_against_schema(agent.output_schema, result.output->data);
        if (problems && !problems->empty()) {
            for (const auto& p : *problems) {
                result.output->warnings.push_back(
                    {{"code", "OUTPUT_SCHEMA_MISMATCH"},
                     {"field", p.path},
                     {"message", "output does not match output_schema: " + p.to_string()}});
            }
        }
    }
    return result;
}

}  // namespace orchagent::runtime
