// Unpacking bundles in the jail, sealing and removing trees fd-relative, and the cache.
#include "runtime/bundle.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>  // renameat2
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/unique_fd.hpp"
#include "runtime/dir_list.hpp"

namespace orchagent::runtime {
namespace {

namespace fs = std::filesystem;

constexpr const char* kHelperDirInJail = "/opt/orchagent";
constexpr const char* kOutDirInJail = "/out";
constexpr int kMaxTreeDepth = 64;  // the helper allows 32 levels; anything deeper is not ours
constexpr uint32_t kRunId = 1000;  // sandbox::Identity's default run_uid/run_gid

// An absolute, normalised path as the jail spec wants bind sources.
Result<std::string> clean_absolute(const std::string& path) {
    std::error_code ec;
    fs::path abs = fs::absolute(path, ec);
    if (ec) return fail_errno("absolute", path, ec.value());
    std::string s = abs.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
}

Result<void> seal_dir(int dir_fd, const std::string& path, int depth) {
    if (depth > kMaxTreeDepth) return fail(ErrorCode::kInternalError, "seal: too deep: " + path);
    auto names = list_dir(dir_fd, path);
    if (!names) return std::unexpected(names.error());
    uid_t uid = ::geteuid();
    gid_t gid = ::getegid();
    for (const auto& name : *names) {
        std::string child = path + "/" + name;
        struct stat st {};
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            return fail_errno("lstat", child);
        }
        if (S_ISLNK(st.st_mode)) {
            if (::fchownat(dir_fd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
                return fail_errno("lchown", child);
            }
            continue;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
            return fail(ErrorCode::kInternalError, "seal: unexpected file type: " + child);
        }
        int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
        if (S_ISDIR(st.st_mode)) flags |= O_DIRECTORY;
        UniqueFd fd(::openat(dir_fd, name.c_str(), flags));
        if (!fd) return fail_errno("open", child);
        if (S_ISDIR(st.st_mode)) {
            if (auto r = seal_dir(fd.get(), child, depth + 1); !r) return r;
        }
        // World-writable on purpose: runs see the bundle through an overlay (the cache is
        // never written) and must be able to change its files there. The cache root is 0700,
        // so no host user reaches them.
        mode_t mode = S_ISDIR(st.st_mode) || (st.st_mode & 0111) ? 0777 : 0666;
        if (::fchown(fd.get(), uid, gid) != 0) return fail_errno("chown", child);
        if (::fchmod(fd.get(), mode) != 0) return fail_errno("chmod", child);
    }
    return {};
}

Result<void> remove_below(int dir_fd, const std::string& path, int depth) {
    if (depth > kMaxTreeDepth) {
        return fail(ErrorCode::kInternalError, "remove: too deep: " + path);
    }
    auto names = list_dir(dir_fd, path);
    if (!names) return std::unexpected(names.error());
    for (const auto& name : *names) {
        std::string child = path + "/" + name;
        struct stat st {};
        if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue;
            return fail_errno("lstat", child);
        }
        if (S_ISDIR(st.st_mode)) {
            UniqueFd fd(
                ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) return fail_errno("open", child);
            // A sealed folder (0555) must be writable before its entries can go.
            if (::fchmod(fd.get(), 0700) != 0) return fail_errno("chmod", child);
            if (auto r = remove_below(fd.get(), child, depth + 1); !r) return r;
        }
        int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
        if (::unlinkat(dir_fd, name.c_str(), flags) != 0 && errno != ENOENT) {
            return fail_errno("unlink", child);
        }
    }
    return {};
}

Result<std::string> random_hex(size_t bytes) {
    std::vector<unsigned char> buf(bytes);
    if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
        return fail(ErrorCode::kInternalError, "RAND_bytes failed");
    }
    std::string out;
    for (unsigned char c : buf) out += fmt::format("{:02x}", c);
    return out;
}

// The helper's last stdout line as JSON, or null.
nlohmann::json parse_helper_line(const std::string& out) {
    std::string line = out;
    while (!line.empty() && line.back() == '\n') line.pop_back();
    if (line.empty() || line.find('\n') != std::string::npos) return nullptr;
    return nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
}

Result<UnpackedBundle> interpret(const sandbox::JailResult& jr, const std::string& target) {
    if (jr.timed_out) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("bundle: unpacking took longer than {} s", kUnpackTimeoutSeconds));
    }
    if (jr.oom_killed) {
        return fail(ErrorCode::kInvalidInput, "bundle: unpacking went over its memory limit");
    }
    nlohmann::json j = parse_helper_line(jr.stdout_data);
    if (jr.exit_code == 0 && j.is_object() && j.contains("files") && j.contains("bytes") &&
        j["files"].is_number_unsigned() && j["bytes"].is_number_unsigned()) {
        return UnpackedBundle{.dir = target,
                              .files = j["files"].get<uint64_t>(),
                              .bytes = j["bytes"].get<uint64_t>()};
    }
    if (jr.exit_code == 1 && j.is_object() && j.contains("error") && j["error"].is_object() &&
        j["error"].contains("message") && j["error"]["message"].is_string()) {
        return fail(ErrorCode::kInvalidInput, j["error"]["message"].get<std::string>());
    }
    std::string detail = jr.stderr_tail.empty() ? jr.stdout_data : jr.stderr_tail;
    if (detail.size() > 300) detail = detail.substr(detail.size() - 300);
    return fail(ErrorCode::kInternalError,
                fmt::format("orchagent-unpack failed (exit {}, signal {}): {}", jr.exit_code,
                            jr.term_signal, printable_name(detail)));
}

}  // namespace

Result<UnpackJail> make_unpack_jail(const std::string& image_yaml, const std::string& helper_path) {
    auto image = sandbox::load_image(image_yaml);
    if (!image) return std::unexpected(image.error());
    auto helper = clean_absolute(helper_path);
    if (!helper) return std::unexpected(helper.error());
    if (::access(helper->c_str(), X_OK) != 0) return fail_errno("access", *helper);
    return UnpackJail{.image = std::move(*image), .helper_path = std::move(*helper)};
}

Result<UnpackedBundle> unpack_bundle(sandbox::Launcher& launcher, const UnpackJail& jail,
                                     const std::string& archive_path, const std::string& target_dir,
                                     const UnpackLimits& limits, uint32_t host_base) {
    auto target = clean_absolute(target_dir);
    if (!target) return std::unexpected(target.error());
    if (::mkdir(target->c_str(), 0700) != 0) return fail_errno("mkdir", *target);
    ScopeGuard remove_target([&] { (void)remove_tree(*target); });
    // The run user writes the files: host id host_base + 1000 for a root launcher; an
    // unprivileged launcher maps the run user to our own ids, which already own the folder.
    if (launcher.privileged()) {
        uint32_t id = host_base + kRunId;
        if (::chown(target->c_str(), id, id) != 0) return fail_errno("chown", *target);
    }

    fs::path helper(jail.helper_path);
    sandbox::JailSpec spec;
    spec.argv = {fmt::format("{}/{}", kHelperDirInJail, helper.filename().string()),
                 "--max-entries",
                 std::to_string(limits.max_entries),
                 "--max-bytes",
                 std::to_string(limits.max_bytes),
                 "--max-ratio",
                 std::to_string(limits.max_ratio)};
    spec.env = sandbox::jail_env(jail.image, {});
    spec.mounts = sandbox::jail_mounts(jail.image, {.tmp_bytes = 1 << 20, .work_bytes = 1 << 20});
    spec.mounts.push_back({.kind = sandbox::MountKind::kBind,
                           .source = helper.parent_path().string(),
                           .target = kHelperDirInJail});
    spec.mounts.push_back({.kind = sandbox::MountKind::kBind,
                           .source = *target,
                           .target = kOutDirInJail,
                           .writable = true});
    spec.cwd = kOutDirInJail;
    spec.identity.run_uid = kRunId;
    spec.identity.run_gid = kRunId;
    spec.identity.host_base = host_base;
    spec.limits.memory_bytes = kUnpackMemoryBytes;
    spec.limits.max_pids = kUnpackMaxPids;
    spec.limits.max_open_files = 64;
    // One file may take the whole byte budget; the helper reports EFBIG past it.
    spec.limits.max_file_bytes = limits.max_bytes;
    spec.output.stdout_max_bytes = kUnpackStdoutBytes;
    spec.stdin_source = sandbox::StdinFile{archive_path};
    spec.timeout = std::chrono::seconds(kUnpackTimeoutSeconds);

    auto run = launcher.run(spec);
    if (!run) {
        Error err = run.error();
        return std::unexpected(err.with_context("bundle unpack jail"));
    }
    auto result = interpret(*run, *target);
    if (!result) return result;
    if (auto sealed = seal_tree(*target); !sealed) return std::unexpected(sealed.error());
    remove_target.dismiss();
    return result;
}

Result<std::string> sha256_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
    if (!fd) return fail_errno("open", path);
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
        return fail(ErrorCode::kInternalError, "sha256: EVP_DigestInit_ex failed");
    }
    std::vector<char> buf(64 << 10);
    for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read", path);
        if (n == 0) break;
        if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
            return fail(ErrorCode::kInternalError, "sha256: EVP_DigestUpdate failed");
        }
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
        return fail(ErrorCode::kInternalError, "sha256: EVP_DigestFinal_ex failed");
    }
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
    return hex;
}

Result<void> seal_tree(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return fail_errno("open", dir);
    if (auto r = seal_dir(fd.get(), dir, 0); !r) return r;
    if (::fchown(fd.get(), ::geteuid(), ::getegid()) != 0) return fail_errno("chown", dir);
    if (::fchmod(fd.get(), 0777) != 0) return fail_errno("chmod", dir);
    return {};
}

Result<void> remove_tree(const std::string& dir) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return {};
        return fail_errno("open", dir);
    }
    if (::fchmod(fd.get(), 0700) != 0) return fail_errno("chmod", dir);
    if (auto r = remove_below(fd.get(), dir, 0); !r) return r;
    if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) return fail_errno("rmdir", dir);
    return {};
}

BundleCache::BundleCache(sandbox::Launcher& launcher, UnpackJail jail, std::string root,
                         UnpackLimits limits, uint32_t host_base)
    : launcher_(launcher),
      jail_(std::move(jail)),
      root_(std::move(root)),
      limits_(limits),
      host_base_(host_base) {}

uint64_t BundleCache::unpack_count() const {
    std::lock_guard lock(mutex_);
    return unpack_count_;
}

// An unpack lasts at most its jail's timeout (30 s); a .tmp-* folder older than an hour was
// left by a process that died mid-unpack. Best effort: what cannot go stays for next time.
void BundleCache::remove_abandoned_unpacks() {
    std::error_code ec;
    const auto cutoff = std::filesystem::file_time_type::clock::now() - std::chrono::hours(1);
    for (const auto& entry : std::filesystem::directory_iterator(root_, ec)) {
        if (!entry.path().filename().string().starts_with(".tmp-")) continue;
        std::error_code time_ec;
        auto written = std::filesystem::last_write_time(entry.path(), time_ec);
        if (!time_ec && written < cutoff) (void)remove_tree(entry.path().string());
    }
}

Result<std::string> BundleCache::get_or_unpack(const std::string& archive_path) {
    auto hash = sha256_file(archive_path);
    if (!hash) return std::unexpected(hash.error());
    std::lock_guard lock(mutex_);
    // Only root enters the cache: what is inside is world-writable (see seal_tree).
    if (::mkdir(root_.c_str(), 0700) != 0 && errno != EEXIST) return fail_errno("mkdir", root_);
    if (::chmod(root_.c_str(), 0700) != 0) return fail_errno("chmod", root_);
    if (!swept_) {
        remove_abandoned_unpacks();
        swept_ = true;
    }
    std::string final_dir = root_ + "/" + *hash;
    struct stat st {};
    if (::lstat(final_dir.c_str(), &st) == 0) {
        if (S_ISDIR(st.st_mode)) return final_dir;
        return fail(ErrorCode::kInternalError, "bundle cache: not a folder: " + final_dir);
    }
    auto suffix = random_hex(8);
    if (!suffix) return std::unexpected(suffix.error());
    std::string tmp_dir = root_ + "/.tmp-" + *suffix;
    ++unpack_count_;
    auto unpacked = unpack_bundle(launcher_, jail_, archive_path, tmp_dir, limits_, host_base_);
    if (!unpacked) return std::unexpected(unpacked.error());
    // Another process may have finished the same bundle meanwhile: the first rename wins.
    if (::renameat2(AT_FDCWD, tmp_dir.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) !=
        0) {
        int err = errno;
        (void)remove_tree(tmp_dir);
        if (err != EEXIST) return fail_errno("rename", tmp_dir + " -> " + final_dir, err);
    }
    return final_dir;
}

}  // namespace orchagent::runtime
