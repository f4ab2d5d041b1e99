// End-to-end tests' view of orchagentd: the real binary started on a free port with a fresh
// data folder, and an HTTP client (libcurl) to talk to it as a caller would.
#pragma once

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace orchagent::testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;

struct Reply {
    long status = 0;
    std::string body;
    std::multimap<std::string, std::string> headers;  // names lower-cased

    Json json() const {
        Json j = Json::parse(body, nullptr, false);
        return j;
    }
    std::string header(const std::string& name) const {
        auto it = headers.find(name);
        return it == headers.end() ? std::string() : it->second;
    }
    // The wire error code of an error envelope, "" otherwise.
    std::string error_code() const {
        Json j = json();
        if (j.is_object() && j.contains("error") && j["error"].is_object())
            return j["error"].value("code", "");
        return "";
    }
};

struct RequestOptions {
    std::string key;  // bearer key, none when empty
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::string> headers;  // "Name: value"
};

inline size_t collect_body(char* p, size_t size, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, size * n);
    return size * n;
}

inline size_t collect_header(char* p, size_t size, size_t n, void* out) {
    std::string line(p, size * n);
    auto* headers = static_cast<std::multimap<std::string, std::string>*>(out);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
        while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
        headers->emplace(name, value);
    }
    return size * n;
}

// One HTTP request with libcurl. Multipart bodies are built by the caller (exact bytes).
inline Reply http_request(const std::string& method, const std::string& url,
                          const RequestOptions& o = {}) {
    CURL* curl = curl_easy_init();
    Reply reply;
    curl_slist* headers = nullptr;
    if (!o.key.empty()) headers = curl_slist_append(headers, ("Authorization: Bearer " + o.key).c_str());
    if (!o.body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
        headers = curl_slist_append(headers, ("Content-Type: " + o.content_type).c_str());
    for (const auto& h : o.headers) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (method == "POST" || method == "PUT" || method == "PATCH" || !o.body.empty()) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, o.body.data());
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(o.body.size()));
    }
    if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply.headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (curl_easy_perform(curl) == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return reply;
}

// A multipart/form-data body: parts {name, filename (empty: a field), content type, bytes}.
struct Part {
    std::string name, filename, content_type, data;
};
inline constexpr const char* kBoundary = "----orchagent-test-boundary-7d1f";
inline std::string multipart_body(const std::vector<Part>& parts) {
    std::string out;
    for (const auto& p : parts) {
        out += std::string("--") + kBoundary + "\r\n";
        out += "Content-Disposition: form-data; name=\"" + p.name + "\"";
        if (!p.filename.empty()) out += "; filename=\"" + p.filename + "\"";
        out += "\r\n";
        if (!p.content_type.empty()) out += "Content-Type: " + p.content_type + "\r\n";
        out += "\r\n" + p.data + "\r\n";
    }
    out += std::string("--") + kBoundary + "--\r\n";
    return out;
}
inline std::string multipart_type() { return std::string("multipart/form-data; boundary=") + kBoundary; }

// What a shell command prints on stdout.
inline std::string command_output(const std::string& cmd) {
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return {};
    std::string out;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return out;
}

inline std::string file_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// orchagentd on 127.0.0.1 with its own data folder. Stopped (SIGTERM) when destroyed.
class Daemon {
  public:
    explicit Daemon(std::vector<std::string> extra_args = {}, fs::path data_dir = {})
        : extra_args_(std::move(extra_args)) {
        if (data_dir.empty()) {
            char tmpl[] = "/tmp/orchagentd-e2e-XXXXXX";
            if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
            data_dir_ = tmpl;
            owns_dir_ = true;
        } else {
            data_dir_ = data_dir;
        }
        clock_file_ = data_dir_.string() + ".clock";
        start();
    }
    ~Daemon() {
        stop();
        std::error_code ec;
        if (owns_dir_) {
            fs::remove_all(data_dir_, ec);
            fs::remove(clock_file_, ec);
        }
    }

    void start() {
        const std::string port_file = data_dir_.string() + "/port";
        std::error_code ec;
        fs::remove(port_file, ec);
        std::vector<std::string> args = {ORCHAGENTD_PATH, "--listen", "127.0.0.1:0",
                                         "--data-dir", data_dir_.string(), "--port-file",
                                         port_file, "--clock-offset-file", clock_file_};
        args.insert(args.end(), extra_args_.begin(), extra_args_.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        const std::string log = data_dir_.string() + ".log";
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0)
            throw std::runtime_error("posix_spawn orchagentd");
        posix_spawn_file_actions_destroy(&actions);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (std::chrono::steady_clock::now() < deadline) {
            std::ifstream in(port_file);
            int port = 0;
            if (in >> port && port > 0) {
                url_ = "http://127.0.0.1:" + std::to_string(port);
                std::ifstream key(data_dir_ / "admin.key");
                std::getline(key, admin_key_);
                return;
            }
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("orchagentd exited at start; see " + log);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        throw std::runtime_error("orchagentd did not start within 30 s; see " + log);
    }

    // SIGTERM (drain) or SIGKILL, then wait. Returns the wait status.
    int stop(int signal = SIGTERM) {
        if (pid_ <= 0) return 0;
        ::kill(pid_, signal);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
        return status;
    }
    void restart() {
        stop();
        start();
    }
    pid_t pid() const { return pid_; }

    // Moves the daemon's clock `seconds` ahead of real time.
    void set_clock_offset(long seconds) {
        std::ofstream(clock_file_) << seconds << "\n";
        // The daemon re-reads the file when its mtime changes; make sure it does.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }

    Reply request(const std::string& method, const std::string& path,
                  const RequestOptions& o = {}) const {
        return http_request(method, url_ + path, o);
    }
    Reply get(const std::string& path, const std::string& key = "") const {
        return request("GET", path, {.key = key});
    }
    Reply post_json(const std::string& path, const Json& body, const std::string& key) const {
        return request("POST", path, {.key = key, .body = body.dump()});
    }

    // A new org through the admin command: its slug and key.
    std::pair<std::string, std::string> create_org(const std::string& slug) const {
        const std::string out = command_output(std::string(ORCHAGENTD_PATH) +
                                               " admin create-org " + slug + " --data-dir " +
                                               data_dir_.string());
        Json j = Json::parse(out, nullptr, false);
        if (!j.is_object()) throw std::runtime_error("create-org failed: " + out);
        return {j["org"]["slug"], j["api_key"]};
    }

    const std::string& url() const { return url_; }
    const std::string& admin_key() const { return admin_key_; }
    const fs::path& data_dir() const { return data_dir_; }

  private:
    std::vector<std::string> extra_args_;
    fs::path data_dir_;
    bool owns_dir_ = false;
    std::string clock_file_;
    pid_t pid_ = -1;
    std::string url_;
    std::string admin_key_;
};

}  // namespace orchagent::testing
