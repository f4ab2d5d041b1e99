// Bundles on the host side: unpacking through the orchagent-unpack helper inside the jail
// (never as root in this process), and the content-addressed cache of unpacked bundles.
//
// Cache layout: <root>/<sha256 of the archive bytes>/ holds the unpacked files, sealed after
// unpacking: owned by this process's user (root for a root daemon), directories 0555, files
// 0444 or 0555, symlinks as they are. Runs must get a writable view of it (a copy or an
// overlay); nothing writes into the cache. <root>/.tmp-<random>/ are unpacks in progress,
// renamed into place when complete, so readers never see half a bundle.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "core/error.hpp"
#include "runtime/unpack.hpp"
#include "sandbox/image.hpp"
#include "sandbox/launcher.hpp"

namespace orchagent::runtime {

// Where the unpacker runs: the image its jail is made of and the helper's host path.
struct UnpackJail {
    sandbox::ImageSpec image;  // normally images/host.yaml
    std::string helper_path;   // host path of orchagent-unpack; its folder is bound read-only
};
Result<UnpackJail> make_unpack_jail(const std::string& image_yaml, const std::string& helper_path);

// The jail's own limits (the bundle limits are in UnpackLimits).
inline constexpr uint64_t kUnpackMemoryBytes = 256ull << 20;
inline constexpr uint32_t kUnpackMaxPids = 4;
inline constexpr int kUnpackTimeoutSeconds = 30;
inline constexpr uint64_t kUnpackStdoutBytes = 64ull << 10;

struct UnpackedBundle {
    std::string dir;
    uint64_t files = 0;  // regular files
    uint64_t bytes = 0;  // their total size
};

// Creates `target_dir` (which must not exist; its parent must), lets the jail's run user own
// it, runs orchagent-unpack in the jail with the archive on stdin and `target_dir` bound
// writable at /out, then seals the tree (see above). A refused bundle is INVALID_INPUT with
// the helper's message ("bundle entry 'x': reason"), and `target_dir` is removed. `host_base`
// is the launcher slot to use (Identity::host_base): one run per slot at a time.
Result<UnpackedBundle> unpack_bundle(sandbox::Launcher& launcher, const UnpackJail& jail,
                                     const std::string& archive_path, const std::string& target_dir,
                                     const UnpackLimits& limits, uint32_t host_base);

// Lowercase hex sha256 of a file's bytes (the file is opened with O_NOFOLLOW).
Result<std::string> sha256_file(const std::string& path);

// Walks `dir` fd-relative without following symlinks: chowns everything to this process's
// euid/egid, directories to 0777, files to 0666 (0777 when executable). World-writable so
// that a run's overlay view of the bundle can change its files (the overlay writes only to
// the run's tmpfs); `dir` must therefore sit in a folder only root enters, as BundleCache's.
Result<void> seal_tree(const std::string& dir);
// Removes `dir` and everything below it without following symlinks, making sealed folders
// writable first. A missing `dir` is not an error.
Result<void> remove_tree(const std::string& dir);

// Content-addressed cache: a bundle with the same bytes is unpacked once.
class BundleCache {
  public:
    BundleCache(sandbox::Launcher& launcher, UnpackJail jail, std::string root, UnpackLimits limits,
                uint32_t host_base);

    // The cache folder of this archive, <root>/<sha256>, unpacking it first when absent.
    // Thread-safe: unpacks in this process are serialized (they share one launcher slot);
    // several processes sharing `root` each unpack into a temporary folder and the first
    // rename wins, the others discard theirs.
    Result<std::string> get_or_unpack(const std::string& archive_path);

    // How many unpacks this cache ran (tests, metrics).
    uint64_t unpack_count() const;
    const std::string& root() const { return root_; }

  private:
    sandbox::Launcher& launcher_;
    const UnpackJail jail_;
    const std::string root_;
    const UnpackLimits limits_;
    const uint32_t host_base_;
    void remove_abandoned_unpacks();

    mutable std::mutex mutex_;
    uint64_t unpack_count_ = 0;
    bool swept_ = false;  // .tmp-* leftovers of crashed unpacks removed once per cache object
};

}  // namespace orchagent::runtime
