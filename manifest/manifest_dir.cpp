// Reading an agent folder: orchagent.json (or .yaml/.yml), schema.json, prompt.md and the
// list of files for entrypoint detection, each file size-checked before it is read.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "core/unique_fd.hpp"
#include "manifest/json_limits.hpp"
#include "manifest/manifest.hpp"
#include "manifest/yaml_json.hpp"

namespace orchagent::manifest {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxListedFiles = 10000;

enum class ReadStatus { kOk, kMissing, kFailed };

struct FileText {
    ReadStatus status = ReadStatus::kMissing;
    std::string text;
    std::string error;  // when kFailed
};

// Reads dir/name if it is a regular file of at most `limit` bytes. Symlinks are refused.
FileText read_limited(const std::string& dir, std::string_view name, std::size_t limit) {
    FileText out;
    const std::string path = fmt::format("{}/{}", dir, name);
    const int raw = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (raw < 0) {
        if (errno == ENOENT) return out;
        out.status = ReadStatus::kFailed;
        out.error = errno == ELOOP ? "must not be a symbolic link"
                                   : fmt::format("cannot open: {}", errno_name(errno));
        return out;
    }
    UniqueFd fd(raw);
    out.status = ReadStatus::kFailed;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        out.error = fmt::format("cannot stat: {}", errno_name(errno));
        return out;
    }
    if (!S_ISREG(st.st_mode)) {
        out.error = "must be a regular file";
        return out;
    }
    if (static_cast<std::uint64_t>(st.st_size) > limit) {
        out.error = fmt::format("is {} bytes, over the {}-byte limit", st.st_size, limit);
        return out;
    }
    // Read at most limit + 1 bytes: the file may grow after fstat.
    out.text.resize(limit + 1);
    std::size_t got = 0;
    while (got < out.text.size()) {
        const ssize_t n = ::read(fd.get(), out.text.data() + got, out.text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            out.error = fmt::format("cannot read: {}", errno_name(errno));
            return out;
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got > limit) {
        out.error = fmt::format("is over the {}-byte limit", limit);
        return out;
    }
    out.text.resize(got);
    out.status = ReadStatus::kOk;
    return out;
}

// JSON text -> document, with the depth checked before nlohmann's parser sees it.
std::optional<json> parse_json_text(const std::string& text, std::string& error) {
    if (text_exceeds_depth(text, kMaxDepth)) {
        error = fmt::format("nested deeper than {} levels", kMaxDepth);
        return std::nullopt;
    }
    try {
        return json::parse(text);
    } catch (const json::exception& e) {
        std::string what = e.what();
        if (const auto close = what.find("] "); what.starts_with("[json") && close != what.npos) {
            what = what.substr(close + 2);
        }
        error = "invalid JSON: " + what;
        return std::nullopt;
    }
}


}  // namespace

// Relative paths of the folder's regular files, dot-folders skipped, at most kMaxListedFiles.
std::vector<std::string> list_agent_files(const std::string& dir) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const fs::directory_entry& entry = *it;
        const std::string name = entry.path().filename().string();
        std::error_code type_ec;
        if (entry.is_directory(type_ec) && !entry.is_symlink(type_ec)) {
            if (name.starts_with(".") || name == "node_modules" || name == "venv" ||
                name == "__pycache__") {
                it.disable_recursion_pending();
            }
            continue;
        }
        if (!entry.is_regular_file(type_ec) || entry.is_symlink(type_ec)) continue;
        out.push_back(fs::relative(entry.path(), dir, type_ec).generic_string());
        if (out.size() >= kMaxListedFiles) break;
    }
    return out;
}


ValidationReport check_manifest_dir(const std::string& dir) {
    ValidationReport report;
    const auto file_error = [&](std::string name, std::string message) {
        report.errors.push_back({std::move(name), std::move(message)});
    };
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        file_error("", fmt::format("'{}' is not a folder", dir));
        return report;
    }

    // The manifest: orchagent.json wins over orchagent.yaml, which wins over orchagent.yml.
    std::vector<FieldWarning> file_warnings;
    std::optional<json> doc;
    std::string chosen;
    for (std::string_view name : {"orchagent.json", "orchagent.yaml", "orchagent.yml"}) {
        FileText file = read_limited(dir, name, kMaxManifestBytes);
        if (file.status == ReadStatus::kMissing) continue;
        if (!chosen.empty()) {
            file_warnings.push_back(
                {"IGNORED_FIELD", std::string(name), fmt::format("ignored: {} is used", chosen)});
            continue;
        }
        chosen = name;
        if (file.status == ReadStatus::kFailed) {
            file_error(std::string(name), file.error);
            continue;
        }
        std::string error;
        if (name == "orchagent.json") {
            doc = parse_json_text(file.text, error);
        } else if (auto converted = yaml_to_json(file.text, kMaxDepth); converted) {
            doc = std::move(*converted);
        } else {
            error = converted.error().message();
        }
        if (!doc) file_error(std::string(name), error);
    }
    if (chosen.empty()) {
        file_error("",
                   fmt::format("no orchagent.json, orchagent.yaml or orchagent.yml in '{}'", dir));
    }

    ParseOptions options;
    FileText schema = read_limited(dir, "schema.json", kMaxSchemaBytes);
    if (schema.status == ReadStatus::kFailed) {
        file_error("schema.json", schema.error);
    } else if (schema.status == ReadStatus::kOk) {
        std::string error;
        if (auto parsed = parse_json_text(schema.text, error)) {
            options.schema_file = std::move(*parsed);
        } else {
            file_error("schema.json", error);
        }
    }
    FileText prompt = read_limited(dir, "prompt.md", kMaxPromptBytes);
    if (prompt.status == ReadStatus::kFailed) {
        file_error("prompt.md", prompt.error);
    } else if (prompt.status == ReadStatus::kOk) {
        options.prompt_file = std::move(prompt.text);
    }
    options.files = list_agent_files(dir);

    if (!doc) {
        report.warnings = std::move(file_warnings);
        return report;
    }
    ValidationReport checked = check_manifest(*doc, options);
    report.errors.insert(report.errors.end(), checked.errors.begin(), checked.errors.end());
    report.warnings = std::move(file_warnings);
    report.warnings.insert(report.warnings.end(), checked.warnings.begin(), checked.warnings.end());
    if (report.errors.empty()) {
        report.manifest = std::move(checked.manifest);
        report.manifest->warnings = report.warnings;
    }
    return report;
}

Result<AgentManifest> load_manifest(const std::string& dir) {
    ValidationReport report = check_manifest_dir(dir);
    if (!report.ok()) return fail(ErrorCode::kInvalidInput, join_errors(report.errors));
    return std::move(*report.manifest);
}

}  // namespace orchagent::manifest
