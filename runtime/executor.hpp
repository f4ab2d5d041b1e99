// Running an agent: the operator's policy and the agent's manifest become a JailSpec (the
// only place limits are decided), the input becomes stdin and /tmp/uploads, the JailResult
// becomes the response's data, warnings or error. Used by `orchagent run` and the server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "manifest/manifest.hpp"
#include "runtime/agent_output.hpp"
#include "sandbox/image.hpp"
#include "sandbox/launcher.hpp"

namespace orchagent::runtime {

// What the operator decides for every run (docs/operator.md).
struct OperatorPolicy {
    std::string image_path = "images/host.yaml";
    sandbox::Limits limits;              // memory, pids, CPU, file size, open files, stack
    int max_timeout_seconds = 300;       // caps the agent's timeout_seconds
    uint64_t tmp_bytes = 64ull << 20;    // /tmp
    uint64_t work_bytes = 128ull << 20;  // changes to /home/user
    sandbox::OutputCaps output;
    uint32_t first_host_id = 1u << 30;  // slot n maps to first_host_id + n * 65536
    uint32_t slots = 16;                // concurrent runs
    std::string scratch_dir = "/var/tmp/orchagent-runs";  // per-run upload folders
};

struct ServiceGrant;  // runtime/service_keys.hpp

struct CallContext {
    std::string request_id;
    std::string endpoint = "default";
    std::string tenant;                        // empty: none
    std::optional<int64_t> deadline_epoch_ms;  // X-Orchagent-Deadline-Ms
    int max_hops = 10;
    // X-Orchagent-Skills, -Skills-Only, -No-Skills as sent (names lower-cased): passed on to
    // the calls the agent makes through its gateway.
    std::vector<std::pair<std::string, std::string>> skills_headers;
    // A call made through a run's gateway: that run's grant (nullptr for top-level calls).
    std::shared_ptr<const ServiceGrant> via;
};

// A run's gateway (runtime/gateway.hpp), as the executor needs it: the listener the jail
// makes at 127.0.0.1:port, who takes it once the program runs, and the variables that
// tell the agent where it is and which key to use.
struct RunGateway {
    uint16_t port = 0;
    std::vector<std::pair<std::string, std::string>> env;
    std::function<void(UniqueFd listener)> attach;
    // Called when the program and its processes are gone, before the run's slot (and so its
    // network namespace) goes to another run: the listener and its connections close.
    std::function<void()> close;
};

struct CallInput {
    std::optional<std::string> json_body;  // the JSON body as sent, or
    struct File {
        std::string host_path;      // read by the launcher, copied into the run
        std::string original_name;  // as sent (sanitised for the run)
        std::string content_type;
        // host_path is a file of the caller's own (a server upload) that may be moved into
        // the run instead of copied; never set for a user's file (orchagent run --file).
        bool movable = false;
    };
    std::vector<File> files;                             // multipart files with
    nlohmann::json metadata = nlohmann::json::object();  // the `metadata` part
};

struct CallResult {
    Result<AgentOutput> output;  // the envelope's data and warnings, or its error
    sandbox::JailResult jail;    // what happened, for usage records and --verbose
    bool ran = false;            // false when the deadline had passed already
};

class Executor {
  public:
    static Result<std::unique_ptr<Executor>> create(sandbox::Launcher& launcher,
                                                    OperatorPolicy policy);

    // Runs a code agent whose bundle is unpacked (read-only) at bundle_dir. An Error means
    // the platform failed; everything the agent did is in CallResult::output.
    // With `gateway`, the jail gets its listener and the agent its variables.
    Result<CallResult> run(const manifest::AgentManifest& agent, const std::string& bundle_dir,
                           const CallInput& input, const CallContext& context,
                           const RunGateway* gateway = nullptr);

    // The deadline a run gets: min(agent, operator cap, caller's deadline - now).
    std::chrono::milliseconds budget(const manifest::AgentManifest& agent,
                                     const CallContext& context) const;

  private:
    Executor(sandbox::Launcher& launcher, OperatorPolicy policy, sandbox::ImageSpec image);
    uint32_t acquire_slot();
    void release_slot(uint32_t slot);

    sandbox::Launcher& launcher_;
    OperatorPolicy policy_;
    sandbox::ImageSpec image_;
    std::mutex mutex_;
    std::condition_variable slot_free_;
    std::vector<uint32_t> free_slots_;
};

}  // namespace orchagent::runtime
