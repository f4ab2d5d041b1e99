// POST /{org}/{agent}/{version}/{endpoint}: calling an agent (CONTRACT.md section 4).
#include <fmt/format.h>

#include <charconv>

#include "api/app.hpp"
#include "runtime/skills.hpp"
#include "api/call_auth.hpp"
#include "api/multipart.hpp"
#include "api/upload_folder.hpp"
#include "api/upload_sink.hpp"
#include "core/clock.hpp"
#include "core/ids.hpp"

namespace orchagent::api {
namespace {

using runtime::Principal;

http::Response to_http(const runtime::CallResponse& r) {
    http::Response out = json_response(r.status, r.body);
    for (const auto& [name, value] : r.headers) out.header(name, value);
    return out;
}

http::Response refuse(const Error& e, const http::Request& request) {
    return to_http(runtime::error_envelope(e, request.request_id));
}

constexpr int64_t kIdempotencyWindowMs = 24LL * 3600 * 1000;  // keys are remembered a day

// The answer kept for repeats: status, the headers that describe the call, the body.
store::StoredResponse stored(const http::Response& r) {
    Json headers = Json::array();
    for (const auto& [name, value] : r.headers) {
        if (name == "x-run-id" || name == "Deprecation" || name == "Sunset" || name == "Link")
            headers.push_back({name, value});
    }
    return {.status = r.status, .headers = headers.dump(), .body = r.body};
}

http::Response replay(const store::StoredResponse& s, const http::Request&) {
    http::Response r;
    r.status = s.status;
    r.body = s.body;
    Json headers = Json::parse(s.headers, nullptr, false);
    if (headers.is_array()) {
        for (const auto& h : headers) {
            if (h.is_array() && h.size() == 2 && h[0].is_string() && h[1].is_string())
                r.header(h[0].get<std::string>(), h[1].get<std::string>());
        }
    }
    r.header("Idempotent-Replayed", "true");
    return r;
}

Result<int64_t> integer_header(const http::Request& request, std::string_view name, int64_t min,
                               int64_t max) {
    return parse_int(request.header(name).value_or(""), name, min, max);
}

// Labels and ids from headers and the path: printable ASCII, bounded.
bool is_label(std::string_view s, size_t max) {
    if (s.empty() || s.size() > max) return false;
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
            c != ':' && c != '@' && c != '/')
            return false;
    }
    return true;
}

Result<runtime::CallContext> call_context(const http::Request& request, int64_t now) {
    runtime::CallContext c;
    c.request_id = request.request_id;
    c.endpoint = std::string(request.param("endpoint"));
    if (!is_label(c.endpoint, 64) ||
        c.endpoint.find_first_of("/:@") != std::string::npos) {
        return fail(ErrorCode::kInvalidInput,
                    "endpoint: 1 to 64 characters of letters, digits, '-', '_', '.'");
    }
    if (request.header("x-orchagent-deadline-ms")) {
        auto d = integer_header(request, "X-Orchagent-Deadline-Ms", 0, 1LL << 52);
        if (!d) return std::unexpected(d.error());
        c.deadline_epoch_ms = *d;
    }
    if (request.header("x-orchagent-max-hops")) {
        auto h = integer_header(request, "X-Orchagent-Max-Hops", 0, 100);
        if (!h) return std::unexpected(h.error());
        if (*h == 0) {
            return fail(ErrorCode::kMaxHopsExceeded,
                        "X-Orchagent-Max-Hops is 0: this call would exceed the chain's depth");
        }
        c.max_hops = static_cast<int>(std::min<int64_t>(*h, 10));
    }
    if (auto t = request.header("x-orchagent-tenant")) {
        if (!is_label(*t, 128)) {
            return fail(ErrorCode::kInvalidInput,
                        "X-Orchagent-Tenant: 1 to 128 characters of letters, digits, "
                        "'-', '_', '.', ':', '@', '/'");
        }
        c.tenant = std::string(*t);
    }
    for (const char* name :
         {"x-orchagent-skills", "x-orchagent-skills-only", "x-orchagent-no-skills"}) {
        if (auto v = request.header(name)) c.skills_headers.emplace_back(name, std::string(*v));
    }
    if (auto skills = runtime::parse_skill_headers(c.skills_headers); !skills) {
        return std::unexpected(skills.error());
    }
    (void)now;
    return c;
}

// The body: a JSON object, or multipart with `file` / `files[]` parts and a `metadata` part.
Result<runtime::CallInput> call_input(const http::Request& request, const UploadFolder& folder) {
    runtime::CallInput input;
    const std::string type(request.header("content-type").value_or("application/json"));
    std::string media = type.substr(0, type.find(';'));
    for (char& ch : media) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    if (media == "multipart/form-data") {
        auto boundary = multipart_boundary(type);
        if (!boundary) return std::unexpected(boundary.error());
        UploadSink sink(folder.fd(), {"file", "files[]"});
        MultipartParser parser(*boundary, MultipartLimits{}, sink);
        // 64 KiB at a time, from memory or from the spooled body: never a copy of it all.
        auto fed = request.for_each_body_chunk(
            [&parser](std::string_view chunk) { return parser.feed(chunk); });
        if (!fed) return std::unexpected(fed.error());
        if (auto r = parser.finish(); !r) return std::unexpected(r.error());
        for (const auto& [name, value] : sink.fields()) {
            if (name != "metadata") {
                return fail(ErrorCode::kInvalidInput,
                            fmt::format("multipart: unexpected field '{}' (expected file, "
                                        "files[] and metadata)",
                                        name));
            }
            input.metadata = Json::parse(value, nullptr, false);
            if (input.metadata.is_discarded() || !input.metadata.is_object()) {
                return fail(ErrorCode::kInvalidInput, "multipart: 'metadata' is not a JSON object");
            }
        }
        for (const auto& f : sink.files()) {
            input.files.push_back({.host_path = folder.path() + "/" + f.stored_name,
                                   .original_name = f.original_name,
                                   .content_type = f.content_type,
                                   .movable = true});
        }
        return input;
    }
    // Anything else must be a JSON object, whatever it is labelled (`curl -d` sends
    // application/x-www-form-urlencoded); a body that is not JSON says so. A JSON body past
    // the spool threshold arrives as a file: it is read back (any size up to the route's
    // limit is legal).
    http::Request spooled;
    const http::Request* source = &request;
    if (request.body_file) {
        auto text = request.body_text(kMaxUploadBody);
        if (!text) return std::unexpected(text.error());
        spooled.body = std::move(*text);
        source = &spooled;
    }
    auto body = json_body(*source, Json::object());
    if (!body) return std::unexpected(body.error());
    if (!body->is_object()) return fail(ErrorCode::kInvalidInput, "body: must be a JSON object");
    if (source->body.find_first_not_of(" \t\r\n") == std::string::npos) {
        input.json_body = std::string("{}");
    } else if (source == &spooled) {
        input.json_body = std::move(spooled.body);
    } else {
        input.json_body = request.body;
    }
    return input;
}

}  // namespace

void register_call_routes(http::Router& router, App& app) {
    router.add(
        "POST", "/{org}/{agent}/{version}/{endpoint}",
        call_authed(app,
               [&app](http::Request& request, const Principal& who,
                      const std::shared_ptr<const runtime::ServiceGrant>& grant) {
                   const int64_t accepted = app.clock->now_ms();
                   auto context = call_context(request, accepted);
                   if (!context) return refuse(context.error(), request);
                   // Through a run's gateway: only its declared dependencies, within its
                   // hops, deadline and budget (runtime/service_keys.hpp).
                   auto agent = grant ? runtime::admit_sub_call(grant, *app.calls,
                                                                request.param("org"),
                                                                request.param("agent"),
                                                                request.param("version"),
                                                                *context, system_now_ms())
                                      : app.calls->resolve(who, request.param("org"),
                                                           request.param("agent"),
                                                           request.param("version"));
                   if (!agent) return refuse(agent.error(), request);

                   // Idempotency-Key: a repeat of an answered request gets the first answer.
                   std::optional<std::string> idempotency_key;
                   if (auto k = request.header("idempotency-key")) {
                       if (k->empty() || k->size() > 255 ||
                           std::any_of(k->begin(), k->end(), [](char ch) {
                               return static_cast<unsigned char>(ch) < 0x21 ||
                                      static_cast<unsigned char>(ch) > 0x7e;
                           })) {
                           return refuse(Error(ErrorCode::kInvalidInput,
                                               "Idempotency-Key: 1 to 255 visible ASCII characters"),
                                         request);
                       }
                       idempotency_key = std::string(*k);
                       // Hashed in pieces: a spooled body is never read whole.
                       Sha256 digest;
                       digest.update(request.path + "\n" +
                                     std::string(request.header("content-type").value_or("")) +
                                     "\n");
                       auto hashed = request.for_each_body_chunk([&](std::string_view piece) {
                           digest.update(piece);
                           return Result<void>{};
                       });
                       if (!hashed) return refuse(hashed.error(), request);
                       const std::string hash = digest.hex();
                       auto state = app.store->claim_idempotency(
                           who.org.id, *idempotency_key, hash, app.calls->instance_id(), accepted,
                           accepted - kIdempotencyWindowMs);
                       if (!state) return refuse(state.error(), request);
                       using store::IdempotencyClaim;
                       if (state->claim == IdempotencyClaim::kMismatch) {
                           return refuse(Error(ErrorCode::kUnprocessable,
                                               "Idempotency-Key was used with a different request"),
                                         request);
                       }
                       if (state->claim == IdempotencyClaim::kInProgress) {
                           return refuse(Error(ErrorCode::kConflict,
                                               "the request with this Idempotency-Key is still "
                                               "running"),
                                         request);
                       }
                       if (state->claim == IdempotencyClaim::kReplay) {
                           return replay(state->response, request);
                       }
                   }
                   // From here the claim must be completed or released on every answer.
                   auto answer = [&](http::Response r) {
                       if (idempotency_key) {
                           if (r.status == 429 || r.status == 503) {
                               (void)app.store->release_idempotency(who.org.id, *idempotency_key);
                           } else {
                               (void)app.store->complete_idempotency(who.org.id, *idempotency_key,
                                                                     stored(r));
                           }
                       }
                       return r;
                   };

                   // Rate limit: one call from the key's bucket; refused calls are recorded.
                   // Only the top-level call of a chain counts.
                   runtime::RateState rate;
                   if (app.rate_limiter && !grant) {
                       rate = app.rate_limiter->take(who.key.id, rate_limit_for(app, who), accepted);
                   }
                   auto with_rate = [&](http::Response r) {
                       add_rate_headers(r, rate, accepted);
                       return answer(std::move(r));
                   };
                   if (!rate.allowed) {
                       auto refused = app.calls->refuse(
                           who, *agent, *context,
                           Error(ErrorCode::kRateLimited,
                                 fmt::format("over {} calls per minute for this key; retry in {} s",
                                             rate.limit, rate.retry_after_seconds)));
                       http::Response r = to_http(refused);
                       for (auto& [name, value] : r.headers) {
                           if (name == "Retry-After") value = std::to_string(rate.retry_after_seconds);
                       }
                       return with_rate(std::move(r));
                   }
                   auto folder = UploadFolder::create(app.tmp_dir);
                   if (!folder) return with_rate(refuse(folder.error(), request));
                   auto input = call_input(request, *folder);
                   if (!input)
                       return with_rate(to_http(app.calls->refuse(who, *agent, *context, input.error())));
                   if (auto checked = app.calls->check_files(*agent, *input); !checked) {
                       return with_rate(
                           to_http(app.calls->refuse(who, *agent, *context, checked.error())));
                   }
                   const bool verbose = request.query_param("verbose") == "true";
                   app.metrics->add_gauge("orchagent_runs_in_flight", "", 1);
                   auto outcome = app.calls->call(who, *agent, *input, std::move(*context),
                                                  {.verbose = verbose, .accepted_at_ms = accepted});
                   app.metrics->add_gauge("orchagent_runs_in_flight", "", -1);
                   if (outcome.platform_failure) app.metrics->inc("orchagent_jail_failures_total", "");
                   return with_rate(to_http(outcome));
               }),
        kMaxUploadBody, http::BodyStorage::kAuto, http::HandlerPool::kLong);
}

}  // namespace orchagent::api
