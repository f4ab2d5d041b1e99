// /agents: publish, read, change, delete, fork, pricing, bundle upload and download, logs.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "api/app.hpp"
#include "api/upload_folder.hpp"
#include "api/multipart.hpp"
#include "api/upload_sink.hpp"
#include "core/ids.hpp"
#include "core/unique_fd.hpp"
#include "runtime/bundle.hpp"

namespace orchagent::api {
namespace {

using runtime::Principal;

Json warnings_json(const std::vector<manifest::FieldWarning>& warnings) {
    Json out = Json::array();
    for (const auto& w : warnings) out.push_back(w.to_json());
    return out;
}

Result<void> write_file(const std::string& path, std::string_view bytes) {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("open", path);
    while (!bytes.empty()) {
        ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("write", path);
        }
        bytes.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

// A spooled request body (an anonymous O_TMPFILE file) becomes the file `path` without
// passing through memory: given a name by linkat() through /proc/self/fd when the spool folder
// is on the same file system, else copied by the kernel (sendfile). `path` must not exist.
Result<void> materialise(const http::BodyFile& body, const std::string& path) {
    const std::string proc = fmt::format("/proc/self/fd/{}", body.fd.get());
    if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(), AT_SYMLINK_FOLLOW) == 0) {
        return {};
    }
    // EXDEV (another file system), or ENOENT (a spool file that was named and unlinked, on a
    // file system without O_TMPFILE: it cannot be linked again).
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out) return fail_errno("open", path);
    off_t offset = 0;  // pread-like: the shared descriptor's own offset is left alone
    while (static_cast<uint64_t>(offset) < body.size) {
        const ssize_t n =
            ::sendfile(out.get(), body.fd.get(), &offset,
                       static_cast<size_t>(body.size - static_cast<uint64_t>(offset)));
        if (n < 0) {
            if (errno == EINTR) continue;
            const bool full = errno == ENOSPC || errno == EDQUOT;
            return fail_errno("sendfile", path, errno,
                              full ? ErrorCode::kServiceUnavailable : ErrorCode::kInternalError);
        }
        if (n == 0) {
            return fail(ErrorCode::kInternalError,
                        fmt::format("sendfile '{}': the request body ended at {} of {} bytes", path,
                                    offset, body.size));
        }
    }
    if (::close(out.release()) != 0 && errno != EINTR) return fail_errno("close", path);
    return {};
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The uploaded archive as a file in `folder`: a multipart part named `file` or `bundle`,
// or the raw body of a zip/gzip/tar request.
Result<std::string> receive_archive(const http::Request& request, const UploadFolder& folder) {
    const std::string type = lower(request.header("content-type").value_or(""));
    const std::string media = type.substr(0, type.find(';'));
    if (media == "multipart/form-data") {
        auto boundary = multipart_boundary(request.header("content-type").value_or(""));
        if (!boundary) return std::unexpected(boundary.error());
        UploadSink sink(folder.fd(), {"file", "bundle"});
        MultipartLimits limits;
        limits.max_total_bytes = kMaxUploadBody;
        MultipartParser parser(*boundary, limits, sink);
        // 64 KiB at a time, from memory or from the spooled body: never a copy of it all.
        auto fed = request.for_each_body_chunk(
            [&parser](std::string_view chunk) { return parser.feed(chunk); });
        if (!fed) return std::unexpected(fed.error());
        if (auto r = parser.finish(); !r) return std::unexpected(r.error());
        if (sink.files().empty()) {
            return fail(ErrorCode::kInvalidInput,
                        "multipart: no part named 'file' or 'bundle' holds the archive");
        }
        if (sink.files().size() > 1) {
            return fail(ErrorCode::kInvalidInput, "multipart: send one archive per upload");
        }
        return folder.path() + "/" + sink.files().front().stored_name;
    }
    static const std::set<std::string> kRaw = {
        "application/zip", "application/x-zip-compressed", "application/gzip",
        "application/x-gzip", "application/x-tar", "application/octet-stream"};
    if (!kRaw.contains(media)) {
        return fail(ErrorCode::kUnsupportedType,
                    fmt::format("Content-Type '{}': send multipart/form-data with a 'file' part, "
                                "or an application/zip, application/gzip or application/x-tar body",
                                media));
    }
    const std::string path = folder.path() + "/body";
    if (request.body_file) {
        if (auto r = materialise(*request.body_file, path); !r) return std::unexpected(r.error());
        return path;
    }
    if (auto r = write_file(path, request.body); !r) return std::unexpected(r.error());
    return path;
}

Result<std::string> read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail_errno("open", path);
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
}

std::string archive_type(std::string_view bytes) {
    if (bytes.starts_with("PK")) return "application/zip";
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
        static_cast<unsigned char>(bytes[1]) == 0x8b)
        return "application/gzip";
    return "application/x-tar";
}

}  // namespace

// Shared with the public routes: the archive of a version as the response body.
http::Response bundle_response(App& app, const store::Agent& agent, const http::Request& request) {
    auto path = app.agents->bundle_path(agent);
    if (!path) return error_of(path.error(), request);
    auto bytes = read_file(*path);
    if (!bytes) return error_of(bytes.error(), request);
    http::Response r;
    r.content_type = archive_type(*bytes);
    const char* ext = r.content_type == "application/zip" ? "zip"
                      : r.content_type == "application/gzip" ? "tar.gz" : "tar";
    r.header("Content-Disposition",
             fmt::format("attachment; filename=\"{}-{}.{}\"", agent.name, agent.version, ext));
    r.body = std::move(*bytes);
    return r;
}

void register_agent_routes(http::Router& router, App& app) {
    router.add("GET", "/agents", authed(app, [&app](http::Request& request, const Principal& who) {
                   auto all = app.store->list_agents(who.org.id);
                   if (!all) return error_of(all.error(), request);
                   const int64_t now = app.clock->now_ms();
                   Json list = Json::array();
                   for (const auto& a : *all) list.push_back(runtime::owner_view(a, now));
                   return json_response(200, list);
               }));

    router.add("POST", "/agents", authed(app, [&app](http::Request& request, const Principal& who) {
                   auto body = json_body(request);
                   if (!body) return error_of(body.error(), request);
                   auto published = app.agents->publish(who, *body);
                   if (!published) return error_of(published.error(), request);
                   return json_response(
                       201, {{"agent", runtime::owner_view(published->agent, app.clock->now_ms())},
                             {"warnings", warnings_json(published->warnings)}});
               }),
               kMaxPublishBody);

    router.add("GET", "/agents/{id}",
               authed(app, [&app](http::Request& request, const Principal& who) {
                   auto a = app.agents->owned(who, request.param("id"));
                   if (!a) return error_of(a.error(), request);
                   return json_response(200, runtime::owner_view(*a, app.clock->now_ms()));
               }));

    router.add("PATCH", "/agents/{id}",
               authed(app, [&app](http::Request& request, const Principal& who) {
                   auto body = json_body(request);
                   if (!body) return error_of(body.error(), request);
                   auto a = app.agents->update(who, request.param("id"), *body);
                   if (!a) return error_of(a.error(), request);
                   return json_response(200, runtime::owner_view(*a, app.clock->now_ms()));
               }));

    auto all_versions = [](const http::Request& request) -> Result<bool> {
        auto mode = request.query_param("mode");
        if (!mode) return false;
        if (*mode == "all_versions") return true;
        return fail(ErrorCode::kInvalidInput, "mode: the only mode is 'all_versions'");
    };

    router.add("GET", "/agents/{id}/delete-check",
               authed(app, [&app, all_versions](http::Request& request, const Principal& who) {
                   auto all = all_versions(request);
                   if (!all) return error_of(all.error(), request);
                   auto c = app.agents->delete_check(who, request.param("id"), *all);
                   if (!c) return error_of(c.error(), request);
                   return json_response(200, {{"agent_id", c->agent.id},
                                              {"agent_name", c->agent.name},
                                              {"stars_count", 0},
                                              {"fork_count", c->fork_count},
                                              {"requires_confirmation", c->requires_confirmation},
                                              {"version_count", c->version_count}});
               }));

    router.add("DELETE", "/agents/{id}",
               authed(app, [&app, all_versions](http::Request& request, const Principal& who) {
                   auto all = all_versions(request);
                   if (!all) return error_of(all.error(), request);
                   auto a = app.agents->owned(who, request.param("id"));
                   if (!a) return error_of(a.error(), request);
                   std::optional<std::string_view> confirmation =
                       request.query_param("confirmation_name");
                   auto n = app.agents->remove(who, a->id, *all, confirmation);
                   if (!n) return error_of(n.error(), request);
                   return json_response(200, {{"deleted", true},
                                              {"agent_id", a->id},
                                              {"agent_name", a->name},
                                              {"version_count", *n}});
               }));

    router.add("POST", "/agents/{id}/fork",
               authed(app, [&app](http::Request& request, const Principal& who) {
                   auto body = json_body(request, Json::object());
                   if (!body) return error_of(body.error(), request);
                   auto a = app.agents->fork(who, request.param("id"), *body);
                   if (!a) return error_of(a.error(), request);
                   return json_response(201,
                                        {{"agent", runtime::owner_view(*a, app.clock->now_ms())}});
               }));

    router.add("PUT", "/agents/{id}/pricing",
               authed(app, [&app](http::Request& request, const Principal& who) {
                   auto body = json_body(request);
                   if (!body) return error_of(body.error(), request);
                   auto a = app.agents->set_pricing(who, request.param("id"), *body);
                   if (!a) return error_of(a.error(), request);
                   return json_response(200, {{"agent_id", a->id},
                                              {"pricing_mode", a->pricing_mode},
                                              {"price_per_call_cents", a->price_per_call_cents}});
               }));

    router.add("GET", "/agents/{id}/bundle",
               authed(app, [&app](http::Request& request, const Principal& who) {
                   auto a = app.agents->owned(who, request.param("id"));
                   if (!a) return error_of(a.error(), request);
                   return bundle_response(app, *a, request);
               }));

    router.add("GET", "/agents/{id}/logs",
               authed(app, [&app](http::Request& request, const Principal& who) {
                   auto limit = int_param(request, "limit", 100, 1, 1000);
                   if (!limit) return error_of(limit.error(), request);
                   auto runs = app.agents->logs(who, request.param("id"), static_cast<int>(*limit));
                   if (!runs) return error_of(runs.error(), request);
                   auto time = [](const std::optional<int64_t>& t) {
                       return t ? Json(format_rfc3339(*t)) : Json();
                   };
                   Json list = Json::array();
                   for (const auto& r : *runs) {
                       list.push_back({{"id", r.id},
                                       {"request_id", r.request_id},
                                       {"agent_id", r.agent_id},
                                       {"started_at", format_rfc3339(r.started_at)},
                                       {"completed_at", time(r.completed_at)},
                                       {"duration_ms", r.duration_ms},
                                       {"status", r.status},
                                       {"exit_code", r.exit_code ? Json(*r.exit_code) : Json()},
                                       {"stdout", r.stdout_text},
                                       {"stderr", r.stderr_text}});
                   }
                   return json_response(200, list);
               }));

    router.add(
        "POST", "/agents/{id}/upload",
        authed(app,
               [&app](http::Request& request, const Principal& who) {
                   // Ownership first: another org's agent is 404 whatever the body is.
                   if (auto a = app.agents->owned(who, request.param("id")); !a)
                       return error_of(a.error(), request);
                   auto folder = UploadFolder::create(app.tmp_dir);
                   if (!folder) return error_of(folder.error(), request);
                   auto archive = receive_archive(request, *folder);
                   if (!archive) return error_of(archive.error(), request);
                   std::optional<std::string> entrypoint;
                   if (auto h = request.header("x-entrypoint")) entrypoint = std::string(*h);
                   // An upload is a jailed run: the unpacker.
                   app.metrics->add_gauge("orchagent_runs_in_flight", "", 1);
                   auto up = app.agents->upload(who, request.param("id"), *archive, entrypoint);
                   app.metrics->add_gauge("orchagent_runs_in_flight", "", -1);
                   if (!up) {
                       if (up.error().code() == ErrorCode::kSandboxError)
                           app.metrics->inc("orchagent_jail_failures_total", "");
                       return error_of(up.error(), request);
                   }
                   return json_response(200, {{"success", true},
                                              {"code_hash", up->sha256},
                                              {"bundle_id", up->sha256},
                                              {"bundle_size_bytes", up->size_bytes},
                                              {"size_bytes", up->size_bytes},
                                              {"entrypoint", up->entrypoint.empty()
                                                                 ? Json()
                                                                 : Json(up->entrypoint)},
                                              {"status", "active"},
                                              {"uploaded_at", format_rfc3339(up->uploaded_at)}});
               }),
        kMaxUploadBody, http::BodyStorage::kAuto, http::HandlerPool::kLong);
}

}  // namespace orchagent::api
