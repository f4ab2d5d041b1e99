// Calling agents end to end (CONTRACT.md section 4): the real daemon, the example agents of
// tests/agents/ published as the hosted CLI would, and calls over HTTP.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "core/clock.hpp"
#include "core/ids.hpp"
#include "tests/support/archives.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/publish.hpp"

namespace orchagent::testing {
namespace {



class Calls : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        daemon_ = new Daemon();
        const std::string& k = daemon_->admin_key();
        publish_example(*daemon_, k, "shell-echo", "echo");
        publish_example(*daemon_, k, "file-report", "files",
                        {{"input_schema", {{"type", "object"}}}});
        publish_example(*daemon_, k, "failer", "failer");
        publish_example(*daemon_, k, "sleeper", "sleeper");
        publish_example(*daemon_, k, "warner", "warner");
        publish_example(*daemon_, k, "file-report", "images-only",
                        {{"input_schema", {{"type", "object"}, {"accept", {"image/*", ".png"}}}}});
        publish_example(*daemon_, k, "shell-echo", "strict",
                        {{"input_schema",
                          {{"type", "object"},
                           {"required", {"amount"}},
                           {"properties", {{"amount", {{"type", "number"}}}}}}}});
    }
    static void TearDownTestSuite() {
        delete daemon_;
        daemon_ = nullptr;
    }
    Daemon& d() { return *daemon_; }
    const std::string& key() { return daemon_->admin_key(); }
    Reply call(const std::string& path, const std::string& body = "{}",
               std::vector<std::string> headers = {}) {
        return d().request("POST", path, {.key = key(), .body = body, .headers = std::move(headers)});
    }
    static Daemon* daemon_;
};
Daemon* Calls::daemon_ = nullptr;

TEST_F(Calls, JsonCallAnswersTheEnvelope) {
    Reply r = call("/local/echo/v1/analyze", R"({"q": [1, "two"]})");
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = r.json();
    EXPECT_EQ(j["data"]["input"], Json::parse(R"({"q": [1, "two"]})"));
    EXPECT_EQ(j["data"]["endpoint"], "analyze");
    EXPECT_EQ(j["data"]["cwd"], "/home/user");
    EXPECT_EQ(j["warnings"], Json::array());
    EXPECT_EQ(j["metadata"]["request_id"], r.header("x-request-id"));
    EXPECT_EQ(j["metadata"]["version"], "v1");
    EXPECT_TRUE(j["metadata"]["processing_time_ms"].is_number());
    EXPECT_TRUE(j["metadata"]["execution_time_ms"].is_number());
    EXPECT_TRUE(j["metadata"]["compute"].contains("cpu_ms"));
    EXPECT_TRUE(r.header("x-run-id").starts_with("run_"));
    EXPECT_FALSE(j["metadata"].contains("stdout"));
    // latest, verbose, and `curl -d` content types.
    Reply latest = d().request("POST", "/local/echo/latest/x?verbose=true",
                               {.key = key(), .body = "{}", .content_type = "application/x-www-form-urlencoded"});
    ASSERT_EQ(latest.status, 200) << latest.body;
    EXPECT_TRUE(latest.json()["metadata"]["stdout"].get<std::string>().starts_with("{\"input\""));
}

TEST_F(Calls, WarningsFromStderrLines) {
    Reply r = call("/local/warner/v1/run");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["warnings"].size(), 2u);
}

TEST_F(Calls, MultipartFilesReachTheAgentWithTheStdinManifest) {
    const std::string pdf = "%PDF-1.4\n" + std::string(100000, 'x');
    const std::string body = multipart_body({{"files[]", "a.pdf", "application/pdf", pdf},
                                             {"files[]", "../../x", "text/plain", "evil"},
                                             {"files[]", std::string(300, 'n') + ".txt", "text/plain", "long"},
                                             {"files[]", "r\xc3\xa9sum\xc3\xa9 \xe2\x9c\x93.txt", "text/plain", "unicode"},
                                             {"metadata", "", "application/json", R"({"format":"detailed"})"}});
    Reply r = d().request("POST", "/local/files/v1/report",
                          {.key = key(), .body = body, .content_type = multipart_type()});
    ASSERT_EQ(r.status, 200) << r.body;
    Json files = r.json()["data"]["files"];
    ASSERT_EQ(files.size(), 4u);
    EXPECT_EQ(files[0]["size"], pdf.size());
    EXPECT_EQ(files[0]["declared_size"], pdf.size());
    EXPECT_EQ(files[0]["sha256"], sha256_hex(pdf));
    EXPECT_EQ(files[0]["original_name"], "a.pdf");
    std::set<std::string> paths;
    for (const auto& f : files) {
        const std::string path = f["path"];
        EXPECT_TRUE(path.starts_with("/tmp/uploads/")) << path;
        EXPECT_EQ(path.find(".."), std::string::npos) << path;
        EXPECT_EQ(path.find('/', 13), std::string::npos) << path;  // no sub-folders
        EXPECT_LE(path.size(), 13u + 255u) << path;
        paths.insert(path);
    }
    EXPECT_EQ(paths.size(), 4u);
    EXPECT_EQ(files[1]["original_name"], "../../x");
    EXPECT_EQ(files[1]["sha256"], sha256_hex("evil"));
    EXPECT_EQ(files[3]["sha256"], sha256_hex("unicode"));
    EXPECT_EQ(r.json()["data"]["metadata"], Json::parse(R"({"format":"detailed"})"));
}

TEST_F(Calls, TheStdinManifestIsExactlyWhatTheContractSays) {
    const std::string body = multipart_body({{"file", "one.csv", "text/csv", "a,b\n1,2\n"},
                                             {"metadata", "", "", R"({"k":"v"})"}});
    Reply r = d().request("POST", "/local/echo/v1/run",
                          {.key = key(), .body = body, .content_type = multipart_type()});
    ASSERT_EQ(r.status, 200) << r.body;
    Json manifest = r.json()["data"]["input"];
    ASSERT_EQ(manifest["files"].size(), 1u);
    Json f = manifest["files"][0];
    EXPECT_EQ(f.size(), 4u) << f;  // path, original_name, content_type, size_bytes
    EXPECT_EQ(f["original_name"], "one.csv");
    EXPECT_EQ(f["size_bytes"], 8);
    EXPECT_TRUE(f["path"].get<std::string>().starts_with("/tmp/uploads/"));
    EXPECT_TRUE(f.contains("content_type"));
    EXPECT_EQ(manifest["metadata"], Json::parse(R"({"k":"v"})"));
}

TEST_F(Calls, FileTypesAreSniffedAndCheckedAgainstAcceptLists) {
    const std::string png = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0", 29);
    const std::string pdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";
    auto send = [&](const std::string& name, const std::string& declared, const std::string& bytes) {
        return d().request("POST", "/local/images-only/v1/run",
                           {.key = key(),
                            .body = multipart_body({{"file", name, declared, bytes}}),
                            .content_type = multipart_type()});
    };
    Reply ok = send("pixel.png", "image/png", png);
    ASSERT_EQ(ok.status, 200) << ok.body;
    // A PDF declared as an image, under an image's name, is still a PDF.
    Reply disguised = send("pixel.png", "image/png", pdf);
    EXPECT_EQ(disguised.status, 415) << disguised.body;
    EXPECT_EQ(disguised.error_code(), "UNSUPPORTED_TYPE");
    EXPECT_NE(disguised.body.find("application/pdf"), std::string::npos);
    EXPECT_EQ(send("doc.pdf", "application/pdf", pdf).status, 415);
    // The agent sees the sniffed type, not the declared one.
    Reply typed = d().request("POST", "/local/echo/v1/run",
                              {.key = key(),
                               .body = multipart_body({{"file", "x.bin", "application/octet-stream", pdf}}),
                               .content_type = multipart_type()});
    ASSERT_EQ(typed.status, 200) << typed.body;
    EXPECT_EQ(typed.json()["data"]["input"]["files"][0]["content_type"], "application/pdf");
    // Multipart with metadata and no file: the manifest still carries the metadata.
    Reply meta = d().request("POST", "/local/echo/v1/run",
                             {.key = key(),
                              .body = multipart_body({{"metadata", "", "", R"({"only":"meta"})"}}),
                              .content_type = multipart_type()});
    ASSERT_EQ(meta.status, 200) << meta.body;
    EXPECT_EQ(meta.json()["data"]["input"]["metadata"]["only"], "meta");
    EXPECT_EQ(meta.json()["data"]["input"]["files"], Json::array());
}

TEST_F(Calls, ErrorTableRowsProducedForReal) {
    // INVALID_INPUT: not an object, not JSON, schema violation naming the field.
    Reply array = call("/local/echo/v1/run", "[1,2]");
    EXPECT_EQ(array.status, 400);
    EXPECT_EQ(array.error_code(), "INVALID_INPUT");
    EXPECT_EQ(call("/local/echo/v1/run", "{oops").status, 400);
    Reply schema = call("/local/strict/v1/run", R"({"amount": "ten"})");
    EXPECT_EQ(schema.status, 400) << schema.body;
    EXPECT_NE(schema.body.find("amount"), std::string::npos) << schema.body;
    // Malformed multipart, metadata that is not JSON.
    Reply bad_mp = d().request("POST", "/local/echo/v1/run",
                               {.key = key(), .body = "--x\r\n", .content_type = multipart_type()});
    EXPECT_EQ(bad_mp.status, 400);
    Reply bad_meta = d().request("POST", "/local/echo/v1/run",
                                 {.key = key(),
                                  .body = multipart_body({{"metadata", "", "", "{not json"}}),
                                  .content_type = multipart_type()});
    EXPECT_EQ(bad_meta.status, 400);
    EXPECT_NE(bad_meta.body.find("metadata"), std::string::npos);
    // UNPROCESSABLE reported by the agent itself.
    Reply unprocessable = call("/local/failer/v1/run");
    EXPECT_EQ(unprocessable.status, 422) << unprocessable.body;
    EXPECT_EQ(unprocessable.error_code(), "UNPROCESSABLE");
    // TIMEOUT: the agent sleeps past its 1 s; a deadline already past does not run at all.
    Reply timeout = call("/local/sleeper/v1/run");
    EXPECT_EQ(timeout.status, 504) << timeout.body;
    EXPECT_EQ(timeout.json()["error"]["is_retryable"], true);
    Reply past = call("/local/echo/v1/run", "{}",
                      {"X-Orchagent-Deadline-Ms: " + std::to_string(system_now_ms() - 1000)});
    EXPECT_EQ(past.status, 504);
    EXPECT_EQ(past.json()["metadata"].contains("execution_time_ms"), false);
    EXPECT_EQ(call("/local/echo/v1/run", "{}", {"X-Orchagent-Deadline-Ms: soon"}).status, 400);
    EXPECT_EQ(call("/local/echo/v1/run", "{}", {"X-Orchagent-Max-Hops: 0"}).error_code(),
              "MAX_HOPS_EXCEEDED");
    EXPECT_EQ(call("/local/echo/v1/run", "{}", {"X-Orchagent-Tenant: a b"}).status, 400);
    // NOT_FOUND, DOCUMENT_TOO_LARGE.
    EXPECT_EQ(call("/local/nobody/v1/run").error_code(), "NOT_FOUND");
    EXPECT_EQ(call("/local/echo/v9/run").error_code(), "NOT_FOUND");
    EXPECT_EQ(call("/nowhere/echo/v1/run").error_code(), "NOT_FOUND");
    const std::string big = multipart_body({{"file", "big.bin", "application/octet-stream",
                                             std::string(26u << 20, 'b')}});
    Reply too_big = d().request("POST", "/local/files/v1/run",
                                {.key = key(), .body = big, .content_type = multipart_type()});
    EXPECT_EQ(too_big.status, 413);
    EXPECT_EQ(too_big.error_code(), "DOCUMENT_TOO_LARGE");
    // UNAUTHORIZED.
    EXPECT_EQ(d().request("POST", "/local/echo/v1/run", {.body = "{}"}).status, 401);
}

TEST_F(Calls, OtherOrgsMayCallOnlyPublicAgents) {
    auto [slug, other] = d().create_org("caller-org");
    Reply forbidden = d().request("POST", "/local/echo/v1/run", {.key = other, .body = "{}"});
    EXPECT_EQ(forbidden.status, 403) << forbidden.body;
    EXPECT_EQ(forbidden.error_code(), "FORBIDDEN");
    publish_example(d(), key(), "shell-echo", "open-echo", {{"is_public", true}});
    Reply ok = d().request("POST", "/local/open-echo/v1/run", {.key = other, .body = R"({"hi":1})"});
    EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(Calls, EveryCallLeavesAUsageRecordReadByLogs) {
    Json agent = publish_example(d(), key(), "shell-echo", "logged");
    const std::string id = agent["id"];
    ASSERT_EQ(call("/local/logged/v1/run", R"({"n":1})").status, 200);
    ASSERT_EQ(call("/local/logged/v1/run", "[1]").status, 400);
    Reply logs = d().get("/agents/" + id + "/logs", key());
    ASSERT_EQ(logs.status, 200) << logs.body;
    // Both calls are recorded: the one refused before it ran too.
    ASSERT_EQ(logs.json().size(), 2u) << logs.body;
    EXPECT_EQ(logs.json()[0]["status"], "error");
    EXPECT_TRUE(logs.json()[0]["exit_code"].is_null());
    bool success = false;
    for (const auto& l : logs.json()) {
        if (l["status"] == "success") {
            success = true;
            EXPECT_EQ(l["exit_code"], 0);
            EXPECT_NE(l["stdout"].get<std::string>().find("\"n\":1"), std::string::npos) << l;
        }
    }
    EXPECT_TRUE(success) << logs.body;
}

TEST_F(Calls, FiftyConcurrentCallsDoNotMixUp) {
    std::vector<std::thread> threads;
    std::atomic<int> ok{0}, mixed{0};
    for (int t = 0; t < 50; ++t) {
        threads.emplace_back([&, t] {
            const std::string token = random_hex(8);
            Reply r = call("/local/echo/v1/run", Json{{"token", token}, {"t", t}}.dump());
            if (r.status != 200) return;
            ++ok;
            if (r.json()["data"]["input"]["token"] != token) ++mixed;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 50);
    EXPECT_EQ(mixed.load(), 0);
}

TEST_F(Calls, DeprecatedVersionsSaySoAndRetireAfterSunset) {
    publish_example(d(), key(), "shell-echo", "aging");
    publish_example(d(), key(), "shell-echo", "aging");
    Reply v1 = call("/local/aging/v1/go");
    ASSERT_EQ(v1.status, 200) << v1.body;
    EXPECT_EQ(v1.header("deprecation"), "true");
    EXPECT_FALSE(v1.header("sunset").empty());
    EXPECT_EQ(v1.header("link"), "</local/aging/v2/go>; rel=\"successor-version\"");
    EXPECT_TRUE(call("/local/aging/v2/go").header("deprecation").empty());
    d().set_clock_offset(61 * 86400);
    Reply gone = call("/local/aging/v1/go");
    d().set_clock_offset(0);
    EXPECT_EQ(gone.status, 404);
    EXPECT_NE(gone.body.find("v2"), std::string::npos) << gone.body;
}

TEST_F(Calls, IdempotencyKeyReplaysRefusesMismatchAndConflicts) {
    Json agent = publish_example(d(), key(), "shell-echo", "once");
    const std::string idem = "Idempotency-Key: order-" + random_hex(4);
    Reply first = call("/local/once/v1/run", R"({"n":1})", {idem});
    ASSERT_EQ(first.status, 200) << first.body;
    EXPECT_TRUE(first.header("idempotent-replayed").empty());
    Reply again = call("/local/once/v1/run", R"({"n":1})", {idem});
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.body, first.body);
    EXPECT_EQ(again.header("idempotent-replayed"), "true");
    EXPECT_EQ(again.header("x-run-id"), first.header("x-run-id"));
    // The agent ran once.
    EXPECT_EQ(d().get("/agents/" + agent["id"].get<std::string>() + "/logs", key()).json().size(), 1u);
    Reply other = call("/local/once/v1/run", R"({"n":2})", {idem});
    EXPECT_EQ(other.status, 422) << other.body;
    EXPECT_EQ(other.error_code(), "UNPROCESSABLE");
    // Error answers are kept too (a repeat of a bad request is the same bad request).
    const std::string bad = "Idempotency-Key: bad-" + random_hex(4);
    EXPECT_EQ(call("/local/once/v1/run", "[1]", {bad}).status, 400);
    EXPECT_EQ(call("/local/once/v1/run", "[1]", {bad}).header("idempotent-replayed"), "true");
    // While the first is still running: 409.
    publish_example(d(), key(), "sleeper", "slow-once", {{"timeout_seconds", 2}});
    const std::string slow = "Idempotency-Key: slow-" + random_hex(4);
    std::thread t([&] { call("/local/slow-once/v1/run", "{}", {slow}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    Reply conflict = call("/local/slow-once/v1/run", "{}", {slow});
    t.join();
    EXPECT_EQ(conflict.status, 409) << conflict.body;
    EXPECT_EQ(conflict.error_code(), "CONFLICT");
    EXPECT_EQ(call("/local/slow-once/v1/run", "{}", {slow}).status, 504);  // the first's answer
    EXPECT_EQ(call("/local/once/v1/run", "{}", {"Idempotency-Key: " + std::string(300, 'k')}).status, 400);
    // Large bodies (spooled to disk by the HTTP layer) are compared by their bytes too.
    const std::string big = "Idempotency-Key: big-" + random_hex(4);
    const std::string pad(400 * 1024, 'x');
    Reply big1 = call("/local/once/v1/run", Json{{"pad", pad}, {"n", 1}}.dump(), {big});
    ASSERT_EQ(big1.status, 200) << big1.body.substr(0, 300);
    EXPECT_EQ(call("/local/once/v1/run", Json{{"pad", pad}, {"n", 2}}.dump(), {big}).status, 422);
    EXPECT_EQ(call("/local/once/v1/run", Json{{"pad", pad}, {"n", 1}}.dump(), {big})
                  .header("idempotent-replayed"),
              "true");
}

TEST_F(Calls, ACrashingAgentIsSandboxErrorWithItsStderrTail) {
    Reply created = d().post_json(
        "/agents", Json{{"name", "crasher"}, {"type", "tool"}, {"runtime", {{"command", "sh run.sh"}}}},
        key());
    ASSERT_EQ(created.status, 201);
    const std::string id = created.json()["agent"]["id"];
    const std::string tar = make_archive(
        Format::kTar, {file("run.sh", "echo 'segfault in module frobnicate' >&2\n"
                                      "exec python3 -c 'import ctypes; ctypes.string_at(0)'\n")});
    ASSERT_EQ(d().request("POST", "/agents/" + id + "/upload",
                          {.key = key(), .body = tar, .content_type = "application/x-tar"})
                  .status,
              200);
    Reply r = call("/local/crasher/v1/run");
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_EQ(r.error_code(), "SANDBOX_ERROR");
    EXPECT_EQ(r.json()["error"]["is_retryable"], false);
    Json logs = d().get("/agents/" + id + "/logs", key()).json();
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0]["status"], "error");
    EXPECT_NE(logs[0]["stderr"].get<std::string>().find("frobnicate"), std::string::npos) << logs;
}

TEST_F(Calls, ADisconnectingClientLeavesNoRunPastItsDeadline) {
    Json agent = publish_example(d(), key(), "sleeper", "abandoned");  // timeout_seconds: 1
    // The client gives up after 200 ms, long before the agent's deadline.
    CURL* curl = curl_easy_init();
    const std::string url = d().url() + "/local/abandoned/v1/run";
    curl_slist* headers = curl_slist_append(nullptr, ("Authorization: Bearer " + key()).c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 200L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    EXPECT_EQ(curl_easy_perform(curl), CURLE_OPERATION_TIMEDOUT);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    // By its deadline (1 s) plus slack, the run is over, recorded, and nothing is in flight.
    Json logs;
    for (int i = 0; i < 100; ++i) {
        logs = d().get("/agents/" + agent["id"].get<std::string>() + "/logs", key()).json();
        if (logs.size() == 1 && logs[0]["status"] != "running") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_EQ(logs.size(), 1u) << logs;
    EXPECT_EQ(logs[0]["status"], "timeout") << logs;
    EXPECT_LE(logs[0]["duration_ms"].get<int64_t>(), 3000);
    Reply metrics = d().get("/metrics");
    EXPECT_NE(metrics.body.find("orchagent_runs_in_flight 0"), std::string::npos) << metrics.body;
    EXPECT_NE(metrics.body.find("route=\"/{org}/{agent}/{version}/{endpoint}\""), std::string::npos);
}

TEST(CallsLimits, AFullQueueAnswers503AtOnce) {
    const std::string config = "/tmp/orchagentd-limits-" + random_hex(4) + ".yaml";
    std::ofstream(config) << "max_running_calls: 1\nmax_waiting_calls: 1\n";
    Daemon d({"--config", config});
    publish_example(d, d.admin_key(), "sleeper", "sleeper");
    std::vector<std::thread> threads;
    std::atomic<int> unavailable{0}, timeouts{0};
    for (int i = 0; i < 4; ++i) {
        threads.emplace_back([&] {
            Reply r = d.request("POST", "/local/sleeper/v1/run", {.key = d.admin_key(), .body = "{}"});
            if (r.status == 503) {
                ++unavailable;
                EXPECT_EQ(r.header("retry-after"), "1");
                EXPECT_EQ(r.json()["error"]["is_retryable"], true);
            }
            if (r.status == 504) ++timeouts;
        });
    }
    for (auto& t : threads) t.join();
    fs::remove(config);
    EXPECT_EQ(unavailable.load(), 2);
    EXPECT_EQ(timeouts.load(), 2);
}

TEST(CallsLimits, RateLimitPerKeyWithHeadersAndPerOrgOverrides) {
    const std::string config = "/tmp/orchagentd-rate-" + random_hex(4) + ".yaml";
    std::ofstream(config) << "rate_limit_per_minute: 3\norg_rate_limits:\n  generous: 100\n";
    Daemon d({"--config", config});
    fs::remove(config);
    publish_example(d, d.admin_key(), "shell-echo", "echo", {{"is_public", true}});
    int64_t last_remaining = 100;
    for (int i = 0; i < 3; ++i) {
        Reply r = d.request("POST", "/local/echo/v1/run", {.key = d.admin_key(), .body = "{}"});
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.header("x-ratelimit-limit"), "3");
        const int64_t remaining = std::stoll(r.header("x-ratelimit-remaining"));
        EXPECT_LT(remaining, last_remaining);
        last_remaining = remaining;
        EXPECT_GE(std::stoll(r.header("x-ratelimit-reset")), system_now_ms() / 1000);
        EXPECT_NE(r.header("ratelimit").find("limit=3"), std::string::npos);
        EXPECT_EQ(r.header("ratelimit-policy"), "3;w=60");
    }
    Reply limited = d.request("POST", "/local/echo/v1/run", {.key = d.admin_key(), .body = "{}"});
    EXPECT_EQ(limited.status, 429) << limited.body;
    EXPECT_EQ(limited.error_code(), "RATE_LIMITED");
    EXPECT_EQ(limited.json()["error"]["is_retryable"], true);
    EXPECT_GE(std::stoll(limited.header("retry-after")), 1);
    EXPECT_EQ(limited.header("x-ratelimit-remaining"), "0");
    // Other authenticated routes carry the headers without spending calls.
    Reply org = d.get("/org", d.admin_key());
    EXPECT_EQ(org.header("x-ratelimit-limit"), "3");
    EXPECT_EQ(org.header("x-ratelimit-remaining"), "0");
    // Another key has its own bucket; an org may have its own limit.
    Reply k = d.post_json("/api-keys", {{"name", "second"}}, d.admin_key());
    EXPECT_EQ(d.request("POST", "/local/echo/v1/run", {.key = k.json()["key"], .body = "{}"}).status, 200);
    auto [slug, generous] = d.create_org("generous");
    Reply g = d.request("POST", "/local/echo/v1/run", {.key = generous, .body = "{}"});
    EXPECT_EQ(g.status, 200) << g.body;
    EXPECT_EQ(g.header("x-ratelimit-limit"), "100");
}

TEST(CallsCrash, KilledDuringCallsEveryAcceptedCallHasARecord) {
    Daemon d;
    Json agent = publish_example(d, d.admin_key(), "sleeper", "sleeper", {{"timeout_seconds", 30}});
    std::vector<std::thread> threads;
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&] {
            d.request("POST", "/local/sleeper/v1/run", {.key = d.admin_key(), .body = "{}"});
        });
    }
    // Wait until the three calls are recorded as running, then SIGKILL.
    const std::string id = agent["id"];
    for (int i = 0; i < 200; ++i) {
        Json logs = d.get("/agents/" + id + "/logs", d.admin_key()).json();
        if (logs.is_array() && logs.size() == 3) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    d.stop(SIGKILL);
    for (auto& t : threads) t.join();
    d.start();
    Json logs = d.get("/agents/" + id + "/logs", d.admin_key()).json();
    ASSERT_EQ(logs.size(), 3u) << logs;
    for (const auto& l : logs) {
        EXPECT_EQ(l["status"], "error") << l;
        EXPECT_FALSE(l["completed_at"].is_null());
    }
}

}  // namespace
}  // namespace orchagent::testing
