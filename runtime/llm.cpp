#include "runtime/llm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "core/http_client.hpp"
#include "manifest/json_limits.hpp"
#include "manifest/json_schema.hpp"
#include "manifest/stdin_manifest.hpp"

namespace orchagent::runtime {
namespace {

using Json = nlohmann::json;
using std::chrono::milliseconds;

constexpr std::size_t kMaxDetailBytes = 500;  // provider text kept in a record's stderr

bool name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// "a.b.c" -> {"a", "b", "c"}; empty when `text` is not a field path.
std::vector<std::string_view> field_path(std::string_view text) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t dot = text.find('.', start);
        std::string_view seg =
            text.substr(start, dot == std::string_view::npos ? text.npos : dot - start);
        if (seg.empty() || !std::ranges::all_of(seg, name_char)) return {};
        out.push_back(seg);
        if (dot == std::string_view::npos) return out;
        start = dot + 1;
    }
}

const Json* lookup(const Json& input, const std::vector<std::string_view>& path) {
    const Json* at = &input;
    for (auto seg : path) {
        if (!at->is_object()) return nullptr;
        auto it = at->find(std::string(seg));
        if (it == at->end()) return nullptr;
        at = &*it;
    }
    return at;
}

// True when the schema names this field under `properties` at every level.
bool declared(const Json& schema, const std::vector<std::string_view>& path) {
    const Json* at = &schema;
    for (auto seg : path) {
        if (!at->is_object()) return false;
        auto props = at->find("properties");
        if (props == at->end() || !props->is_object()) return false;
        auto it = props->find(std::string(seg));
        if (it == props->end()) return false;
        at = &*it;
    }
    return true;
}

std::string compact(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() &&
           (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
        s.remove_prefix(1);
    while (!s.empty() &&
           (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

std::string cut(std::string_view text, std::size_t max) {
    return manifest::to_valid_utf8(text.substr(0, std::min(text.size(), max)));
}

void replace_all(std::string& text, std::string_view what, std::string_view with) {
    if (what.empty()) return;
    for (size_t at = text.find(what); at != std::string::npos;
         at = text.find(what, at + with.size())) {
        text.replace(at, what.size(), with);
    }
}

Error llm_error(std::string message, bool retryable = true) {
    Error e(ErrorCode::kLlmError, std::move(message));
    e.with_retryable(retryable);
    return e;
}

// The provider's own words about a failure: error.code or error.type, and error.message.
std::pair<std::string, std::string> provider_error(std::string_view body) {
    if (manifest::text_exceeds_depth(body, kMaxReplyDepth)) return {};
    Json doc = Json::parse(body, nullptr, false);
    if (!doc.is_object()) return {};
    const Json* err = doc.contains("error") ? &doc["error"] : nullptr;
    if (err == nullptr) return {};
    if (err->is_string()) return {"", err->get<std::string>()};
    if (!err->is_object()) return {};
    std::string code;
    for (const char* field : {"code", "type"}) {
        if (auto it = err->find(field); it != err->end() && it->is_string() && code.empty()) {
            code = it->get<std::string>();
        }
    }
    std::string message;
    if (auto it = err->find("message"); it != err->end() && it->is_string())
        message = it->get<std::string>();
    return {cut(code, 64), message};
}

}  // namespace

Result<void> check_llm_config(LlmConfig& c) {
    auto bad = [](std::string_view key, std::string_view what) {
        return fail(ErrorCode::kInvalidInput, fmt::format("llm.{}: {}", key, what));
    };
    while (c.base_url.ends_with('/')) c.base_url.pop_back();
    if (!c.base_url.starts_with("http://") && !c.base_url.starts_with("https://")) {
        return bad("base_url",
                   "must be an http:// or https:// URL (e.g. https://api.openai.com/v1)");
    }
    if (c.base_url.find_first_of(" \t\r\n?#") != std::string::npos) {
        return bad("base_url", "must not hold blanks, a query or a fragment");
    }
    if (c.model.empty()) return bad("model", "is required");
    if (c.provider.empty()) return bad("provider", "must not be empty");
    if (c.timeout_seconds < 1 || c.timeout_seconds > 3600)
        return bad("timeout_seconds", "must be 1 to 3600");
    if (c.max_response_bytes < 1024 || c.max_response_bytes > (64u << 20))
        return bad("max_response_bytes", "must be 1024 to 67108864");
    if (c.max_prompt_bytes < 1024 || c.max_prompt_bytes > (16u << 20))
        return bad("max_prompt_bytes", "must be 1024 to 16777216");
    return {};
}

Result<void> load_llm_key(LlmConfig& c) {
    c.api_key.clear();
    if (c.api_key_env.empty()) return {};
    const char* value = std::getenv(c.api_key_env.c_str());
    if (value == nullptr || *value == '\0') {
        return fail(
            ErrorCode::kInvalidInput,
            fmt::format("llm.api_key_env: the environment variable {} is {}; set it to the "
                        "provider's API key, or remove api_key_env for a provider without one",
                        c.api_key_env, value == nullptr ? "not set" : "empty"));
    }
    c.api_key = value;
    if (c.api_key.find_first_of("\r\n") != std::string::npos) {
        return fail(
            ErrorCode::kInvalidInput,
            fmt::format("llm.api_key_env: the value of {} holds a line break", c.api_key_env));
    }
    return {};
}

Result<std::string> fill_prompt(std::string_view prompt, const Json& input,
                                const Json& input_schema, std::size_t max_bytes) {
    std::string out;
    std::vector<std::string> missing;
    std::size_t placeholders = 0;
    auto too_large = [&] {
        return fail(ErrorCode::kDocumentTooLarge,
                    fmt::format("the prompt filled from the input is over {} bytes", max_bytes));
    };
    size_t pos = 0;
    while (pos < prompt.size()) {
        const size_t open = prompt.find("{{", pos);
        const size_t close = open == prompt.npos ? prompt.npos : prompt.find("}}", open + 2);
        const size_t literal_end = close == prompt.npos ? prompt.size() : open;
        out.append(prompt.substr(pos, literal_end - pos));
        if (out.size() > max_bytes) return too_large();
        if (close == prompt.npos) break;
        const auto path = field_path(trim(prompt.substr(open + 2, close - open - 2)));
        if (path.empty()) {  // not a placeholder: keep one '{' and look again after it
            out.push_back('{');
            pos = open + 1;
            continue;
        }
        if (++placeholders > kMaxPromptPlaceholders) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("the agent's prompt has more than {} placeholders",
                                    kMaxPromptPlaceholders));
        }
        if (const Json* value = lookup(input, path)) {
            if (value->is_string()) {
                out += value->get_ref<const std::string&>();
            } else {
                out += compact(*value);
            }
            if (out.size() > max_bytes) return too_large();
        } else if (!declared(input_schema, path)) {
            std::string name(prompt.substr(open + 2, close - open - 2));
            name = std::string(trim(name));
            if (std::ranges::find(missing, name) == missing.end())
                missing.push_back(std::move(name));
        }
        pos = close + 2;
    }
    if (!missing.empty()) {
        std::string list;
        for (const auto& m : missing)
            list += fmt::format("{}{{{{{}}}}}", list.empty() ? "" : ", ", m);
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("input: the agent's prompt uses {} but the input has no such "
                                "field{}",
                                list, missing.size() > 1 ? "s" : ""));
    }
    return out;
}

Json reply_data(std::string_view text) {
    std::string_view inner = trim(text);
    // One fence around the whole reply: ```json\n...\n``` (any or no language tag).
    if (inner.size() >= 6 && inner.starts_with("```") && inner.ends_with("```")) {
        const size_t newline = inner.find('\n');
        if (newline != std::string_view::npos && newline < inner.size() - 3) {
            std::string_view body = inner.substr(newline + 1, inner.size() - 3 - newline - 1);
            if (body.find("```") == std::string_view::npos) inner = trim(body);
        }
    }
    if (!inner.empty() && (inner.front() == '{' || inner.front() == '[') &&
        !manifest::text_exceeds_depth(inner, kMaxReplyDepth)) {
        Json parsed = Json::parse(inner, nullptr, false);
        if (parsed.is_object() || parsed.is_array()) return parsed;
    }
    return {{"result", manifest::to_valid_utf8(text)}};
}

Result<LlmReply> parse_chat_reply(std::string_view body) {
    auto malformed = [](std::string_view what) {
        return std::unexpected(
            llm_error(fmt::format("the LLM provider's answer is not a chat completion: {}", what)));
    };
    if (manifest::text_exceeds_depth(body, kMaxReplyDepth)) return malformed("nested too deeply");
    Json doc = Json::parse(body, nullptr, false);
    if (doc.is_discarded()) return malformed("not JSON");
    if (!doc.is_object()) return malformed("not a JSON object");
    auto choices = doc.find("choices");
    if (choices == doc.end() || !choices->is_array() || choices->empty()) {
        return malformed("no choices");
    }
    const Json& choice = (*choices)[0];
    if (!choice.is_object() || !choice.contains("message") || !choice["message"].is_object()) {
        return malformed("choices[0].message is missing");
    }
    const Json& message = choice["message"];
    LlmReply reply;
    auto content = message.find("content");
    if (content == message.end() || content->is_null() ||
        (content->is_string() && content->get_ref<const std::string&>().empty())) {
        if (auto refusal = message.find("refusal");
            refusal != message.end() && refusal->is_string()) {
            return fail(ErrorCode::kUnprocessable,
                        "the model declined: " + cut(refusal->get<std::string>(), kMaxDetailBytes));
        }
        if (content == message.end() || content->is_null()) {
            return malformed("choices[0].message.content is missing");
        }
    } else if (!content->is_string()) {
        return malformed("choices[0].message.content is not a string");
    }
    reply.text = content->get<std::string>();
    reply.data = reply_data(reply.text);
    if (choice.value("finish_reason", Json()) == Json("length")) {
        reply.warnings.push_back({{"code", "TRUNCATED"},
                                  {"message",
                                   "the model stopped at its output token limit; the "
                                   "reply is cut short"}});
    }
    if (auto model = doc.find("model"); model != doc.end() && model->is_string()) {
        reply.model = cut(model->get<std::string>(), 200);
    }
    if (auto usage = doc.find("usage"); usage != doc.end() && usage->is_object()) {
        Json u = Json::object();
        for (const char* field : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
            auto it = usage->find(field);
            if (it != usage->end() && it->is_number_integer() && it->get<int64_t>() >= 0) {
                u[field] = it->get<int64_t>();
            }
        }
        if (!u.empty()) reply.usage = std::move(u);
    }
    return reply;
}

std::string LlmClient::model_for(const manifest::AgentManifest& agent) const {
    if (agent.default_models.is_object()) {
        auto it = agent.default_models.find(config_.provider);
        if (it != agent.default_models.end() && it->is_string() &&
            !it->get_ref<const std::string&>().empty()) {
            return it->get<std::string>();
        }
    }
    return config_.model;
}

std::string LlmClient::scrub(std::string text) const {
    if (config_.api_key.size() >= 4) replace_all(text, config_.api_key, "[redacted]");
    return text;
}

LlmRun LlmClient::run(const manifest::AgentManifest& agent, const CallInput& input,
                      milliseconds budget) const {
    LlmRun run;
    run.model = model_for(agent);
    auto failed = [&](Result<LlmReply> error) {
        run.reply = std::move(error);
        return std::move(run);
    };
    if (budget.count() <= 0) {
        return failed(fail(ErrorCode::kTimeout, "the call's deadline had passed before it ran"));
    }
    if (!input.files.empty()) {
        return failed(
            fail(ErrorCode::kUnsupportedType,
                 "prompt agents take a JSON body; files are not sent to the LLM provider"));
    }
    if (!agent.prompt || agent.prompt->empty()) {
        return failed(fail(ErrorCode::kInvalidInput, "this prompt agent has no prompt"));
    }
    if (!agent.supported_providers.empty() &&
        std::ranges::find(agent.supported_providers, config_.provider) ==
            agent.supported_providers.end() &&
        std::ranges::find(agent.supported_providers, "any") == agent.supported_providers.end()) {
        std::string list;
        for (const auto& p : agent.supported_providers) list += (list.empty() ? "" : ", ") + p;
        return failed(std::unexpected(
            llm_error(fmt::format("this agent supports the LLM provider(s) {}; this server's "
                                  "provider is {}",
                                  list, config_.provider),
                      false)));
    }
    // The input object: the JSON body, or a multipart call's metadata.
    Json in = input.metadata.is_object() ? input.metadata : Json::object();
    if (input.json_body && !trim(*input.json_body).empty()) {
        if (manifest::text_exceeds_depth(*input.json_body, manifest::kMaxSchemaDepth)) {
            return failed(fail(ErrorCode::kInvalidInput, "the body is nested too deeply"));
        }
        in = Json::parse(*input.json_body, nullptr, false);
        if (!in.is_object())
            return failed(fail(ErrorCode::kInvalidInput, "body: must be a JSON object"));
    }
    if (!agent.input_schema.is_null()) {
        auto problems = manifest::validate_against_schema(agent.input_schema, in);
        if (!problems) return failed(std::unexpected(problems.error()));
        if (!problems->empty()) {
            return failed(
                fail(ErrorCode::kInvalidInput,
                     manifest::join_errors(*problems, "input does not match input_schema: ")));
        }
    }
    auto prompt = fill_prompt(*agent.prompt, in, agent.input_schema, config_.max_prompt_bytes);
    if (!prompt) return failed(std::unexpected(prompt.error()));

    Json messages = Json::array();
    if (!agent.output_schema.is_null()) {
        messages.push_back({{"role", "system"},
                            {"content",
                             "Answer with a single JSON value and nothing else (no prose, no code "
                             "fence). It must conform to this JSON Schema: " +
                                 compact(agent.output_schema)}});
    }
    messages.push_back({{"role", "user"}, {"content", std::move(*prompt)}});
    const Json body = {{"model", run.model}, {"messages", std::move(messages)}};

    const milliseconds operator_limit(int64_t{config_.timeout_seconds} * 1000);
    const bool deadline_bound = budget < operator_limit;
    http_client::Request request;
    request.url = config_.base_url + "/chat/completions";
    request.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
    if (!config_.api_key.empty())
        request.headers.emplace_back("Authorization", "Bearer " + config_.api_key);
    request.body = compact(body);
    request.timeout = std::min(operator_limit, budget);
    request.connect_timeout = std::min(request.timeout, milliseconds(10'000));
    request.max_response_bytes = config_.max_response_bytes;
    run.request_body = request.body;

    const auto start = std::chrono::steady_clock::now();
    auto sent = http_client::send(request);
    const auto elapsed =
        std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start);
    run.sent = true;
    run.provider_ms = elapsed.count();
    if (!sent) {
        // Which limit ended the request decides the code: the caller's deadline is TIMEOUT,
        // the operator's provider timeout is the provider's failure.
        if (elapsed + milliseconds(20) >= request.timeout) {
            if (deadline_bound) {
                return failed(fail(ErrorCode::kTimeout,
                                   fmt::format("the call's deadline passed while the LLM provider "
                                               "was answering (after {} ms)",
                                               elapsed.count())));
            }
            return failed(std::unexpected(llm_error(fmt::format(
                "the LLM provider did not answer within {} s", config_.timeout_seconds))));
        }
        std::string what = sent.error().message();
        replace_all(what, request.method + " " + request.url + ": ", "");
        replace_all(what, request.url, "the LLM provider");
        return failed(
            std::unexpected(llm_error("the LLM provider could not be reached: " + scrub(what))));
    }
    run.response_body = sent->body;
    if (sent->status < 200 || sent->status > 299) {
        auto [code, message] = provider_error(sent->body);
        // A 4xx other than 408, 409 and 429 says the request itself is refused (bad key,
        // unknown model, prompt too long): the same call will fail again.
        const bool retryable = sent->status >= 500 || sent->status == 408 || sent->status == 409 ||
                               sent->status == 429 || sent->status < 400;
        return failed(std::unexpected(
            llm_error(fmt::format("the LLM provider answered HTTP {}{}", sent->status,
                                  code.empty() ? "" : fmt::format(" ({})", scrub(code))),
                      retryable)));
    }
    auto reply = parse_chat_reply(sent->body);
    if (reply && !agent.output_schema.is_null()) {
        auto problems = manifest::validate_against_schema(agent.output_schema, reply->data);
        if (problems) {
            for (const auto& p : *problems) {
                reply->warnings.push_back(
                    {{"code", "OUTPUT_SCHEMA_MISMATCH"},
                     {"field", p.path},
                     {"message", "output does not match output_schema: " + p.to_string()}});
            }
        }
    }
    if (!reply)
        return failed(std::unexpected(Error(reply.error().code(), scrub(reply.error().message()))
                                          .with_retryable(reply.error().retryable())));
    run.reply = std::move(reply);
    return run;
}

CallResponse run_prompt_call(const LlmClient& llm, const manifest::AgentManifest& agent,
                             const CallInput& input, const CallContext& context,
                             milliseconds budget, const Clock& clock, const CallOptions& options,
                             store::UsageRecord& record) {
    LlmRun run = llm.run(agent, input, budget);
    record.execution_ms = run.provider_ms;
    std::string detail;
    if (run.reply) {
        record.stdout_text = cut(run.reply->text, kUsageOutputBytes);
    } else {
        detail = run.reply.error().message();
        const std::string for_caller = detail;
        // The provider's own message goes to the owner's logs, not to the caller.
        if (!run.response_body.empty()) {
            auto [code, message] = provider_error(run.response_body);
            const std::string said = message.empty() ? run.response_body : message;
            detail += "\nprovider said: " + cut(said, kMaxDetailBytes);
        }
        replace_all(detail, llm.config().api_key.size() >= 4 ? llm.config().api_key : "",
                    "[redacted]");
        record.stderr_text = cut(detail, kUsageOutputBytes);
        detail = for_caller;  // ?verbose=true shows the caller only what the error says
    }
    const int64_t processing = clock.now_ms() - options.accepted_at_ms;
    CallResponse response;
    if (!run.reply) {
        response = error_envelope(run.reply.error(), context.request_id);
    } else {
        response.status = 200;
        response.body = {{"data", std::move(run.reply->data)},
                         {"warnings", std::move(run.reply->warnings)},
                         {"metadata", {{"request_id", context.request_id}}}};
    }
    Json& meta = response.body["metadata"];
    meta["version"] = agent.version.value_or("");
    meta["processing_time_ms"] = processing;
    meta["run_id"] = record.id;
    if (run.sent) {
        meta["execution_time_ms"] = run.provider_ms;
        meta["model"] = run.reply && !run.reply->model.empty() ? run.reply->model : run.model;
        if (run.reply && !run.reply->usage.is_null()) meta["llm_usage"] = run.reply->usage;
    }
    if (options.verbose) {
        meta["stdout"] = run.reply ? manifest::to_valid_utf8(run.reply->text) : std::string();
        meta["stderr"] = detail;
    }
    return response;
}

}  // namespace orchagent::runtime
