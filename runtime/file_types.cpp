#include "runtime/file_types.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <magic.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <mutex>

#include "core/unique_fd.hpp"

namespace orchagent::runtime {
namespace {

constexpr size_t kSniffBytes = 64 * 1024;

struct MagicHandle {
    magic_t cookie = nullptr;
    MagicHandle() {
        cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_NO_CHECK_COMPRESS | MAGIC_NO_CHECK_ELF);
        if (cookie && magic_load(cookie, nullptr) != 0) {
            magic_close(cookie);
            cookie = nullptr;
        }
    }
    ~MagicHandle() {
        if (cookie) magic_close(cookie);
    }
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// What each extension may hold, as sniffed. Text formats sniff as text/plain (or their own
// type); office formats are zip containers.
const std::multimap<std::string, std::string>& extension_types() {
    static const std::multimap<std::string, std::string> types = {
        {".pdf", "application/pdf"},
        {".png", "image/png"},
        {".jpg", "image/jpeg"},
        {".jpeg", "image/jpeg"},
        {".gif", "image/gif"},
        {".webp", "image/webp"},
        {".bmp", "image/bmp"},
        {".tif", "image/tiff"},
        {".tiff", "image/tiff"},
        {".svg", "image/svg+xml"},
        {".svg", "text/xml"},
        {".txt", "text/plain"},
        {".md", "text/plain"},
        {".md", "text/markdown"},
        {".csv", "text/plain"},
        {".csv", "text/csv"},
        {".json", "application/json"},
        {".json", "text/plain"},
        {".xml", "text/xml"},
        {".xml", "application/xml"},
        {".html", "text/html"},
        {".zip", "application/zip"},
        {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
        {".docx", "application/zip"},
        {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
        {".xlsx", "application/zip"},
        {".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
        {".pptx", "application/zip"},
    };
    return types;
}

bool mime_matches(std::string_view pattern, std::string_view type) {
    if (pattern == "*/*" || pattern == type) return true;
    if (pattern.ends_with("/*")) return type.starts_with(pattern.substr(0, pattern.size() - 1));
    // Text formats cannot be told apart by their bytes (a CSV or JSON file often sniffs as
    // text/plain): a textual pattern is met by any text.
    const bool textual = pattern.starts_with("text/") || pattern == "application/json" ||
                         pattern == "application/xml" || pattern == "application/x-yaml" ||
                         pattern == "application/yaml";
    return textual && (type == "text/plain" || type.starts_with("text/") ||
                       type == "application/json");
}

}  // namespace

Result<std::string> sniff_file(const std::string& path) {
    // One handle for the process behind a mutex: a handle holds its own copy of the
    // database (about 6 MiB), so one per handler thread cost 56 MiB of RSS; a sniff of
    // 64 KiB takes well under a millisecond.
    static MagicHandle magic;
    static std::mutex magic_mutex;
    if (!magic.cookie) return fail(ErrorCode::kInternalError, "libmagic: cannot load its database");
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return fail_errno("open", path);
    std::string head(kSniffBytes, '\0');
    size_t got = 0;
    while (got < head.size()) {
        ssize_t n = ::read(fd.get(), head.data() + got, head.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return fail_errno("read", path);
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
    }
    if (got == 0) return std::string("application/x-empty");
    // magic_buffer's answer lives in the handle until the next call: copy it under the lock.
    std::lock_guard lock(magic_mutex);
    const char* type = magic_buffer(magic.cookie, head.data(), got);
    return std::string(type ? type : "application/octet-stream");
}

bool accepts(const std::vector<std::string>& accept, std::string_view sniffed,
             std::string_view name) {
    const std::string lname = lower(name);
    for (const auto& raw : accept) {
        const std::string entry = lower(raw);
        if (entry.starts_with(".")) {
            if (!lname.ends_with(entry)) continue;
            auto [from, to] = extension_types().equal_range(entry);
            if (from == to) return true;  // an extension we know nothing of: the name decides
            for (auto it = from; it != to; ++it) {
                if (it->second == sniffed) return true;
            }
        } else if (mime_matches(entry, sniffed)) {
            return true;
        }
    }
    return false;
}

}  // namespace orchagent::runtime
