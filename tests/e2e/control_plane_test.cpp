// The control plane end to end: the real orchagentd, driven over HTTP as the hosted CLI and
// API callers would (CONTRACT.md sections 1-3 and 8).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "tests/support/archives.hpp"
#include "tests/support/daemon.hpp"

namespace orchagent::testing {
namespace {


// The upload zip of tests/agents/<name>, built by `orchagent bundle` as an author would.
std::string bundle_of(const std::string& name) {
    const std::string out = "/tmp/orchagent-e2e-" + name + "-" + random_hex(4) + ".zip";
    const std::string cmd = std::string(ORCHAGENT_CLI_PATH) + " bundle " + ORCHAGENT_SOURCE_DIR +
                            "/tests/agents/" + name + " -o " + out + " 2>&1";
    command_output(cmd);
    std::string bytes = read_file(out);
    fs::remove(out);
    return bytes;
}

Json shell_echo_manifest() {
    return {{"name", "shell-echo"},
            {"type", "tool"},
            {"description", "answers with its input"},
            {"runtime", {{"command", "sh run.sh"}}},
            {"tags", {"demo", "shell"}}};
}

class ControlPlane : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { daemon_ = new Daemon(); }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
    }
    Daemon& d() { return *daemon_; }
    const std::string& key() { return daemon_->admin_key(); }

    // Publishes `manifest` and uploads `zip` as the hosted CLI does; returns the agent.
    Json publish(const Json& manifest, const std::string& zip, const std::string& key) {
        Reply created = d().post_json("/agents", manifest, key);
        EXPECT_EQ(created.status, 201) << created.body;
        Json agent = created.json()["agent"];
        if (!zip.empty()) {
            Reply up = d().request("POST", "/agents/" + agent["id"].get<std::string>() + "/upload",
                                   {.key = key,
                                    .body = multipart_body({{"file", "bundle.zip", "application/zip", zip}}),
                                    .content_type = multipart_type()});
            EXPECT_EQ(up.status, 200) << up.body;
        }
        return d().get("/agents/" + agent["id"].get<std::string>(), key).json();
    }

    static Daemon* daemon_;
};
Daemon* ControlPlane::daemon_ = nullptr;

TEST_F(ControlPlane, FirstStartCreatesLocalOrgAndAdminKeyFile) {
    struct stat st {};
    ASSERT_EQ(::stat((d().data_dir() / "admin.key").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_TRUE(key().starts_with("sk_live_")) << key();
    Reply org = d().get("/org", key());
    ASSERT_EQ(org.status, 200) << org.body;
    EXPECT_EQ(org.json()["slug"], "local");
    EXPECT_FALSE(org.header("x-request-id").empty());
}

TEST_F(ControlPlane, AdminCreateOrgPrintsOrgWorkspaceAndKey) {
    const std::string cmd = std::string(ORCHAGENTD_PATH) + " admin create-org acme-corp --data-dir " +
                            d().data_dir().string();
    Json j = Json::parse(command_output(cmd));
    EXPECT_EQ(j["org"]["slug"], "acme-corp");
    EXPECT_TRUE(j["org"].contains("id"));
    EXPECT_TRUE(j["workspace"].contains("id"));
    const std::string new_key = j["api_key"];
    EXPECT_TRUE(new_key.starts_with("sk_live_"));
    EXPECT_GE(new_key.size(), 8u + 22u);  // >= 128 bits in base62
    EXPECT_EQ(d().get("/org", new_key).json()["slug"], "acme-corp");
    // The same slug again fails without changing anything.
    EXPECT_NE(::system((cmd + " >/dev/null 2>&1").c_str()), 0);
    // grant-credits adds a grant transaction.
    Json g = Json::parse(command_output(std::string(ORCHAGENTD_PATH) + " admin grant-credits acme-corp 1500 --data-dir " +
                               d().data_dir().string()));
    EXPECT_EQ(g["balance_cents"], 1500);
    EXPECT_EQ(g["transaction"]["transaction_type"], "grant");
}

TEST_F(ControlPlane, ApiKeysAreShownOnceListedByPrefixAndRevocable) {
    Reply created = d().post_json("/api-keys", {{"name", "ci"}}, key());
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string secret = created.json()["key"];
    const std::string id = created.json()["id"];
    EXPECT_TRUE(secret.starts_with(created.json()["prefix"].get<std::string>()));
    EXPECT_EQ(d().get("/org", secret).status, 200);

    Reply list = d().get("/api-keys", key());
    ASSERT_EQ(list.status, 200);
    bool found = false;
    for (const auto& k : list.json()) {
        EXPECT_FALSE(k.contains("key")) << "a listing must never show a key";
        if (k["id"] == id) found = true;
    }
    EXPECT_TRUE(found);
    EXPECT_EQ(list.body.find(secret), std::string::npos);
    // The key is stored only as a hash: its text is nowhere in the database file.
    const std::string db = read_file(d().data_dir() / "orchagent.db") +
                           read_file(d().data_dir() / "orchagent.db-wal");
    EXPECT_EQ(db.find(secret), std::string::npos);

    EXPECT_EQ(d().request("DELETE", "/api-keys/" + id, {.key = key()}).status, 200);
    Reply after = d().get("/org", secret);
    EXPECT_EQ(after.status, 401);
    EXPECT_EQ(after.error_code(), "UNAUTHORIZED");
    EXPECT_EQ(d().request("DELETE", "/api-keys/" + id, {.key = key()}).status, 404);
    EXPECT_EQ(d().post_json("/api-keys", {{"name", 42}}, key()).status, 400);
}

TEST_F(ControlPlane, Workspaces) {
    Reply list = d().get("/workspaces", key());
    ASSERT_EQ(list.status, 200);
    EXPECT_EQ(list.json()["workspaces"].size(), 1u);
    Reply created = d().post_json("/workspaces", {{"name", "Research Team"}}, key());
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(created.json()["workspace"]["slug"], "research-team");
    EXPECT_EQ(d().post_json("/workspaces", {{"name", "Research Team"}}, key()).status, 409);
    Reply bad = d().post_json("/workspaces", {{"name", "x"}, {"slug", "Bad Slug"}}, key());
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("slug"), std::string::npos) << bad.body;
}

TEST_F(ControlPlane, PublishFlowOfTheHostedCli) {
    const std::string zip = bundle_of("shell-echo");
    Json agent = publish(shell_echo_manifest(), zip, key());
    EXPECT_EQ(agent["name"], "shell-echo");
    EXPECT_EQ(agent["version"], "v1");
    EXPECT_EQ(agent["execution_engine"], "code_runtime");
    EXPECT_EQ(agent["has_bundle"], true);
    EXPECT_EQ(agent["code_hash"], sha256_hex(zip));
    EXPECT_EQ(agent["bundle_size_bytes"], zip.size());
    EXPECT_EQ(agent["status"], "active");

    // The bundle comes back byte for byte.
    Reply bundle = d().get("/agents/" + agent["id"].get<std::string>() + "/bundle", key());
    ASSERT_EQ(bundle.status, 200);
    EXPECT_EQ(bundle.body, zip);
    EXPECT_EQ(bundle.header("content-type"), "application/zip");

    // The listing has it; a second publish is v2 and deprecates v1 for 60 days.
    Json v2 = publish(shell_echo_manifest(), zip, key());
    EXPECT_EQ(v2["version"], "v2");
    Json v1 = d().get("/agents/" + agent["id"].get<std::string>(), key()).json();
    EXPECT_EQ(v1["status"], "deprecated");
    EXPECT_EQ(v1["successor_version"], "v2");
    const auto deprecated = parse_rfc3339(v1["deprecated_at"].get<std::string>());
    const auto sunset = parse_rfc3339(v1["sunset_at"].get<std::string>());
    ASSERT_TRUE(deprecated && sunset);
    EXPECT_EQ(*sunset - *deprecated, 60LL * 24 * 3600 * 1000);

    // An explicit version already used is a conflict.
    Json dup = shell_echo_manifest();
    dup["version"] = "v2";
    Reply conflict = d().post_json("/agents", dup, key());
    EXPECT_EQ(conflict.status, 409) << conflict.body;
    EXPECT_EQ(conflict.error_code(), "CONFLICT");

    Reply list = d().get("/agents", key());
    ASSERT_EQ(list.status, 200);
    std::set<std::string> versions;
    for (const auto& a : list.json()) {
        if (a["name"] == "shell-echo") versions.insert(a["version"]);
    }
    EXPECT_TRUE(versions.contains("v1") && versions.contains("v2"));
}

TEST_F(ControlPlane, UploadTakesRawArchivesAndRefusesBadOnes) {
    Reply created = d().post_json("/agents", Json{{"name", "raw-upload"}, {"type", "tool"},
                                                  {"runtime", {{"command", "sh run.sh"}}}},
                                  key());
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = created.json()["agent"]["id"];
    const std::string path = "/agents/" + id + "/upload";

    const std::string tgz = make_archive(Format::kTarGz, {file("run.sh", "echo '{}'\n")});
    Reply raw = d().request("POST", path, {.key = key(), .body = tgz, .content_type = "application/gzip"});
    EXPECT_EQ(raw.status, 200) << raw.body;
    EXPECT_EQ(raw.json()["code_hash"], sha256_hex(tgz));
    EXPECT_EQ(raw.json()["success"], true);
    EXPECT_EQ(raw.json()["status"], "active");
    EXPECT_EQ(raw.json()["size_bytes"], tgz.size());

    // The multipart field may also be called `bundle`; x-entrypoint names the entrypoint.
    const std::string py = make_archive(Format::kZip, {file("tool.py", "print('{}')\n")});
    Reply named = d().request(
        "POST", "/agents/" +
                    d().post_json("/agents", Json{{"name", "entry-header"}, {"type", "tool"}}, key())
                        .json()["agent"]["id"].get<std::string>() +
                    "/upload",
        {.key = key(),
         .body = multipart_body({{"bundle", "b.zip", "application/zip", py}}),
         .content_type = multipart_type(),
         .headers = {"x-entrypoint: tool.py"}});
    EXPECT_EQ(named.status, 200) << named.body;
    EXPECT_EQ(named.json()["entrypoint"], "tool.py");

    // Hostile archives are refused with the reason.
    const std::string evil = make_archive(Format::kZip, {file("../escape.sh", "x")});
    Reply refused = d().request("POST", path, {.key = key(), .body = evil, .content_type = "application/zip"});
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_EQ(refused.error_code(), "INVALID_INPUT");
    const std::string escaping = make_archive(Format::kTar, {link("out", "/etc/passwd"), file("run.sh", "x")});
    EXPECT_EQ(d().request("POST", path, {.key = key(), .body = escaping, .content_type = "application/x-tar"}).status, 400);
    // Not an archive type.
    Reply type = d().request("POST", path, {.key = key(), .body = "hello", .content_type = "text/plain"});
    EXPECT_EQ(type.status, 415);
    EXPECT_EQ(type.error_code(), "UNSUPPORTED_TYPE");
    // Malformed multipart, multipart without the field.
    EXPECT_EQ(d().request("POST", path, {.key = key(), .body = "--x\r\nnope", .content_type = multipart_type()}).status, 400);
    Reply nofile = d().request("POST", path,
                               {.key = key(),
                                .body = multipart_body({{"other", "", "", "text"}}),
                                .content_type = multipart_type()});
    EXPECT_EQ(nofile.status, 400);
    EXPECT_NE(nofile.body.find("file"), std::string::npos);
    // Over 25 MiB: 413 before the body is read.
    std::string big((26u << 20) + 1, 'x');
    Reply too_big = d().request("POST", path, {.key = key(), .body = big, .content_type = "application/zip"});
    EXPECT_EQ(too_big.status, 413) << too_big.body;
    // A prompt agent takes no bundle.
    Reply prompt = d().post_json("/agents", Json{{"name", "a-prompt"}, {"type", "prompt"}, {"prompt", "Hi {{name}}"}}, key());
    ASSERT_EQ(prompt.status, 201) << prompt.body;
    EXPECT_EQ(d().request("POST", "/agents/" + prompt.json()["agent"]["id"].get<std::string>() + "/upload",
                          {.key = key(), .body = tgz, .content_type = "application/gzip"}).status,
              400);
}

TEST_F(ControlPlane, InvalidInputNamesTheField) {
    Reply bad_name = d().post_json("/agents", Json{{"name", "Bad--Name"}, {"type", "tool"}}, key());
    EXPECT_EQ(bad_name.status, 400);
    EXPECT_NE(bad_name.json()["error"]["message"].get<std::string>().find("name"), std::string::npos);
    Reply bad_type = d().post_json("/agents", Json{{"name", "ok-name"}, {"type", "robot"}}, key());
    EXPECT_EQ(bad_type.status, 400);
    EXPECT_NE(bad_type.body.find("type"), std::string::npos);
    Reply not_json = d().request("POST", "/agents", {.key = key(), .body = "{nope"});
    EXPECT_EQ(not_json.status, 400);
    EXPECT_EQ(not_json.error_code(), "INVALID_INPUT");
    Reply deep = d().request("POST", "/agents", {.key = key(), .body = std::string(10000, '[') + std::string(10000, ']')});
    EXPECT_EQ(deep.status, 400);
    // Unknown manifest fields are warnings, not errors.
    Reply unknown = d().post_json("/agents", Json{{"name", "with-extra"}, {"type", "prompt"}, {"prompt", "x"}, {"colour", "blue"}}, key());
    ASSERT_EQ(unknown.status, 201) << unknown.body;
    EXPECT_FALSE(unknown.json()["warnings"].empty());
    // PATCH names what cannot change.
    const std::string id = unknown.json()["agent"]["id"];
    Reply patch = d().request("PATCH", "/agents/" + id, {.key = key(), .body = R"({"name":"other"})"});
    EXPECT_EQ(patch.status, 400);
    EXPECT_NE(patch.body.find("name"), std::string::npos);
    Reply patch_type = d().request("PATCH", "/agents/" + id, {.key = key(), .body = R"({"timeout_seconds":"soon"})"});
    EXPECT_EQ(patch_type.status, 400);
    EXPECT_NE(patch_type.body.find("timeout_seconds"), std::string::npos);
    EXPECT_EQ(d().get("/agents/" + id + "/logs?limit=0", key()).status, 400);
}

TEST_F(ControlPlane, PatchPricingForkAndDelete) {
    Json a = publish(Json{{"name", "forkable"}, {"type", "tool"}, {"runtime", {{"command", "sh run.sh"}}}},
                     bundle_of("shell-echo"), key());
    const std::string id = a["id"];
    Reply patched = d().request("PATCH", "/agents/" + id,
                                {.key = key(), .body = R"({"description":"new","tags":["x"],"is_public":true,"timeout_seconds":30})"});
    ASSERT_EQ(patched.status, 200) << patched.body;
    EXPECT_EQ(patched.json()["description"], "new");
    EXPECT_EQ(patched.json()["timeout_seconds"], 30);
    EXPECT_EQ(patched.json()["is_public"], true);

    Reply pricing = d().request("PUT", "/agents/" + id + "/pricing", {.key = key(), .body = R"({"pricing_mode":"per_call","price_per_call_cents":25})"});
    ASSERT_EQ(pricing.status, 200) << pricing.body;
    EXPECT_EQ(pricing.json()["price_per_call_cents"], 25);
    EXPECT_EQ(d().request("PUT", "/agents/" + id + "/pricing", {.key = key(), .body = R"({"pricing_mode":"per_call","price_per_call_cents":0})"}).status, 400);
    EXPECT_EQ(d().request("PUT", "/agents/" + id + "/pricing", {.key = key(), .body = R"({"pricing_mode":"monthly"})"}).status, 400);

    // Another org cannot fork a paid agent (it is not source-available)...
    auto [other_slug, other] = d().create_org("forker");
    Reply refused = d().post_json("/agents/" + id + "/fork", Json::object(), other);
    EXPECT_EQ(refused.status, 403) << refused.body;
    // ...but can once it is free.
    ASSERT_EQ(d().request("PUT", "/agents/" + id + "/pricing", {.key = key(), .body = R"({"pricing_mode":"free"})"}).status, 200);
    Reply forked = d().post_json("/agents/" + id + "/fork", Json{{"new_name", "my-fork"}}, other);
    ASSERT_EQ(forked.status, 201) << forked.body;
    EXPECT_EQ(forked.json()["agent"]["name"], "my-fork");
    EXPECT_EQ(forked.json()["agent"]["is_public"], false);
    EXPECT_EQ(forked.json()["agent"]["forked_from"], id);
    EXPECT_EQ(forked.json()["agent"]["code_hash"], a["code_hash"]);
    EXPECT_EQ(forked.json()["agent"]["version"], "v1");

    // A forked agent needs its name to be deleted.
    Reply check = d().get("/agents/" + id + "/delete-check", key());
    ASSERT_EQ(check.status, 200);
    EXPECT_EQ(check.json()["fork_count"], 1);
    EXPECT_EQ(check.json()["requires_confirmation"], true);
    EXPECT_EQ(d().request("DELETE", "/agents/" + id, {.key = key()}).status, 400);
    Reply deleted = d().request("DELETE", "/agents/" + id + "?confirmation_name=forkable", {.key = key()});
    ASSERT_EQ(deleted.status, 200) << deleted.body;
    EXPECT_EQ(deleted.json()["deleted"], true);
    EXPECT_EQ(d().get("/agents/" + id, key()).status, 404);
    EXPECT_EQ(d().get("/public/agents/local/forkable/v1").status, 404);
}

TEST_F(ControlPlane, PublicCatalogueRedactionAndDownloadRules) {
    Json open = Json{{"name", "open-prompt"}, {"type", "prompt"}, {"prompt", "Summarise {{text}}"},
                     {"is_public", true}, {"description", "summariser"}, {"tags", {"text"}},
                     {"input_schema", {{"type", "object"}}}};
    ASSERT_EQ(d().post_json("/agents", open, key()).status, 201);
    Json hidden = open;
    hidden["name"] = "server-only";
    hidden["allow_local_download"] = false;
    ASSERT_EQ(d().post_json("/agents", hidden, key()).status, 201);
    Json priv = open;
    priv["name"] = "private-one";
    priv["is_public"] = false;
    ASSERT_EQ(d().post_json("/agents", priv, key()).status, 201);
    Json paid = open;
    paid["name"] = "paid-one";
    Reply paid_created = d().post_json("/agents", paid, key());
    ASSERT_EQ(paid_created.status, 201);
    ASSERT_EQ(d().request("PUT", "/agents/" + paid_created.json()["agent"]["id"].get<std::string>() + "/pricing",
                          {.key = key(), .body = R"({"pricing_mode":"per_call","price_per_call_cents":7})"}).status,
              200);

    Reply list = d().get("/public/agents");
    ASSERT_EQ(list.status, 200) << list.body;
    std::set<std::string> names;
    for (const auto& a : list.json()) names.insert(a["name"]);
    EXPECT_TRUE(names.contains("open-prompt"));
    EXPECT_TRUE(names.contains("server-only"));
    EXPECT_FALSE(names.contains("private-one"));
    Reply searched = d().get("/public/agents?search=SUMMAR&type=prompt&tags=text&sort=name");
    ASSERT_EQ(searched.status, 200);
    EXPECT_GE(searched.json().size(), 3u);
    EXPECT_EQ(d().get("/public/agents?type=tool&search=summariser").json().size(), 0u);
    EXPECT_EQ(d().get("/public/agents?sort=sideways").status, 400);

    Reply detail = d().get("/public/agents/local/open-prompt/v1");
    ASSERT_EQ(detail.status, 200) << detail.body;
    EXPECT_EQ(detail.json()["prompt"], "Summarise {{text}}");
    EXPECT_EQ(detail.json()["input_schema"]["type"], "object");
    Reply latest = d().get("/public/agents/local/open-prompt/latest");
    EXPECT_EQ(latest.json()["version"], "v1");

    Reply redacted = d().get("/public/agents/local/server-only/v1");
    ASSERT_EQ(redacted.status, 200);
    EXPECT_FALSE(redacted.json().contains("prompt"));
    EXPECT_FALSE(redacted.json().contains("manifest"));
    EXPECT_FALSE(redacted.json().contains("skill_files"));
    EXPECT_EQ(redacted.json()["input_schema"]["type"], "object");
    EXPECT_FALSE(d().get("/public/agents/local/paid-one/v1").json().contains("prompt"));

    Reply download = d().get("/public/agents/local/open-prompt/v1/download");
    ASSERT_EQ(download.status, 200) << download.body;
    EXPECT_EQ(download.json()["prompt"], "Summarise {{text}}");
    EXPECT_EQ(download.json()["execution_engine"], "direct_llm");
    EXPECT_EQ(download.json()["has_bundle"], false);
    Reply disabled = d().get("/public/agents/local/server-only/v1/download");
    EXPECT_EQ(disabled.status, 403);
    EXPECT_EQ(disabled.error_code(), "DOWNLOAD_DISABLED");
    Reply paid_dl = d().get("/public/agents/local/paid-one/v1/download");
    EXPECT_EQ(paid_dl.status, 403);
    EXPECT_EQ(paid_dl.error_code(), "PAID_AGENT_SERVER_ONLY");
    EXPECT_EQ(paid_dl.json()["error"]["price_per_call_cents"], 7);
    EXPECT_EQ(d().get("/public/agents/local/paid-one/v1/bundle").status, 403);
    EXPECT_EQ(d().get("/public/agents/local/private-one/v1").status, 404);
    EXPECT_EQ(d().get("/public/agents/local/private-one/v1/download").status, 404);
    EXPECT_EQ(d().get("/public/agents/local/open-prompt/v1/bundle").status, 404);  // no bundle
}

TEST_F(ControlPlane, PublicBundleDownload) {
    const std::string zip = bundle_of("shell-echo");
    Json m = shell_echo_manifest();
    m["name"] = "public-code";
    m["is_public"] = true;
    publish(m, zip, key());
    Reply b = d().get("/public/agents/local/public-code/latest/bundle");
    ASSERT_EQ(b.status, 200);
    EXPECT_EQ(b.body, zip);
    EXPECT_NE(b.header("content-disposition").find("public-code-v1.zip"), std::string::npos);
}

TEST_F(ControlPlane, CrossOrgAccessIsNotFound) {
    Json a = publish(Json{{"name", "secret-agent"}, {"type", "tool"}, {"runtime", {{"command", "sh run.sh"}}}},
                     bundle_of("shell-echo"), key());
    const std::string id = a["id"];
    auto [slug, other] = d().create_org("intruder");
    for (auto [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", "/agents/" + id},
             {"PATCH", "/agents/" + id},
             {"DELETE", "/agents/" + id},
             {"GET", "/agents/" + id + "/delete-check"},
             {"POST", "/agents/" + id + "/fork"},
             {"PUT", "/agents/" + id + "/pricing"},
             {"GET", "/agents/" + id + "/bundle"},
             {"GET", "/agents/" + id + "/logs"},
             {"POST", "/agents/" + id + "/upload"}}) {
        Reply r = d().request(method, path, {.key = other, .body = R"({"description":"x","pricing_mode":"free"})"});
        EXPECT_EQ(r.status, 404) << method << " " << path << ": " << r.body;
        EXPECT_EQ(r.error_code(), "NOT_FOUND");
    }
    // Their listing does not show it; ours still has it unchanged.
    EXPECT_EQ(d().get("/agents", other).json().size(), 0u);
    EXPECT_EQ(d().get("/agents/" + id, key()).status, 200);
    // Their key cannot delete ours.
    Reply keys = d().get("/api-keys", key());
    const std::string our_key_id = keys.json()[0]["id"];
    EXPECT_EQ(d().request("DELETE", "/api-keys/" + our_key_id, {.key = other}).status, 404);
    EXPECT_EQ(d().get("/org", key()).status, 200);
}

// Every authenticated route x {no key, malformed header, unknown key, deleted key}: 401.
TEST_F(ControlPlane, AuthorizationMatrix) {
    Reply created = d().post_json("/api-keys", {{"name", "doomed"}}, key());
    const std::string doomed = created.json()["key"];
    ASSERT_EQ(d().request("DELETE", "/api-keys/" + created.json()["id"].get<std::string>(), {.key = key()}).status, 200);

    Json routes = Json::parse(command_output(std::string(ORCHAGENTD_PATH) + " routes"));
    ASSERT_TRUE(routes.is_array());
    int checked = 0;
    for (const auto& r : routes) {
        std::string path = r["pattern"];
        // Public by design; the payment provider's webhook is authenticated by its signature
        // (tests/e2e/payments_test.cpp).
        if (path.starts_with("/public/") || path.starts_with("/webhooks/") || path == "/health" ||
            path == "/metrics" || path == "/openapi.json" || path == "/billing/webhooks/stripe") {
            continue;
        }
        for (const char* param : {"{id}", "{org}", "{agent}", "{version}", "{endpoint}"}) {
            for (size_t at; (at = path.find(param)) != std::string::npos;)
                path.replace(at, std::strlen(param), "x1");
        }
        const std::string method = r["method"];
        for (const auto& [label, headers] : std::vector<std::pair<std::string, std::vector<std::string>>>{
                 {"no key", {}},
                 {"not bearer", {"Authorization: Basic dXNlcjpwYXNz"}},
                 {"unknown key", {"Authorization: Bearer sk_live_notakey"}},
                 {"deleted key", {"Authorization: Bearer " + doomed}}}) {
            Reply reply = d().request(method, path, {.body = "{}", .headers = headers});
            EXPECT_EQ(reply.status, 401) << method << " " << path << " with " << label << ": " << reply.body;
            EXPECT_EQ(reply.error_code(), "UNAUTHORIZED") << method << " " << path;
            ++checked;
        }
    }
    EXPECT_GE(checked, 4 * 15);
}

TEST_F(ControlPlane, ErrorsAreJsonEnvelopesWithRequestIds) {
    Reply missing = d().get("/no/such/route");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(missing.error_code(), "NOT_FOUND");
    EXPECT_EQ(missing.json()["error"]["is_retryable"], false);
    EXPECT_EQ(missing.json()["metadata"]["request_id"], missing.header("x-request-id"));
    Reply wrong = d().request("DELETE", "/org", {.key = key()});
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.error_code(), "METHOD_NOT_ALLOWED");
    EXPECT_NE(wrong.header("allow").find("GET"), std::string::npos);
    EXPECT_NE(d().get("/health").header("x-request-id"), d().get("/health").header("x-request-id"));
}

TEST_F(ControlPlane, OperatorEndpoints) {
    Reply health = d().get("/health");
    ASSERT_EQ(health.status, 200);
    EXPECT_EQ(health.json()["status"], "ok");
    EXPECT_EQ(health.json()["store"], "sqlite");
    Reply spec = d().get("/openapi.json");
    ASSERT_EQ(spec.status, 200);
    EXPECT_EQ(spec.json()["openapi"].get<std::string>().substr(0, 3), "3.1");
    d().get("/org", key());
    Reply metrics = d().get("/metrics");
    ASSERT_EQ(metrics.status, 200);
    EXPECT_NE(metrics.header("content-type").find("text/plain"), std::string::npos);
    EXPECT_NE(metrics.body.find("orchagent_http_requests_total{"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("route=\"/org\""), std::string::npos);
}

TEST(ControlPlaneDeprecation, SunsetAfterSixtyDaysOnAMovedClock) {
    Daemon d;
    Json m = {{"name", "aging"}, {"type", "prompt"}, {"prompt", "x"}, {"is_public", true}};
    ASSERT_EQ(d.post_json("/agents", m, d.admin_key()).status, 201);
    ASSERT_EQ(d.post_json("/agents", m, d.admin_key()).status, 201);
    Reply v1 = d.get("/public/agents/local/aging/v1");
    ASSERT_EQ(v1.status, 200);
    EXPECT_EQ(v1.header("deprecation"), "true");
    EXPECT_FALSE(v1.header("sunset").empty());
    EXPECT_EQ(v1.header("link"), "</public/agents/local/aging/v2>; rel=\"successor-version\"");
    EXPECT_EQ(v1.json()["status"], "deprecated");
    EXPECT_TRUE(d.get("/public/agents/local/aging/v2").header("deprecation").empty());

    d.set_clock_offset(59 * 86400);
    EXPECT_EQ(d.get("/public/agents/local/aging/v1").status, 200);
    d.set_clock_offset(61 * 86400);
    Reply gone = d.get("/public/agents/local/aging/v1");
    EXPECT_EQ(gone.status, 404);
    EXPECT_NE(gone.body.find("v2"), std::string::npos) << gone.body;
    EXPECT_EQ(d.get("/public/agents/local/aging/latest").json()["version"], "v2");
}

TEST(ControlPlaneRestart, NothingIsLostAcrossRestartsAndKills) {
    Daemon d;
    const std::string zip = bundle_of("shell-echo");
    Reply created = d.post_json("/agents", shell_echo_manifest(), d.admin_key());
    ASSERT_EQ(created.status, 201);
    const std::string id = created.json()["agent"]["id"];
    ASSERT_EQ(d.request("POST", "/agents/" + id + "/upload",
                        {.key = d.admin_key(), .body = zip, .content_type = "application/zip"}).status,
              200);
    Reply k = d.post_json("/api-keys", {{"name", "kept"}}, d.admin_key());
    const std::string kept = k.json()["key"];

    d.restart();  // SIGTERM, drain, start again
    EXPECT_EQ(d.get("/agents/" + id, kept).json()["code_hash"], sha256_hex(zip));
    // SIGKILL right after a write: it was committed before the answer.
    Reply v2 = d.post_json("/agents", shell_echo_manifest(), d.admin_key());
    ASSERT_EQ(v2.status, 201);
    d.stop(SIGKILL);
    d.start();
    EXPECT_EQ(d.get("/agents/" + v2.json()["agent"]["id"].get<std::string>(), d.admin_key()).status, 200);
    EXPECT_EQ(d.get("/agents/" + id + "/bundle", kept).body, zip);
    EXPECT_EQ(d.get("/org", kept).status, 200);
    // The first start's key still works; no second 'local' org was made.
    EXPECT_EQ(d.get("/org", d.admin_key()).json()["slug"], "local");
}

}  // namespace
}  // namespace orchagent::testing
