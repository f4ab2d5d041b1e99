// Zips an agent folder like the hosted CLI (see bundle_writer.hpp).
#include "runtime/bundle_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "core/unique_fd.hpp"
#include "runtime/dir_list.hpp"
#include "runtime/unpack.hpp"

namespace orchagent::runtime {
namespace {

constexpr int kMaxDepth = 32;  // the unpacker's limit

struct WriterFree {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFree {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

class ZipBuilder {
  public:
    ZipBuilder(archive* a, BundleWriteReport& report) : a_(a), report_(report) {}

    Result<void> add_dir(int dir_fd, const std::string& rel, int depth) {
        auto names = list_sorted(dir_fd, rel);
        if (!names) return std::unexpected(names.error());
        for (const auto& name : *names) {
            std::string path = rel.empty() ? name : rel + "/" + name;
            struct stat st {};
            if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
                return fail_errno("lstat", path);
            }
            if (excluded_from_bundle(name, S_ISDIR(st.st_mode))) continue;
            if (!is_valid_utf8(path)) {
                warn(path, "name is not valid UTF-8");
                continue;
            }
            if (S_ISDIR(st.st_mode)) {
                if (depth + 1 >= kMaxDepth) {
                    warn(path, fmt::format("more than {} levels deep", kMaxDepth));
                    continue;
                }
                UniqueFd sub(::openat(dir_fd, name.c_str(),
                                      O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!sub) return fail_errno("open", path);
                if (auto r = add_dir(sub.get(), path, depth + 1); !r) return r;
            } else if (S_ISREG(st.st_mode)) {
                if (auto r = add_file(dir_fd, name, path); !r) return r;
            } else if (S_ISLNK(st.st_mode)) {
                if (auto r = add_symlink(dir_fd, name, path, depth, st); !r) return r;
            } else {
                warn(path, "not a regular file, folder or symlink");
            }
        }
        return {};
    }

  private:
    void warn(const std::string& path, std::string_view why) {
        report_.warnings.push_back(fmt::format("skipped '{}': {}", printable_name(path), why));
    }

    // Sorted, so that the same folder always gives the same zip.
    static Result<std::vector<std::string>> list_sorted(int dir_fd, const std::string& rel) {
        auto names = list_dir(dir_fd, rel.empty() ? "." : rel);
        if (names) std::sort(names->begin(), names->end());
        return names;
    }

    std::unique_ptr<archive_entry, EntryFree> new_entry(const std::string& path,
                                                        const struct stat& st) {
        std::unique_ptr<archive_entry, EntryFree> e(archive_entry_new());
        archive_entry_set_pathname(e.get(), path.c_str());
        archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, 0);
        return e;
    }

    Result<void> write_header(archive_entry* e, const std::string& path) {
        // ARCHIVE_WARN: e.g. a name libarchive could not convert for the header flags; the
        // bytes are still written as they are.
        if (archive_write_header(a_, e) < ARCHIVE_WARN) return lib_error("header", path);
        return {};
    }

    Result<void> lib_error(std::string_view what, const std::string& path) {
        const char* msg = archive_error_string(a_);
        return fail(ErrorCode::kInternalError,
                    fmt::format("zip {} '{}': {}", what, printable_name(path),
                                msg ? msg : "unknown error"));
    }

    Result<void> add_file(int dir_fd, const std::string& name, const std::string& path) {
        UniqueFd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
        if (!fd) return fail_errno("open", path);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return fail_errno("fstat", path);
        auto e = new_entry(path, st);
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), (st.st_mode & 0111) ? 0755 : 0644);
        archive_entry_set_size(e.get(), st.st_size);
        if (auto r = write_header(e.get(), path); !r) return r;
        // Exactly the size announced in the header, even if the file changes meanwhile.
        auto left = static_cast<uint64_t>(st.st_size);
        std::vector<char> buf(64 << 10);
        while (left > 0) {
            size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
            ssize_t n = ::read(fd.get(), buf.data(), want);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return fail_errno("read", path);
            if (n == 0) break;
            if (archive_write_data(a_, buf.data(), static_cast<size_t>(n)) < 0) {
                return lib_error("data", path);
            }
            left -= static_cast<uint64_t>(n);
        }
        if (left > 0) {
            return fail(ErrorCode::kConflict,
                        fmt::format("'{}' shrank while being zipped", printable_name(path)));
        }
        ++report_.files;
        report_.bytes += static_cast<uint64_t>(st.st_size);
        return {};
    }

    Result<void> add_symlink(int dir_fd, const std::string& name, const std::string& path,
                             int depth, const struct stat& st) {
        std::string target(4097, '\0');
        ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
        if (n < 0) return fail_errno("readlink", path);
        if (static_cast<size_t>(n) >= target.size()) {
            warn(path, "symlink target too long");
            return {};
        }
        target.resize(static_cast<size_t>(n));
        std::string problem = symlink_target_problem(target, static_cast<size_t>(depth));
        if (!problem.empty()) {
            warn(path, problem);
            return {};
        }
        auto e = new_entry(path, st);
        archive_entry_set_filetype(e.get(), AE_IFLNK);
        archive_entry_set_perm(e.get(), 0777);
        archive_entry_set_symlink(e.get(), target.c_str());
        if (auto r = write_header(e.get(), path); !r) return r;
        ++report_.symlinks;
        return {};
    }

    archive* a_;
    BundleWriteReport& report_;
};

}  // namespace

bool excluded_from_bundle(std::string_view name, bool is_dir) {
    if (name.empty() || name.front() == '.') return true;
    if (is_dir) {
        return name == "node_modules" || name == "venv" || name == "__pycache__" ||
               name == "tests" || name == "test" || name == "docs";
    }
    return name.size() >= 4 && name.substr(name.size() - 4) == ".zip";
}

Result<BundleWriteReport> write_bundle_zip(const std::string& agent_dir,
                                           const std::string& out_zip) {
    UniqueFd root(::open(agent_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) return fail_errno("open", agent_dir, errno, ErrorCode::kInvalidInput);
    std::unique_ptr<archive, WriterFree> a(archive_write_new());
    if (!a) return fail(ErrorCode::kInternalError, "archive_write_new failed");
    if (archive_write_set_format_zip(a.get()) != ARCHIVE_OK ||
        archive_write_open_filename(a.get(), out_zip.c_str()) != ARCHIVE_OK) {
        const char* msg = archive_error_string(a.get());
        return fail(ErrorCode::kInternalError,
                    fmt::format("zip '{}': {}", out_zip, msg ? msg : "cannot open"));
    }
    ScopeGuard remove_out([&] { ::unlink(out_zip.c_str()); });
    BundleWriteReport report;
    ZipBuilder builder(a.get(), report);
    if (auto r = builder.add_dir(root.get(), "", 0); !r) return std::unexpected(r.error());
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
        const char* msg = archive_error_string(a.get());
        return fail(ErrorCode::kInternalError,
                    fmt::format("zip '{}': {}", out_zip, msg ? msg : "cannot close"));
    }
    remove_out.dismiss();
    return report;
}

}  // namespace orchagent::runtime
