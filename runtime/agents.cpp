#include "runtime/agents.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "core/ids.hpp"
#include "core/unique_fd.hpp"
#include "manifest/manifest.hpp"

namespace orchagent::runtime {
namespace {

using Json = nlohmann::json;

Json optional_time(const std::optional<int64_t>& t) {
    return t ? Json(format_rfc3339(*t)) : Json(nullptr);
}

template <typename T>
Json optional_json(const std::optional<T>& v) {
    return v ? Json(*v) : Json(nullptr);
}

// The stored document: {"source": what the author sent, "view": the validated manifest}.
Json parse_document(const store::Agent& agent) {
    Json doc = Json::parse(agent.document, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) doc = Json::object();
    if (!doc.contains("source") || !doc["source"].is_object()) doc["source"] = Json::object();
    if (!doc.contains("view") || !doc["view"].is_object()) doc["view"] = Json::object();
    return doc;
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Error invalid(std::string message) { return Error(ErrorCode::kInvalidInput, std::move(message)); }

// Versions named by authors: "v3", "1.2.0", "beta-2"; never "latest", which is a selector.
Result<void> check_version(std::string_view v) {
    if (v.empty() || v.size() > 32 || v == "latest") {
        return std::unexpected(invalid("version: must be 1 to 32 characters and not 'latest'"));
    }
    for (char c : v) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_')
            return std::unexpected(invalid("version: only letters, digits, '.', '-' and '_'"));
    }
    return {};
}

Result<manifest::AgentManifest> validate(const Json& source, const manifest::ParseOptions& options,
                                         std::vector<manifest::FieldWarning>* warnings) {
    auto report = manifest::check_manifest(source, options);
    if (!report.ok()) return std::unexpected(invalid(manifest::join_errors(report.errors)));
    if (warnings) *warnings = report.warnings;
    return std::move(*report.manifest);
}

// The view of a validated manifest, with the pass-through fields the manifest module does
// not model.
Json view_of(const manifest::AgentManifest& m, const Json& source) {
    Json view = m.to_json();
    if (auto it = source.find("source_url"); it != source.end() && it->is_string())
        view["source_url"] = *it;
    return view;
}

// The named workspace of the caller's org (`missing` when it is not theirs), or the org's
// first workspace.
Result<store::Workspace> workspace_for(store::Store& store, const Principal& who,
                                       const std::optional<std::string>& id, ErrorCode missing) {
    if (id) {
        auto w = store.workspace_by_id(who.org.id, *id);
        if (!w) return std::unexpected(w.error());
        if (!*w) return fail(missing, "workspace_id: not a workspace of your org");
        return **w;
    }
    auto all = store.list_workspaces(who.org.id);
    if (!all) return std::unexpected(all.error());
    if (all->empty()) return fail(ErrorCode::kInternalError, "the org has no workspace");
    return all->front();
}

Result<void> fsync_path(const std::string& path, int flags) {
    UniqueFd fd(::open(path.c_str(), flags | O_CLOEXEC));
    if (!fd) return fail_errno("open", path);
    if (::fsync(fd.get()) != 0) return fail_errno("fsync", path);
    return {};
}

}  // namespace

Lifecycle lifecycle(const store::Agent& a, int64_t now) {
    if (!a.deprecated_at) return Lifecycle::kActive;
    if (a.sunset_at && now >= *a.sunset_at) return Lifecycle::kSunset;
    return Lifecycle::kDeprecated;
}

std::string_view to_string(Lifecycle l) {
    switch (l) {
        case Lifecycle::kActive: return "active";
        case Lifecycle::kDeprecated: return "deprecated";
        case Lifecycle::kSunset: return "sunset";
    }
    return "active";
}

bool is_paid(const store::Agent& a) {
    return a.pricing_mode == "per_call" && a.price_per_call_cents > 0;
}

Json owner_view(const store::Agent& a, int64_t now) {
    Json doc = parse_document(a);
    Json out = doc["view"];
    out["id"] = a.id;
    out["org_id"] = a.org_id;
    out["org"] = a.org_slug;
    out["workspace_id"] = a.workspace_id;
    out["name"] = a.name;
    out["version"] = a.version;
    out["type"] = a.type;
    out["is_public"] = a.is_public;
    out["description"] = a.description;
    if (a.entrypoint) out["entrypoint"] = *a.entrypoint;
    out["has_bundle"] = a.bundle_sha256.has_value();
    out["code_hash"] = optional_json(a.bundle_sha256);
    out["bundle_size_bytes"] = optional_json(a.bundle_size);
    out["pricing_mode"] = a.pricing_mode;
    out["price_per_call_cents"] = a.price_per_call_cents;
    out["status"] = to_string(lifecycle(a, now));
    out["deprecated_at"] = optional_time(a.deprecated_at);
    out["sunset_at"] = optional_time(a.sunset_at);
    out["successor_version"] = optional_json(a.successor_version);
    out["forked_from"] = optional_json(a.forked_from);
    out["created_at"] = format_rfc3339(a.created_at);
    out["updated_at"] = format_rfc3339(a.updated_at);
    return out;
}

Json public_entry(const store::Agent& a) {
    const Json view = parse_document(a)["view"];
    auto field = [&](const char* name, Json fallback) {
        auto it = view.find(name);
        return it != view.end() ? *it : fallback;
    };
    return Json{{"id", a.id},
                {"name", a.name},
                {"org", a.org_slug},
                {"version", a.version},
                {"type", a.type},
                {"run_mode", field("run_mode", "on_demand")},
                {"execution_engine", field("execution_engine", nullptr)},
                {"callable", field("callable", true)},
                {"description", a.description},
                {"supported_providers", field("supported_providers", Json::array())},
                {"default_endpoint", field("default_endpoint", nullptr)},
                {"timeout_seconds", field("timeout_seconds", manifest::kDefaultTimeoutSeconds)},
                {"tags", field("tags", Json::array())},
                {"pricing_mode", a.pricing_mode},
                {"price_per_call_cents", a.price_per_call_cents},
                {"created_at", format_rfc3339(a.created_at)}};
}

Json public_detail(const store::Agent& a, int64_t now) {
    const Json view = parse_document(a)["view"];
    Json out = public_entry(a);
    const bool downloadable = view.value("allow_local_download", Json(true)) == Json(true) &&
                              !is_paid(a);
    out["input_schema"] = view.value("input_schema", Json(nullptr));
    out["output_schema"] = view.value("output_schema", Json(nullptr));
    out["allow_local_download"] = view.value("allow_local_download", Json(true));
    out["has_bundle"] = a.bundle_sha256.has_value();
    out["status"] = to_string(lifecycle(a, now));
    out["deprecated_at"] = optional_time(a.deprecated_at);
    out["sunset_at"] = optional_time(a.sunset_at);
    out["successor_version"] = optional_json(a.successor_version);
    // Server-only and paid agents keep their prompt, orchestration and skills private.
    if (downloadable) {
        out["prompt"] = view.value("prompt", Json(nullptr));
        out["manifest"] = view.value("manifest", Json(nullptr));
        out["skill_files"] = view.value("skill_files", Json(nullptr));
    }
    return out;
}

Json download_view(const store::Agent& a) {
    const Json view = parse_document(a)["view"];
    Json out = {{"type", a.type}, {"name", a.name}, {"version", a.version},
                {"description", a.description}, {"has_bundle", a.bundle_sha256.has_value()}};
    for (const char* key : {"run_mode", "execution_engine", "callable", "prompt", "input_schema",
                            "output_schema", "manifest", "entrypoint", "runtime",
                            "default_skills", "skill_files", "source_url", "tags",
                            "timeout_seconds", "default_endpoint", "supported_providers",
                            "required_secrets", "optional_secrets", "loop", "environment"}) {
        out[key] = view.value(key, Json(nullptr));
    }
    if (a.entrypoint) out["entrypoint"] = *a.entrypoint;
    return out;
}

Agents::Agents(store::Store& store, const Clock& clock, BundleCache& cache,
               std::string bundles_dir)
    : store_(store), clock_(clock), cache_(cache), bundles_dir_(std::move(bundles_dir)) {}

Result<PublishedAgent> Agents::publish(const Principal& who, const Json& body) {
    if (!body.is_object()) return std::unexpected(invalid("the body must be a JSON object"));
    Json source = body;
    // API-only fields are not part of the manifest.
    std::optional<std::string> workspace_id;
    if (auto it = source.find("workspace_id"); it != source.end()) {
        if (!it->is_string()) return std::unexpected(invalid("workspace_id: must be a string"));
        workspace_id = it->get<std::string>();
        source.erase(it);
    }
    std::vector<manifest::FieldWarning> warnings;
    auto m = validate(source, {}, &warnings);
    if (!m) return std::unexpected(m.error());
    if (m->version) {
        if (auto r = check_version(*m->version); !r) return std::unexpected(r.error());
    }

    auto workspace = workspace_for(store_, who, workspace_id, ErrorCode::kNotFound);
    if (!workspace) return std::unexpected(workspace.error());

    store::Agent a;
    a.id = new_id("agt");
    a.org_id = who.org.id;
    a.workspace_id = workspace->id;
    a.name = m->name;
    a.version = m->version.value_or("");
    a.type = std::string(manifest::to_string(m->type));
    a.is_public = m->is_public;
    a.description = m->description;
    a.document = dump(Json{{"source", source}, {"view", view_of(*m, source)}});
    auto stored = changed(store_.publish_agent(
        std::move(a), {.deprecation_window_ms = kDeprecationWindowMs}, clock_.now_ms()));
    if (!stored) return std::unexpected(stored.error());
    return PublishedAgent{.agent = std::move(*stored), .warnings = std::move(warnings)};
}

Result<store::Agent> Agents::owned(const Principal& who, std::string_view id) {
    auto a = store_.agent_by_id(id);
    if (!a) return std::unexpected(a.error());
    // Another org's agent answers exactly like a missing one.
    if (!*a || (*a)->org_id != who.org.id) return fail(ErrorCode::kNotFound, "agent not found");
    return std::move(**a);
}

Result<store::Agent> Agents::update(const Principal& who, std::string_view id, const Json& patch) {
    if (!patch.is_object()) return std::unexpected(invalid("the body must be a JSON object"));
    auto found = owned(who, id);
    if (!found) return found;
    store::Agent a = std::move(*found);
    Json doc = parse_document(a);
    Json& source = doc["source"];
    Json& view = doc["view"];
    const int64_t now = clock_.now_ms();

    auto boolean = [&](const std::string& key, const Json& v) -> Result<bool> {
        if (!v.is_boolean()) return std::unexpected(invalid(key + ": must be true or false"));
        return v.get<bool>();
    };
    for (const auto& [key, value] : patch.items()) {
        if (key == "description") {
            if (!value.is_string() || value.get_ref<const std::string&>().size() >
                                          manifest::kMaxDescriptionBytes) {
                return std::unexpected(invalid(fmt::format(
                    "description: must be a string of at most {} bytes",
                    manifest::kMaxDescriptionBytes)));
            }
            a.description = value.get<std::string>();
        } else if (key == "tags") {
            // The manifest's own rule (manifest.cpp): at most 20 tags.
            if (!value.is_array() || value.size() > 20)
                return std::unexpected(invalid("tags: must be an array of at most 20 strings"));
            for (size_t i = 0; i < value.size(); ++i) {
                if (!value[i].is_string() || value[i].get_ref<const std::string&>().empty() ||
                    value[i].get_ref<const std::string&>().size() > manifest::kMaxTagBytes) {
                    return std::unexpected(
                        invalid(fmt::format("tags[{}]: must be a string of 1 to 50 bytes", i)));
                }
            }
        } else if (key == "is_public" || key == "callable" || key == "allow_local_download") {
            auto b = boolean(key, value);
            if (!b) return std::unexpected(b.error());
            if (key == "is_public") a.is_public = *b;
        } else if (key == "timeout_seconds") {
            if (!value.is_number_integer() || value.get<int64_t>() < 1 ||
                value.get<int64_t>() > manifest::kMaxTimeoutSeconds) {
                return std::unexpected(invalid(fmt::format(
                    "timeout_seconds: must be an integer from 1 to {}",
                    manifest::kMaxTimeoutSeconds)));
            }
        } else if (key == "deprecated") {
            auto b = boolean(key, value);
            if (!b) return std::unexpected(b.error());
            if (*b && !a.deprecated_at) {
                a.deprecated_at = now;
                a.sunset_at = now + kDeprecationWindowMs;
            } else if (!*b) {
                a.deprecated_at.reset();
                a.sunset_at.reset();
                a.successor_version.reset();
            }
            continue;
        } else {
            return std::unexpected(invalid(fmt::format(
                "{}: cannot be changed (allowed: description, tags, is_public, callable, "
                "timeout_seconds, allow_local_download, deprecated)",
                key)));
        }
        source[key] = value;
        view[key] = value;
    }
    a.document = dump(doc);
    a.updated_at = now;
    if (auto r = changed(store_.update_agent(a)); !r) return std::unexpected(r.error());
    return a;
}

Result<DeleteCheck> Agents::delete_check(const Principal& who, std::string_view id,
                                         bool all_versions) {
    auto a = owned(who, id);
    if (!a) return std::unexpected(a.error());
    std::vector<store::Agent> versions;
    if (all_versions) {
        auto all = store_.agent_versions(who.org.id, a->name);
        if (!all) return std::unexpected(all.error());
        versions = std::move(*all);
    } else {
        versions.push_back(*a);
    }
    DeleteCheck check{.agent = *a, .version_count = static_cast<int64_t>(versions.size())};
    for (const auto& v : versions) {
        auto forks = store_.fork_count(v.id);
        if (!forks) return std::unexpected(forks.error());
        check.fork_count += *forks;
    }
    check.requires_confirmation = check.fork_count > 0;
    return check;
}

Result<int64_t> Agents::remove(const Principal& who, std::string_view id, bool all_versions,
                               std::optional<std::string_view> confirmation_name) {
    auto check = delete_check(who, id, all_versions);
    if (!check) return std::unexpected(check.error());
    if (check->requires_confirmation && confirmation_name != check->agent.name) {
        return std::unexpected(invalid(fmt::format(
            "confirmation_name: this agent has {} fork(s); repeat its name '{}' to delete it",
            check->fork_count, check->agent.name)));
    }
    std::vector<std::string> ids;
    if (all_versions) {
        auto all = store_.agent_versions(who.org.id, check->agent.name);
        if (!all) return std::unexpected(all.error());
        for (const auto& v : *all) ids.push_back(v.id);
    } else {
        ids.push_back(check->agent.id);
    }
    return changed(store_.delete_agents(ids, clock_.now_ms()));
}

Result<store::Agent> Agents::fork(const Principal& who, std::string_view id, const Json& body) {
    if (!body.is_object() && !body.is_null())
        return std::unexpected(invalid("the body must be a JSON object"));
    auto found = store_.agent_by_id(id);
    if (!found) return std::unexpected(found.error());
    if (!*found) return fail(ErrorCode::kNotFound, "agent not found");
    const store::Agent& src = **found;
    const bool own = src.org_id == who.org.id;
    if (!own && !src.is_public) return fail(ErrorCode::kNotFound, "agent not found");
    Json doc = parse_document(src);
    if (!own &&
        (doc["view"].value("allow_local_download", Json(true)) != Json(true) || is_paid(src))) {
        return fail(ErrorCode::kForbidden,
                    "this agent is not source-available (server-only or paid): it cannot be forked");
    }

    std::string name = src.name;
    std::optional<std::string> workspace_id;
    if (body.is_object()) {
        for (const auto& [key, value] : body.items()) {
            if (key == "new_name") {
                if (!value.is_string()) return std::unexpected(invalid("new_name: must be a string"));
                name = value.get<std::string>();
                if (auto r = check_slug("new_name", name); !r) return std::unexpected(r.error());
            } else if (key == "workspace_id") {
                if (!value.is_string())
                    return std::unexpected(invalid("workspace_id: must be a string"));
                workspace_id = value.get<std::string>();
            } else {
                return std::unexpected(
                    invalid(fmt::format("{}: unknown field (allowed: new_name, workspace_id)", key)));
            }
        }
    }
    // The reference answers 403 for a workspace the caller is not a member of.
    auto workspace = workspace_for(store_, who, workspace_id, ErrorCode::kForbidden);
    if (!workspace) return std::unexpected(workspace.error());

    // A fork is always private, free, unversioned (it starts its own v1, v2, ...).
    for (Json* part : {&doc["source"], &doc["view"]}) {
        (*part)["name"] = name;
        (*part)["is_public"] = false;
        part->erase("version");
    }
    store::Agent a = src;
    a.id = new_id("agt");
    a.org_id = who.org.id;
    a.workspace_id = workspace->id;
    a.name = name;
    a.version.clear();
    a.is_public = false;
    a.pricing_mode = "free";
    a.price_per_call_cents = 0;
    a.deprecated_at.reset();
    a.sunset_at.reset();
    a.successor_version.reset();
    a.forked_from = src.id;
    a.document = dump(doc);
    return changed(store_.publish_agent(
        std::move(a), {.deprecation_window_ms = kDeprecationWindowMs}, clock_.now_ms()));
}

Result<store::Agent> Agents::set_pricing(const Principal& who, std::string_view id,
                                         const Json& body) {
    if (!body.is_object()) return std::unexpected(invalid("the body must be a JSON object"));
    auto found = owned(who, id);
    if (!found) return found;
    store::Agent a = std::move(*found);
    auto mode = body.find("pricing_mode");
    if (mode == body.end() || !mode->is_string() ||
        (*mode != "free" && *mode != "per_call")) {
        return std::unexpected(invalid("pricing_mode: must be 'free' or 'per_call'"));
    }
    int64_t price = 0;
    if (auto p = body.find("price_per_call_cents"); p != body.end() && !p->is_null()) {
        if (!p->is_number_integer() || p->get<int64_t>() < 0 || p->get<int64_t>() > kMaxPriceCents) {
            return std::unexpected(invalid(fmt::format(
                "price_per_call_cents: must be an integer from 0 to {}", kMaxPriceCents)));
        }
        price = p->get<int64_t>();
    }
    for (const auto& [key, value] : body.items()) {
        if (key != "pricing_mode" && key != "price_per_call_cents")
            return std::unexpected(invalid(fmt::format("{}: unknown field", key)));
    }
    if (*mode == "per_call" && price < 1)
        return std::unexpected(invalid("price_per_call_cents: per_call pricing needs a price of at least 1"));
    if (*mode == "free" && price != 0)
        return std::unexpected(invalid("price_per_call_cents: must be 0 for free agents"));
    a.pricing_mode = mode->get<std::string>();
    a.price_per_call_cents = price;
    a.updated_at = clock_.now_ms();
    if (auto r = changed(store_.update_agent(a)); !r) return std::unexpected(r.error());
    return a;
}

Result<UploadedBundle> Agents::upload(const Principal& who, std::string_view id,
                                      const std::string& archive_path,
                                      std::optional<std::string> entrypoint) {
    // The temporary archive is ours to remove on every failure.
    bool keep_temp = false;
    ScopeGuard remove_temp([&] {
        if (!keep_temp) ::unlink(archive_path.c_str());
    });
    auto found = owned(who, id);
    if (!found) return std::unexpected(found.error());
    Json doc = parse_document(*found);
    if (doc["view"].value("execution_engine", Json(nullptr)) == Json("direct_llm")) {
        return std::unexpected(invalid("prompt agents take no bundle: only code agents do"));
    }
    struct stat st {};
    if (::stat(archive_path.c_str(), &st) != 0) return fail_errno("stat", archive_path);
    if (st.st_size == 0) return std::unexpected(invalid("bundle: the archive is empty"));
    if (static_cast<uint64_t>(st.st_size) > kMaxBundleBytes) {
        return fail(ErrorCode::kDocumentTooLarge,
                    fmt::format("bundle: {} bytes exceeds the {} byte limit", st.st_size,
                                kMaxBundleBytes));
    }
    auto sha = sha256_file(archive_path);
    if (!sha) return std::unexpected(sha.error());

    // Content-addressed: the same bytes are stored and unpacked once. The file is made
    // durable before the store points at it.
    const std::string final_path = fmt::format("{}/{}.archive", bundles_dir_, *sha);
    const bool existed = ::access(final_path.c_str(), F_OK) == 0;
    if (!existed) {
        if (auto r = fsync_path(archive_path, O_RDONLY); !r) return std::unexpected(r.error());
        if (::rename(archive_path.c_str(), final_path.c_str()) != 0)
            return fail_errno("rename", final_path);
        keep_temp = true;
        if (auto r = fsync_path(bundles_dir_, O_RDONLY | O_DIRECTORY); !r)
            return std::unexpected(r.error());
    }
    auto dir = cache_.get_or_unpack(final_path);
    if (!dir) {
        // A refused archive is not kept unless another agent already had these bytes.
        if (!existed) ::unlink(final_path.c_str());
        return std::unexpected(dir.error());
    }

    Json source = doc["source"];
    if (entrypoint) {
        if (entrypoint->empty() || entrypoint->size() > manifest::kMaxPathBytes)
            return std::unexpected(invalid("x-entrypoint: must be 1 to 1024 bytes"));
        source["entrypoint"] = *entrypoint;
    }
    manifest::ParseOptions options;
    options.files = manifest::list_agent_files(*dir);
    auto m = validate(source, options, nullptr);
    if (!m) return std::unexpected(m.error().with_context("bundle"));
    Json new_doc = {{"source", source}, {"view", view_of(*m, source)}};
    const int64_t now = clock_.now_ms();
    const std::string ep = m->entrypoint.value_or("");
    if (auto r = changed(store_.attach_bundle(found->id, *sha, st.st_size, ep, dump(new_doc), now));
        !r) {
        return std::unexpected(r.error());
    }
    return UploadedBundle{
        .sha256 = *sha, .size_bytes = st.st_size, .entrypoint = ep, .uploaded_at = now};
}

Result<std::string> Agents::bundle_path(const store::Agent& a) const {
    if (!a.bundle_sha256) return fail(ErrorCode::kNotFound, "this agent has no bundle");
    return fmt::format("{}/{}.archive", bundles_dir_, *a.bundle_sha256);
}

Result<store::Agent> Agents::find_public(std::string_view org, std::string_view name,
                                         std::string_view version) {
    auto found = store_.find_agent(org, name, version);
    if (!found) return std::unexpected(found.error());
    if (!*found || !(*found)->is_public) {
        return fail(ErrorCode::kNotFound, fmt::format("agent {}/{}@{} not found", org, name, version));
    }
    const int64_t now = clock_.now_ms();
    if (lifecycle(**found, now) == Lifecycle::kSunset) {
        return fail(ErrorCode::kNotFound,
                    fmt::format("{}/{} {} was retired on {}; use {}", org, name, (*found)->version,
                                format_http_date(*(*found)->sunset_at),
                                (*found)->successor_version.value_or("latest")));
    }
    return std::move(**found);
}

Result<std::vector<store::Agent>> Agents::list_public(const PublicQuery& q) {
    auto all = store_.list_public_agents();
    if (!all) return std::unexpected(all.error());
    auto lower = [](std::string s) {
        for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    };
    const std::string search = lower(q.search);
    const int64_t now = clock_.now_ms();
    // One entry per agent: its newest public version that is not past its Sunset.
    std::vector<store::Agent> out;
    std::unordered_map<std::string, size_t> index;  // org id + '/' + name -> position in out
    for (auto& a : *all) {
        if (lifecycle(a, now) == Lifecycle::kSunset) continue;
        if (!q.type.empty() && a.type != q.type) continue;
        if (!search.empty() && lower(a.name).find(search) == std::string::npos &&
            lower(a.description).find(search) == std::string::npos) {
            continue;
        }
        if (!q.tags.empty()) {
            const Json view = parse_document(a)["view"];
            const Json tags = view.value("tags", Json::array());
            bool all_tags = true;
            for (const auto& t : q.tags) {
                if (std::find(tags.begin(), tags.end(), Json(t)) == tags.end()) all_tags = false;
            }
            if (!all_tags) continue;
        }
        auto [it, fresh] = index.try_emplace(a.org_id + "/" + a.name, out.size());
        if (fresh) {
            out.push_back(std::move(a));
        } else if (a.version_number > out[it->second].version_number) {
            out[it->second] = std::move(a);
        }
    }
    if (q.sort == "name") {
        std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) {
            return std::tie(x.name, x.org_slug) < std::tie(y.name, y.org_slug);
        });
    }
    return out;
}

Result<std::shared_ptr<const std::string>> Agents::public_catalogue(const PublicQuery& q) {
    std::string key = q.sort + '\n' + q.type + '\n' + q.search;
    for (const auto& t : q.tags) key += '\n' + t;
    const int64_t now = clock_.now_ms();
    // Read before the store: a write that lands meanwhile makes this entry stale at once.
    const uint64_t generation = generation_.load(std::memory_order_relaxed);
    {
        std::lock_guard lock(catalogue_mutex_);
        auto it = catalogue_.find(key);
        if (it != catalogue_.end() && it->second.generation == generation &&
            it->second.expires_at > now) {
            return it->second.body;
        }
    }
    auto list = list_public(q);
    if (!list) return std::unexpected(list.error());
    Json out = Json::array();
    for (const auto& a : *list) out.push_back(public_entry(a));
    auto body = std::make_shared<const std::string>(dump(out));
    std::lock_guard lock(catalogue_mutex_);
    if (catalogue_.size() >= kCatalogueEntries) catalogue_.clear();
    catalogue_[key] = {generation, now + kCatalogueTtlMs, body};
    return body;
}

Result<std::vector<store::RunLog>> Agents::logs(const Principal& who, std::string_view id,
                                                int limit) {
    auto a = owned(who, id);
    if (!a) return std::unexpected(a.error());
    return store_.list_runs(a->id, limit);
}

}  // namespace orchagent::runtime
