#include "runtime/calls.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <chrono>

#include "core/ids.hpp"
#include "core/unique_fd.hpp"
#include "manifest/manifest.hpp"
#include "manifest/stdin_manifest.hpp"
#include "runtime/file_types.hpp"
#include "runtime/skills.hpp"
#include "runtime/llm.hpp"
#include "runtime/gateway.hpp"

namespace orchagent::runtime {
namespace {

using Json = nlohmann::json;

std::string cut(std::string_view text) {
    return manifest::to_valid_utf8(text.substr(0, std::min(text.size(), kUsageOutputBytes)));
}

}  // namespace

std::shared_ptr<const nlohmann::json> Calls::view_of(const store::Agent& a) const {
    const auto key = std::pair(a.id, a.updated_at);
    {
        std::lock_guard lock(views_mutex_);
        if (auto it = views_.find(key); it != views_.end()) return it->second;
    }
    Json doc = Json::parse(a.document, nullptr, false);
    auto view = std::make_shared<const Json>(
        doc.is_object() && doc.contains("view") && doc["view"].is_object() ? doc["view"] : Json::object());
    std::lock_guard lock(views_mutex_);
    if (views_.size() > 1024) views_.clear();
    views_.emplace(key, view);
    return view;
}

CallResponse error_envelope(const Error& error, const std::string& request_id) {
    CallResponse r;
    r.status = error.http_status();
    r.body = {{"error",
               {{"code", error.info().code},
                {"message", error.message()},
                {"is_retryable", error.retryable()}}},
              {"metadata", {{"request_id", request_id}}}};
    if (error.retryable() && (r.status == 429 || r.status == 503)) r.headers.emplace_back("Retry-After", "1");
    return r;
}

Calls::Calls(store::Store& store, const Clock& clock, Agents& agents, BundleCache& cache,
             Executor& executor, CallLimits limits, std::string instance_id)
    : store_(store),
      clock_(clock),
      agents_(agents),
      cache_(cache),
      executor_(executor),
      limits_(limits),
      instance_id_(std::move(instance_id)) {}

PlanLimits Calls::plan_for(const store::Org& org) const {
    if (auto it = limits_.org_plans.find(org.slug); it != limits_.org_plans.end()) return it->second;
    return limits_.plan;
}

int64_t Calls::price_for(const Principal& caller, const store::Agent& agent) {
    if (agent.org_id == caller.org.id || agent.pricing_mode != "per_call") return 0;
    return std::max<int64_t>(agent.price_per_call_cents, 0);
}

store::CallStart Calls::start_of(const Principal& caller, const store::Agent& agent) const {
    const PlanLimits plan = plan_for(caller.org);
    return {.calls_per_day = plan.calls_per_day,
            .executions_per_day = plan.executions_per_day,
            .execution = view_of(agent)->value("execution_engine", Json(nullptr)) != Json("direct_llm"),
            .price_cents = price_for(caller, agent)};
}

CallResponse Calls::refusal(const store::StartOutcome& outcome, const store::CallStart& start,
                            const CallContext& context) const {
    if (outcome.refusal == store::StartRefusal::kInsufficientCredits) {
        CallResponse r = error_envelope(
            Error(ErrorCode::kInsufficientCredits,
                  fmt::format("this agent costs {} cents per call and your balance is {} cents;"
                              " add credits with POST /billing/checkout",
                              start.price_cents, outcome.balance_cents)),
            context.request_id);
        r.body["error"]["balance_cents"] = outcome.balance_cents;
        r.body["error"]["price_cents"] = start.price_cents;
        return r;
    }
    const bool calls = outcome.refusal == store::StartRefusal::kCallsPerDay;
    const int64_t now = clock_.now_ms();
    const int64_t next_day = (now / 86'400'000 + 1) * 86'400'000;
    const int64_t retry_after = std::max<int64_t>(1, (next_day - now + 999) / 1000);
    CallResponse r = error_envelope(
        Error(ErrorCode::kRateLimited,
              fmt::format("your plan allows {} {} per day (UTC) and today's are used; retry in {} s",
                          outcome.limit, calls ? "calls" : "executions", retry_after)),
        context.request_id);
    r.body["error"]["limit"] = outcome.limit;
    r.body["error"]["retry_after_seconds"] = retry_after;
    for (auto& [name, value] : r.headers) {
        if (name == "Retry-After") value = std::to_string(retry_after);
    }
    return r;
}

Result<int64_t> Calls::recover() { return store_.fail_running_calls(instance_id_, clock_.now_ms()); }

Result<store::Agent> Calls::resolve(const Principal& caller, std::string_view org,
                                    std::string_view name, std::string_view version) {
    auto found = store_.find_agent(org, name, version);
    if (!found) return std::unexpected(found.error());
    if (!*found) {
        return fail(ErrorCode::kNotFound, fmt::format("agent {}/{}@{} not found", org, name, version));
    }
    store::Agent& a = **found;
    if (a.org_id != caller.org.id && !a.is_public) {
        return fail(ErrorCode::kForbidden,
                    fmt::format("{}/{} is a private agent of another org", org, name));
    }
    if (lifecycle(a, clock_.now_ms()) == Lifecycle::kSunset) {
        return fail(ErrorCode::kNotFound,
                    fmt::format("{}/{} {} was retired on {}; call {} instead", org, name, a.version,
                                format_http_date(*a.sunset_at),
                                a.successor_version.value_or("latest")));
    }
    return std::move(a);
}

Result<manifest::AgentManifest> Calls::manifest_of(const store::Agent& a,
                                                   const std::string& bundle_dir) {
    const auto key = std::pair(a.id, a.updated_at);
    {
        std::lock_guard lock(manifests_mutex_);
        if (auto it = manifests_.find(key); it != manifests_.end()) return it->second;
    }
    Json doc = Json::parse(a.document, nullptr, false);
    if (!doc.is_object() || !doc.contains("source")) {
        return fail(ErrorCode::kInternalError, "stored agent document is damaged");
    }
    manifest::ParseOptions options;
    options.files = manifest::list_agent_files(bundle_dir);
    auto m = manifest::parse_manifest(doc["source"], options);
    if (!m) return std::unexpected(m.error());
    if (a.entrypoint && !m->entrypoint) m->entrypoint = a.entrypoint;
    m->version = a.version;
    std::lock_guard lock(manifests_mutex_);
    if (manifests_.size() > 1024) manifests_.clear();
    manifests_.emplace(key, *m);
    return m;
}

Result<void> Calls::check_files(const store::Agent& agent, CallInput& input) {
    if (input.files.empty()) return {};
    std::vector<std::string> accept;
    const auto held = view_of(agent);
    const Json& view = *held;
    if (auto schema = view.find("input_schema"); schema != view.end() && schema->is_object()) {
        if (auto list = schema->find("accept"); list != schema->end() && list->is_array()) {
            for (const auto& entry : *list) {
                if (entry.is_string()) accept.push_back(entry.get<std::string>());
            }
        }
    }
    for (auto& file : input.files) {
        struct stat st {};
        if (::stat(file.host_path.c_str(), &st) != 0) return fail_errno("stat", file.host_path);
        if (static_cast<uint64_t>(st.st_size) > kMaxUploadFileBytes) {
            return fail(ErrorCode::kDocumentTooLarge,
                        fmt::format("file '{}' is {} bytes; the limit is {} bytes",
                                    manifest::to_valid_utf8(file.original_name), st.st_size,
                                    kMaxUploadFileBytes));
        }
        auto sniffed = sniff_file(file.host_path);
        if (!sniffed) return std::unexpected(sniffed.error());
        if (*sniffed != "application/octet-stream" && *sniffed != "application/x-empty") {
            file.content_type = *sniffed;
        } else if (file.content_type.empty()) {
            file.content_type = "application/octet-stream";
        }
        if (!accept.empty() && !accepts(accept, *sniffed, file.original_name)) {
            std::string list;
            for (const auto& a : accept) list += (list.empty() ? "" : ", ") + a;
            return fail(ErrorCode::kUnsupportedType,
                        fmt::format("file '{}' is {} by its content; this agent accepts {}",
                                    manifest::to_valid_utf8(file.original_name), *sniffed, list));
        }
    }
    return {};
}

store::UsageRecord Calls::new_record(const Principal& caller, const store::Agent& agent,
                                     const CallContext& context, int64_t started) const {
    store::UsageRecord r{.id = new_id("run"),
                         .request_id = context.request_id,
                         .org_id = caller.org.id,
                         .key_id = caller.key.id,
                         .tenant = context.tenant,
                         .agent_id = agent.id,
                         .agent_org_id = agent.org_id,
                         .agent_name = agent.name,
                         .version = agent.version,
                         .endpoint = context.endpoint,
                         .started_at = started,
                         .instance_id = instance_id_};
    if (context.via) r.parent_run_id = context.via->run_id;
    // The skills that apply: the agent's defaults and the caller's headers (validated by the
    // call route; a header that no longer parses counts as absent).
    const auto held = view_of(agent);
    const Json& view = *held;
    std::vector<std::string> defaults;
    if (auto d = view.find("default_skills"); d != view.end() && d->is_array()) {
        for (const auto& s : *d) {
            if (s.is_string()) defaults.push_back(s.get<std::string>());
        }
    }
    const bool locked = view.value("skills_locked", false);
    const auto request = parse_skill_headers(context.skills_headers);
    for (const auto& s : effective_skills(defaults, locked, request.value_or(SkillRequest{}))) {
        r.skills += (r.skills.empty() ? "" : ",") + s;
    }
    return r;
}

CallResponse Calls::refuse(const Principal& caller, const store::Agent& agent,
                           const CallContext& context, const Error& error) {
    CallResponse response = error_envelope(error, context.request_id);
    const int64_t now = clock_.now_ms();
    store::UsageRecord record = new_record(caller, agent, context, now);
    record.status = error.code() == ErrorCode::kTimeout ? "timeout" : "error";
    record.error_code = std::string(error.info().code);
    record.http_status = response.status;
    record.completed_at = now;
    if (auto r = store_.record_calls({record}); !r) {
        return error_envelope(r.error().with_context("recording the call"), context.request_id);
    }
    response.run_id = record.id;
    response.headers.emplace_back("x-run-id", record.id);
    return response;
}

CallResponse Calls::call(const Principal& caller, const store::Agent& agent,
                         const CallInput& input, CallContext context,
                         const CallOptions& options) {
    const int64_t started = clock_.now_ms();
    store::UsageRecord record = new_record(caller, agent, context, started);
    CallResponse response;
    // Admission: at most max_running in the jail, max_waiting in line, the rest refused now.
    // A waiting call gives up at its caller's deadline (TIMEOUT) or after max_wait_ms.
    bool admitted = false;
    bool queue_full = false;
    bool started_run = false;
    {
        std::unique_lock lock(admit_mutex_);
        if (admitted_ < limits_.max_running) {
            admitted = true;
        } else if (waiting_ < limits_.max_waiting) {
            ++waiting_;
            int64_t wait_ms = limits_.max_wait_ms;
            if (context.deadline_epoch_ms) {
                wait_ms = std::min(wait_ms, *context.deadline_epoch_ms - clock_.now_ms());
            }
            admitted = admit_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(wait_ms, 0)),
                                          [&] { return admitted_ < limits_.max_running; });
            --waiting_;
        } else {
            queue_full = true;
        }
        if (admitted) ++admitted_;
    }
    if (!admitted) {
        const bool deadline_passed =
            !queue_full && context.deadline_epoch_ms && *context.deadline_epoch_ms <= clock_.now_ms();
        response = error_envelope(
            deadline_passed
                ? Error(ErrorCode::kTimeout, "the call's deadline passed while it waited for a turn")
                : Error(ErrorCode::kServiceUnavailable, "too many calls in progress; retry shortly")
                      .with_retryable(true),
            context.request_id);
    } else {
        ScopeGuard release([&] {
            std::lock_guard lock(admit_mutex_);
            --admitted_;
            admit_cv_.notify_one();
        });
        // The record exists before the run starts, with the plan counted and the price
        // reserved in the same transaction: a crash leaves it "running", and the next start
        // marks it failed and refunds the reservation.
        const store::CallStart start = start_of(caller, agent);
        auto outcome = store_.start_call(record, start);
        if (!outcome) {
            return error_envelope(outcome.error().with_context("recording the call"), context.request_id);
        }
        if (outcome->refusal != store::StartRefusal::kNone) {
            response = refusal(*outcome, start, context);
        } else {
            started_run = true;
            record.price_cents = start.price_cents;
            running_++;
            response = run_admitted(caller, agent, input, context, options, record);
            running_--;
        }
    }

    const int64_t finished = clock_.now_ms();
    record.http_status = response.status;
    record.completed_at = finished;
    record.duration_ms = finished - started;
    if (response.status != 200) {
        const std::string code = response.body["error"].value("code", "INTERNAL_ERROR");
        record.error_code = code;
        record.status = code == "TIMEOUT" ? "timeout" : "error";
    } else {
        record.status = "success";
    }
    response.run_id = record.id;
    response.headers.emplace_back("x-run-id", record.id);
    if (started_run) {
        if (auto r = store_.finish_call(record); !r) {
            return error_envelope(r.error().with_context("recording the call"), context.request_id);
        }
    } else {
        (void)store_.record_calls({record});  // a refused call is recorded complete at once
    }
    // Deprecated versions say so on every answer.
    if (agent.deprecated_at) {
        response.headers.emplace_back("Deprecation", "true");
        if (agent.sunset_at) response.headers.emplace_back("Sunset", format_http_date(*agent.sunset_at));
        if (agent.successor_version) {
            response.headers.emplace_back(
                "Link", fmt::format("</{}/{}/{}/{}>; rel=\"successor-version\"", agent.org_slug,
                                    agent.name, *agent.successor_version, context.endpoint));
        }
    }
    return response;
}

CallResponse Calls::run_admitted(const Principal& caller, const store::Agent& agent,
                                 const CallInput& input, CallContext& context,
                                 const CallOptions& options, store::UsageRecord& record) {
    const auto held = view_of(agent);
    const Json& view = *held;
    if (view.value("execution_engine", Json(nullptr)) == Json("direct_llm")) {
        if (!llm_) {
            return error_envelope(Error(ErrorCode::kLlmError,
                                        "this server has no LLM provider configured for prompt agents"),
                                  context.request_id);
        }
        auto m = manifest_of(agent, "");  // prompt agents have no bundle
        if (!m) return error_envelope(m.error(), context.request_id);
        return run_prompt_call(*llm_, *m, input, context, executor_.budget(*m, context), clock_,
                               options, record);
    }
    auto archive = agents_.bundle_path(agent);
    if (!archive) {
        return error_envelope(Error(ErrorCode::kNotFound,
                                    fmt::format("{}/{} {} has no code bundle: upload one first",
                                                agent.org_slug, agent.name, agent.version)),
                              context.request_id);
    }
    auto platform_error = [&](const Error& e) {
        CallResponse r = error_envelope(e, context.request_id);
        r.platform_failure = true;
        return r;
    };
    auto dir = cache_.get_or_unpack(*archive);
    if (!dir) return platform_error(dir.error());
    auto m = manifest_of(agent, *dir);
    if (!m) return error_envelope(m.error(), context.request_id);

    // An agent with dependencies gets its gateway and service key for this run only.
    std::optional<Gateway::Session> gateway;
    if (gateway_ != nullptr && m->orchestration && !m->orchestration->dependencies.empty()) {
        gateway.emplace(gateway_->open(make_grant(caller, agent, *m, context, record.id,
                                                  run_deadline_ms(executor_, *m, context))));
    }
    auto ran = executor_.run(*m, *dir, input, context, gateway ? &gateway->run_gateway() : nullptr);
    gateway.reset();
    if (!ran) return platform_error(ran.error());

    record.execution_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ran->jail.wall).count();
    record.cpu_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ran->jail.cpu_user + ran->jail.cpu_system).count();
    record.peak_memory_bytes = static_cast<int64_t>(ran->jail.peak_memory_bytes);
    if (ran->ran && ran->jail.exit_code >= 0) record.exit_code = ran->jail.exit_code;
    record.stdout_text = cut(ran->jail.stdout_data);
    record.stderr_text = cut(ran->jail.stderr_tail);
    record.executed = ran->ran;

    const int64_t processing = clock_.now_ms() - options.accepted_at_ms;
    CallResponse response;
    if (!ran->output) {
        response = error_envelope(ran->output.error(), context.request_id);
    } else {
        response.status = 200;
        response.body = {{"data", ran->output->data},
                         {"warnings", ran->output->warnings},
                         {"metadata",
                          {{"request_id", context.request_id},
                           {"processing_time_ms", processing},
                           {"version", agent.version}}}};
    }
    Json& meta = response.body["metadata"];
    meta["version"] = agent.version;
    meta["processing_time_ms"] = processing;
    meta["run_id"] = record.id;
    if (ran->ran) {
        meta["execution_time_ms"] = record.execution_ms;
        meta["compute"] = ran->output ? ran->output->compute : compute_metadata(ran->jail);
    }
    if (options.verbose) {
        meta["stdout"] = manifest::to_valid_utf8(ran->jail.stdout_data);
        meta["stderr"] = manifest::to_valid_utf8(ran->jail.stderr_tail);
    }
    return response;
}

}  // namespace orchagent::runtime
