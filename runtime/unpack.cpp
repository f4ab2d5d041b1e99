// Safe extraction of a bundle (see unpack.hpp for the rules). Every path is created
// fd-relative, one component at a time, with O_NOFOLLOW: libarchive only parses.
#include "runtime/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_set>
#include <utility>

namespace orchagent::runtime {
namespace {

constexpr size_t kMaxComponentBytes = 255;
constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kMaxDepth = 32;
// Bytes handed to libarchive per read. The ratio checks allow one such block of slack
// (compressed data already buffered when an entry starts), so it is kept small.
constexpr size_t kReadBlock = 16 << 10;
constexpr size_t kDataBlock = 64 << 10;
constexpr size_t kPrintableNameBytes = 200;

template <typename T>
using Check = std::expected<T, std::string>;  // the error is the reason, without the name

// The helper links no project library, so it has its own tiny fd owner.
class Fd {
  public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            if (fd_ >= 0) ::close(fd_);
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    bool valid() const { return fd_ >= 0; }

  private:
    int fd_;
};

struct ArchiveFree {
    void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

// The archive's bytes, counted as libarchive consumes them (the ratio's denominator).
struct Source {
    int fd = -1;
    uint64_t consumed = 0;
    char buf[kReadBlock];
};

la_ssize_t read_source(archive* a, void* data, const void** out) {
    auto* src = static_cast<Source*>(data);
    for (;;) {
        ssize_t n = ::read(src->fd, src->buf, sizeof src->buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            archive_set_error(a, errno, "read: %s", std::strerror(errno));
            return ARCHIVE_FATAL;
        }
        src->consumed += static_cast<uint64_t>(n);
        *out = src->buf;
        return n;
    }
}

la_int64_t seek_source(archive* a, void* data, la_int64_t offset, int whence) {
    auto* src = static_cast<Source*>(data);
    off_t pos = ::lseek(src->fd, static_cast<off_t>(offset), whence);
    if (pos < 0) {
        archive_set_error(a, errno, "lseek: %s", std::strerror(errno));
        return ARCHIVE_FATAL;
    }
    return pos;
}

uint64_t saturating_mul(uint64_t a, uint64_t b) {
    if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
        return std::numeric_limits<uint64_t>::max();
    }
    return a * b;
}

// Length of the UTF-8 sequence at s[i], or 0 when it is not well-formed.
size_t utf8_sequence(std::string_view s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;  // overlong
        if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;  // overlong
        if (c == 0xF4) hi = 0x8F;  // > U+10FFFF
    } else {
        return 0;
    }
    if (i + len > s.size()) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (size_t k = 2; k < len; ++k) {
        if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
    }
    return len;
}

bool has_control_character(std::string_view s) {
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7F) return true;
    }
    return false;
}

// Valid UTF-8 kept; invalid bytes and control characters as the text \xNN; cut at `limit`.
std::string sanitize(std::string_view s, size_t limit) {
    std::string out;
    size_t i = 0;
    while (i < s.size()) {
        if (out.size() >= limit) {
            out += "...";
            break;
        }
        size_t len = utf8_sequence(s, i);
        auto c = static_cast<unsigned char>(s[i]);
        if (len == 0 || (len == 1 && (c < 0x20 || c == 0x7F))) {
            out += fmt::format("\\x{:02x}", c);
            ++i;
        } else {
            out.append(s, i, len);
            i += len;
        }
    }
    return out;
}

// JSON string body for already-sanitized (valid UTF-8, no control characters) text.
std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// "a/./b//c/" -> {"a", "b", "c"}, with every name rule checked.
Check<std::vector<std::string>> split_name(std::string_view name) {
    if (name.empty()) return std::unexpected("empty name");
    if (name.size() > kMaxNameBytes) {
        return std::unexpected(fmt::format("name longer than {} bytes", kMaxNameBytes));
    }
    if (!is_valid_utf8(name)) return std::unexpected("name is not valid UTF-8");
    if (has_control_character(name)) return std::unexpected("name contains a control character");
    if (name.front() == '/') return std::unexpected("absolute path");
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= name.size()) {
        size_t end = name.find('/', start);
        if (end == std::string_view::npos) end = name.size();
        std::string_view part = name.substr(start, end - start);
        start = end + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") return std::unexpected("'..' component");
        if (part.size() > kMaxComponentBytes) {
            return std::unexpected(
                fmt::format("name component longer than {} bytes", kMaxComponentBytes));
        }
        parts.emplace_back(part);
    }
    if (parts.size() > kMaxDepth) {
        return std::unexpected(fmt::format("more than {} levels deep", kMaxDepth));
    }
    return parts;
}

std::string join(const std::vector<std::string>& parts, size_t count) {
    std::string out;
    for (size_t i = 0; i < count; ++i) {
        if (i) out += '/';
        out += parts[i];
    }
    return out;
}

// A link in folder depth `depth` may go up at most `depth` levels, and only with leading
// "..": after a name, ".." would walk up from wherever a symlink of that name leads, which
// a lexical check cannot see.
Check<void> check_symlink_target(std::string_view target, size_t depth) {
    if (target.empty()) return std::unexpected("symlink without a target");
    if (target.size() > kMaxNameBytes) {
        return std::unexpected(fmt::format("symlink target longer than {} bytes", kMaxNameBytes));
    }
    if (!is_valid_utf8(target) || has_control_character(target)) {
        return std::unexpected("symlink target is not valid UTF-8 text");
    }
    if (target.front() == '/') return std::unexpected("symlink target is an absolute path");
    size_t ups = 0;
    bool seen_name = false;
    size_t start = 0;
    while (start <= target.size()) {
        size_t end = target.find('/', start);
        if (end == std::string_view::npos) end = target.size();
        std::string_view part = target.substr(start, end - start);
        start = end + 1;
        if (part.empty() || part == ".") continue;
        if (part == "..") {
            if (seen_name) return std::unexpected("symlink target has '..' after a name");
            if (++ups > depth) return std::unexpected("symlink target points outside the bundle");
        } else {
            seen_name = true;
        }
    }
    return {};
}

std::string errno_text(std::string_view what, int err) {
    return fmt::format("{}: {}", what, std::strerror(err));
}

class Extractor {
  public:
    Extractor(archive* a, Source& src, int root_fd, const UnpackLimits& limits)
        : a_(a), src_(src), root_fd_(root_fd), limits_(limits) {}

    UnpackResult run() {
        for (;;) {
            archive_entry* entry = nullptr;
            int rc = archive_read_next_header(a_, &entry);
            if (rc == ARCHIVE_EOF) break;
            if (rc < ARCHIVE_WARN) {
                return fail_archive(fmt::format("cannot read entry #{}", stats_.entries + 1));
            }
            ++stats_.entries;
            const char* raw = archive_entry_pathname(entry);
            std::string_view name = raw ? raw : "";
            if (raw == nullptr || *raw == '\0') {
                return std::unexpected(UnpackError{fmt::format(
                    "bundle entry #{}: name missing or not decodable", stats_.entries)});
            }
            if (auto r = extract(entry, name); !r) {
                return std::unexpected(UnpackError{
                    fmt::format("bundle entry '{}': {}", printable_name(name), r.error())});
            }
        }
        return stats_;
    }

  private:
    UnpackResult fail_archive(std::string_view what) {
        const char* msg = archive_error_string(a_);
        return std::unexpected(UnpackError{
            fmt::format("bundle: {}: {}", what, sanitize(msg ? msg : "unknown error", 300))});
    }

    Check<void> extract(archive_entry* entry, std::string_view name) {
        if (stats_.entries > limits_.max_entries) {
            return std::unexpected(fmt::format("more than {} entries", limits_.max_entries));
        }
        auto parts = split_name(name);
        if (!parts) return std::unexpected(parts.error());
        if (archive_entry_hardlink(entry) != nullptr) {
            return std::unexpected("hardlinks are not allowed");
        }
        mode_t type = archive_entry_filetype(entry);
        switch (type) {
            case AE_IFREG:
            case AE_IFDIR:
            case AE_IFLNK:
                break;
            case AE_IFCHR:
            case AE_IFBLK:
                return std::unexpected("device nodes are not allowed");
            case AE_IFIFO:
                return std::unexpected("fifos are not allowed");
            case AE_IFSOCK:
                return std::unexpected("sockets are not allowed");
            default:
                return std::unexpected("unsupported entry type");
        }
        if (parts->empty()) {
            // "./": the root itself.
            if (type == AE_IFDIR) return {};
            return std::unexpected("empty name");
        }
        std::string key = join(*parts, parts->size());
        if (!seen_.insert(key).second) return std::unexpected("duplicate entry");

        auto parent = open_parent(*parts);
        if (!parent) return std::unexpected(parent.error());
        const std::string& leaf = parts->back();
        switch (type) {
            case AE_IFDIR:
                return make_dir(parent->get(), leaf);
            case AE_IFLNK:
                return make_symlink(entry, parent->get(), leaf, parts->size() - 1);
            default:
                return write_file(entry, parent->get(), leaf);
        }
    }

    // Opens (creating as needed) every folder above the entry, never through a symlink.
    Check<Fd> open_parent(const std::vector<std::string>& parts) {
        Fd dir(::openat(root_fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir.valid()) return std::unexpected(errno_text("open root", errno));
        for (size_t i = 0; i + 1 < parts.size(); ++i) {
            const char* comp = parts[i].c_str();
            int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
            Fd next(::openat(dir.get(), comp, flags));
            if (!next.valid() && errno == ENOENT) {
                if (::mkdirat(dir.get(), comp, 0755) != 0 && errno != EEXIST) {
                    return std::unexpected(errno_text("mkdir '" + join(parts, i + 1) + "'", errno));
                }
                next = Fd(::openat(dir.get(), comp, flags));
                if (next.valid() && ::fchmod(next.get(), 0755) != 0) {
                    return std::unexpected(errno_text("chmod", errno));
                }
            }
            if (!next.valid()) {
                int err = errno;
                std::string prefix = printable_name(join(parts, i + 1));
                struct stat st {};
                if (::fstatat(dir.get(), comp, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                    if (S_ISLNK(st.st_mode)) {
                        return std::unexpected(fmt::format("parent '{}' is a symlink", prefix));
                    }
                    if (!S_ISDIR(st.st_mode)) {
                        return std::unexpected(
                            fmt::format("parent '{}' is not a directory", prefix));
                    }
                }
                return std::unexpected(errno_text("open '" + prefix + "'", err));
            }
            dir = std::move(next);
        }
        return dir;
    }

    Check<void> make_dir(int parent, const std::string& leaf) {
        if (::mkdirat(parent, leaf.c_str(), 0755) != 0) {
            int err = errno;
            struct stat st {};
            if (err == EEXIST && ::fstatat(parent, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
                // Created earlier as the parent of another entry: fine.
                if (S_ISDIR(st.st_mode)) {
                    ++stats_.dirs;
                    return {};
                }
                return std::unexpected("already exists and is not a directory");
            }
            return std::unexpected(errno_text("mkdir", err));
        }
        Fd fd(::openat(parent, leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!fd.valid() || ::fchmod(fd.get(), 0755) != 0) {
            return std::unexpected(errno_text("chmod", errno));
        }
        ++stats_.dirs;
        return {};
    }

    Check<void> make_symlink(archive_entry* entry, int parent, const std::string& leaf,
                             size_t depth) {
        const char* target = archive_entry_symlink(entry);
        if (auto r = check_symlink_target(target ? target : "", depth); !r) return r;
        if (::symlinkat(target, parent, leaf.c_str()) != 0) {
            if (errno == EEXIST) return std::unexpected("already exists");
            return std::unexpected(errno_text("symlink", errno));
        }
        ++stats_.symlinks;
        return {};
    }

    Check<void> write_file(archive_entry* entry, int parent, const std::string& leaf) {
        if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0 &&
            static_cast<uint64_t>(archive_entry_size(entry)) > limits_.max_bytes - stats_.bytes) {
            return std::unexpected(
                fmt::format("unpacked size over the limit of {} bytes", limits_.max_bytes));
        }
        mode_t mode = (archive_entry_perm(entry) & 0111) ? 0755 : 0644;
        Fd out(::openat(parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600));
        if (!out.valid()) {
            if (errno == EEXIST) return std::unexpected("already exists");
            return std::unexpected(errno_text("create", errno));
        }
        if (::fchmod(out.get(), mode) != 0) return std::unexpected(errno_text("chmod", errno));
        uint64_t entry_start = src_.consumed;
        uint64_t entry_bytes = 0;
        for (;;) {
            la_ssize_t n = archive_read_data(a_, data_, sizeof data_);
            if (n == 0) break;
            if (n < 0) {
                const char* msg = archive_error_string(a_);
                return std::unexpected("cannot read data: " +
                                       sanitize(msg ? msg : "unknown error", 300));
            }
            auto count = static_cast<uint64_t>(n);
            entry_bytes += count;
            stats_.bytes += count;
            if (stats_.bytes > limits_.max_bytes) {
                return std::unexpected(
                    fmt::format("unpacked size over the limit of {} bytes", limits_.max_bytes));
            }
            uint64_t entry_in = src_.consumed - entry_start + kReadBlock;
            if (entry_bytes > saturating_mul(limits_.max_ratio, entry_in)) {
                return std::unexpected(fmt::format("expands more than {} times its compressed size",
                                                   limits_.max_ratio));
            }
            if (stats_.bytes > saturating_mul(limits_.max_ratio, src_.consumed + kReadBlock)) {
                return std::unexpected(
                    fmt::format("archive expands more than {} times its size", limits_.max_ratio));
            }
            if (auto r = write_all(out.get(), data_, static_cast<size_t>(n)); !r) return r;
        }
        ++stats_.files;
        return {};
    }

    static Check<void> write_all(int fd, const char* buf, size_t len) {
        while (len > 0) {
            ssize_t w = ::write(fd, buf, len);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) return std::unexpected(errno_text("write", errno));
            buf += w;
            len -= static_cast<size_t>(w);
        }
        return {};
    }

    archive* a_;
    Source& src_;
    int root_fd_;
    const UnpackLimits& limits_;
    UnpackStats stats_;
    std::unordered_set<std::string> seen_;
    char data_[kDataBlock];
};

}  // namespace

bool is_valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        size_t len = utf8_sequence(s, i);
        if (len == 0) return false;
        i += len;
    }
    return true;
}

std::string symlink_target_problem(std::string_view target, size_t depth) {
    auto r = check_symlink_target(target, depth);
    return r ? std::string() : r.error();
}

std::string printable_name(std::string_view name) { return sanitize(name, kPrintableNameBytes); }

UnpackResult unpack_archive(int archive_fd, int root_fd, const UnpackLimits& limits) {
    ArchivePtr a(archive_read_new());
    if (!a) return std::unexpected(UnpackError{"bundle: out of memory"});
    archive_read_support_format_zip(a.get());
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
    auto src = std::make_unique<Source>();
    src->fd = archive_fd;
    struct stat st {};
    bool seekable = ::fstat(archive_fd, &st) == 0 && S_ISREG(st.st_mode);
    archive_read_set_callback_data(a.get(), src.get());
    archive_read_set_read_callback(a.get(), read_source);
    if (seekable) archive_read_set_seek_callback(a.get(), seek_source);
    if (archive_read_open1(a.get()) != ARCHIVE_OK) {
        const char* msg = archive_error_string(a.get());
        return std::unexpected(
            UnpackError{fmt::format("bundle: not a readable zip, tar or tar.gz archive: {}",
                                    sanitize(msg ? msg : "unknown error", 300))});
    }
    auto extractor = std::make_unique<Extractor>(a.get(), *src, root_fd, limits);
    return extractor->run();
}

std::string unpack_result_json(const UnpackResult& result) {
    if (result) {
        return fmt::format(R"({{"files": {}, "bytes": {}}})", result->files, result->bytes);
    }
    return fmt::format(R"({{"error": {{"code": "INVALID_INPUT", "message": "{}"}}}})",
                       json_escape(sanitize(result.error().message, 1000)));
}

std::expected<UnpackLimits, std::string> parse_unpack_flags(const std::vector<std::string>& args) {
    UnpackLimits limits;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string flag = args[i];
        std::string value;
        if (auto eq = flag.find('='); eq != std::string::npos) {
            value = flag.substr(eq + 1);
            flag.resize(eq);
        } else if (i + 1 < args.size()) {
            value = args[++i];
        } else {
            return std::unexpected(fmt::format("{}: missing value", flag));
        }
        uint64_t* target = nullptr;
        if (flag == "--max-entries") {
            target = &limits.max_entries;
        } else if (flag == "--max-bytes") {
            target = &limits.max_bytes;
        } else if (flag == "--max-ratio") {
            target = &limits.max_ratio;
        } else {
            return std::unexpected(fmt::format("unknown flag '{}'", sanitize(flag, 100)));
        }
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || end != value.data() + value.size() || n == 0) {
            return std::unexpected(fmt::format("{}: not a positive integer", flag));
        }
        *target = n;
    }
    return limits;
}

}  // namespace orchagent::runtime
