// The example agents of tests/agents/, each run through the real `orchagent run` in the jail,
// with the response envelope and the exit code asserted (CONTRACT.md sections 1 and 4).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Ran {
    int exit_code = -1;
    Json envelope;
    std::string raw;
};

// Runs a shell command; its stdout and exit code.
std::pair<std::string, int> capture(const std::string& cmd) {
    std::string text;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    std::array<char, 4096> buf;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) text.append(buf.data(), n);
    int status = ::pclose(pipe);
    return {text, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

class AgentsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (the jail maps host id ranges)";
        cache_ =
            fs::temp_directory_path() / ("orchagent-agents-cache-" + std::to_string(::getpid()));
    }
    void TearDown() override {
        std::error_code ec;
        fs::permissions(cache_, fs::perms::owner_all, ec);
        fs::remove_all(cache_, ec);
    }
    Ran run(const std::string& agent, const std::string& args) {
        std::string cmd =
            "ORCHAGENT_CACHE=" + shell_quote(cache_.string()) + " " + ORCHAGENT_CLI_PATH + " run " +
            shell_quote(std::string(ORCHAGENT_SOURCE_DIR) + "/tests/agents/" + agent) + " " + args +
            " 2>/dev/null";
        Ran ran;
        std::tie(ran.raw, ran.exit_code) = capture(cmd);
        ran.envelope = Json::parse(ran.raw, nullptr, false);
        return ran;
    }
    fs::path cache_;
};

void expect_success_metadata(const Json& e) {
    ASSERT_TRUE(e.contains("metadata")) << e.dump();
    EXPECT_TRUE(e["metadata"]["request_id"].get<std::string>().starts_with("req_"));
    EXPECT_TRUE(e["metadata"].contains("processing_time_ms"));
    EXPECT_TRUE(e["metadata"].contains("execution_time_ms"));
    EXPECT_GT(e["metadata"]["compute"]["cpu_ms"].get<double>(), 0.0);
    EXPECT_GT(e["metadata"]["compute"]["peak_memory_bytes"].get<uint64_t>(), 0u);
}

TEST_F(AgentsTest, ShellAgentGetsItsInputAndRunsAsTheRunUser) {
    Ran r = run("shell-echo", "--input '{\"q\": [1, 2]}' --endpoint summarize");
    ASSERT_EQ(r.exit_code, 0) << r.raw;
    EXPECT_EQ(r.envelope["data"], Json({{"input", {{"q", {1, 2}}}},
                                        {"endpoint", "summarize"},
                                        {"cwd", "/home/user"},
                                        {"uid", 1000}}));
    EXPECT_EQ(r.envelope["warnings"], Json::array());
    expect_success_metadata(r.envelope);
}

TEST_F(AgentsTest, ShellAgentStatsUploadedFilesWithoutReadingThem) {
    fs::path dir = fs::temp_directory_path() / ("orchagent-sizes-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "a b.bin") << std::string(12345, 'x');
    std::ofstream(dir / "c.txt") << "hi";
    Ran r = run("file-size", "--file " + shell_quote((dir / "a b.bin").string()) + " --file " +
                                 shell_quote((dir / "c.txt").string()));
    ASSERT_EQ(r.exit_code, 0) << r.raw;
    const Json& files = r.envelope["data"]["files"];
    ASSERT_EQ(files.size(), 2u) << r.raw;
    EXPECT_EQ(files[0]["size"], 12345);
    EXPECT_EQ(files[1]["path"], "/tmp/uploads/1_c.txt");
    EXPECT_EQ(files[1]["size"], 2);
    fs::remove_all(dir);
}

TEST_F(AgentsTest, PythonAgentReadsUploadedFilesFromTheStdinManifest) {
    fs::path dir = fs::temp_directory_path() / ("orchagent-uploads-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "a.txt") << "hello";
    fs::path hostile = dir / "we ird ü.bin";
    std::ofstream(hostile) << std::string(70000, 'z');
    Ran r = run("file-report", "--file " + shell_quote((dir / "a.txt").string()) + " --file " +
                                   shell_quote(hostile.string()) + " --metadata '{\"k\": \"v\"}'");
    ASSERT_EQ(r.exit_code, 0) << r.raw;
    const Json& files = r.envelope["data"]["files"];
    ASSERT_EQ(files.size(), 2u) << r.raw;
    EXPECT_EQ(files[0]["path"], "/tmp/uploads/0_a.txt");
    EXPECT_EQ(files[0]["original_name"], "a.txt");
    EXPECT_EQ(files[0]["size"], 5);
    EXPECT_EQ(files[0]["declared_size"], 5);
    EXPECT_EQ(files[0]["sha256"],
              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    EXPECT_EQ(files[1]["original_name"], "we ird ü.bin");
    EXPECT_TRUE(files[1]["path"].get<std::string>().starts_with("/tmp/uploads/1_"));
    EXPECT_EQ(files[1]["size"], 70000);
    EXPECT_EQ(r.envelope["data"]["metadata"], Json({{"k", "v"}}));
    fs::remove_all(dir);
}

TEST_F(AgentsTest, WarningsFromStderrLines) {
    Ran r = run("warner", "");
    ASSERT_EQ(r.exit_code, 0) << r.raw;
    EXPECT_EQ(r.envelope["data"], Json({{"total", 42}}));
    ASSERT_EQ(r.envelope["warnings"].size(), 2u) << r.raw;
    EXPECT_EQ(r.envelope["warnings"][0]["code"], "LOW_CONFIDENCE");
    EXPECT_EQ(r.envelope["warnings"][0]["field"], "total");
    EXPECT_EQ(r.envelope["warnings"][1]["code"], "TRUNCATED");
}

TEST_F(AgentsTest, ReportedErrorKeepsItsCode) {
    Ran r = run("failer", "");
    EXPECT_EQ(r.exit_code, 1) << r.raw;
    EXPECT_EQ(r.envelope["error"]["code"], "UNPROCESSABLE");
    EXPECT_EQ(r.envelope["error"]["message"], "this is not an invoice");
    EXPECT_EQ(r.envelope["error"]["is_retryable"], false);
    EXPECT_TRUE(r.envelope["metadata"]["request_id"].is_string());
}

TEST_F(AgentsTest, NonJsonOutputIsASandboxError) {
    Ran r = run("not-json", "");
    EXPECT_EQ(r.exit_code, 1) << r.raw;
    EXPECT_EQ(r.envelope["error"]["code"], "SANDBOX_ERROR");
    EXPECT_NE(r.envelope["error"]["message"].get<std::string>().find("Hello! This is not JSON."),
              std::string::npos);
}

TEST_F(AgentsTest, SleeperTimesOutAndLeavesNothing) {
    Ran r = run("sleeper", "");
    EXPECT_EQ(r.exit_code, 1) << r.raw;
    EXPECT_EQ(r.envelope["error"]["code"], "TIMEOUT");
    EXPECT_EQ(r.envelope["error"]["is_retryable"], true);
    EXPECT_NE(::system("pgrep -f '^sleep 60$' >/dev/null"), 0) << "a process of the run survived";
}

TEST_F(AgentsTest, WorkFolderIsWritableAndTheBundleUnchanged) {
    for (int i = 0; i < 2; ++i) {
        Ran r = run("scribbler", "");
        ASSERT_EQ(r.exit_code, 0) << r.raw;
        EXPECT_EQ(r.envelope["data"]["files"], Json({"main.py", "notes.txt", "orchagent.json"}));
        // The second run sees the original source: the first run's append was discarded.
        EXPECT_EQ(r.envelope["data"]["own_source_bytes"],
                  fs::file_size(fs::path(ORCHAGENT_SOURCE_DIR) / "tests/agents/scribbler/main.py"));
    }
}

TEST_F(AgentsTest, BadInputIsAnErrorEnvelope) {
    Ran r = run("shell-echo", "--input '[1, 2]'");
    EXPECT_EQ(r.exit_code, 1) << r.raw;
    EXPECT_EQ(r.envelope["error"]["code"], "INVALID_INPUT");
}

// `orchagent validate` and `orchagent bundle`: exit codes and field paths.
int cli(const std::string& args, std::string* out = nullptr) {
    auto [text, code] = capture(std::string(ORCHAGENT_CLI_PATH) + " " + args + " 2>&1");
    if (out) *out = text;
    return code;
}

TEST(CliCommands, ValidateAcceptsEveryExampleAgent) {
    for (const auto& agent :
         fs::directory_iterator(fs::path(ORCHAGENT_SOURCE_DIR) / "tests/agents")) {
        std::string out;
        EXPECT_EQ(cli("validate " + shell_quote(agent.path().string()), &out), 0) << out;
        EXPECT_TRUE(out.starts_with("ok: ")) << out;
    }
}

TEST(CliCommands, ValidateNamesTheFailingFields) {
    fs::path dir = fs::temp_directory_path() / ("orchagent-bad-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::ofstream(dir / "orchagent.json")
        << R"({"name": "Bad--Name", "type": "tool", "runtime": {"command": 7}, "x_extra": 1})";
    std::ofstream(dir / "main.py") << "print('{}')\n";
    std::string out;
    EXPECT_EQ(cli("validate " + shell_quote(dir.string()), &out), 1) << out;
    EXPECT_NE(out.find("error: name: "), std::string::npos) << out;
    EXPECT_NE(out.find("error: runtime.command: must be a string"), std::string::npos) << out;
    EXPECT_NE(out.find("x_extra"), std::string::npos) << out;  // an unknown field: a warning
    fs::remove_all(dir);
}

TEST(CliCommands, BundleLeavesOutWhatTheHostedCliLeavesOut) {
    fs::path dir = fs::temp_directory_path() / ("orchagent-bundle-" + std::to_string(::getpid()));
    fs::create_directories(dir / "node_modules/x");
    fs::create_directories(dir / "tests");
    std::ofstream(dir / "orchagent.json") << R"({"name": "zipme", "type": "tool"})";
    std::ofstream(dir / "main.py") << "print('{}')\n";
    std::ofstream(dir / "requirements.txt") << "requests\n";
    std::ofstream(dir / ".env") << "SECRET=1\n";
    std::ofstream(dir / "node_modules/x/index.js") << "//\n";
    std::ofstream(dir / "tests/test_main.py") << "#\n";
    std::ofstream(dir / "old.zip") << "PK";
    fs::path zip = dir.string() + ".zip";
    std::string out;
    ASSERT_EQ(cli("bundle " + shell_quote(dir.string()) + " -o " + shell_quote(zip.string()), &out),
              0)
        << out;
    auto [listing, listed] = capture(
        "python3 -c 'import sys,zipfile; "
        "print(chr(32).join(sorted(zipfile.ZipFile(sys.argv[1]).namelist())))' " +
        shell_quote(zip.string()));
    ASSERT_EQ(listed, 0);
    EXPECT_EQ(listing, "main.py orchagent.json requirements.txt\n");
    fs::remove_all(dir);
    fs::remove(zip);
}

}  // namespace
