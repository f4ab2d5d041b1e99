// Agents: publishing versions, their bundles, changes, deprecation, pricing, forks and the
// public catalogue. Every rule of CONTRACT.md section 3 that is not HTTP lives here; api/
// only maps requests to these calls and their results to JSON.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "manifest/field_error.hpp"
#include "runtime/accounts.hpp"
#include "runtime/bundle.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::runtime {

inline constexpr uint64_t kMaxBundleBytes = 25ull << 20;  // an uploaded archive
inline constexpr int64_t kMaxPriceCents = 100'000;         // $1,000 per call
inline constexpr int64_t kDeprecationWindowMs = 60LL * 24 * 3600 * 1000;

struct PublishedAgent {
    store::Agent agent;
    std::vector<manifest::FieldWarning> warnings;
};

struct UploadedBundle {
    std::string sha256;
    int64_t size_bytes = 0;
    std::string entrypoint;  // empty when the agent has none (a command without one)
    int64_t uploaded_at = 0;
};

struct DeleteCheck {
    store::Agent agent;
    int64_t fork_count = 0;
    int64_t version_count = 0;  // live versions of the name (mode=all_versions)
    bool requires_confirmation = false;
};

// Where an agent version stands in its deprecation window at a given time.
enum class Lifecycle { kActive, kDeprecated, kSunset };
Lifecycle lifecycle(const store::Agent& agent, int64_t now);
std::string_view to_string(Lifecycle l);

// The agent as its owner sees it (GET /agents/{id}).
nlohmann::json owner_view(const store::Agent& agent, int64_t now);
// The public catalogue entry, the public detail (redacted for server-only and paid
// agents) and the download document.
nlohmann::json public_entry(const store::Agent& agent);
nlohmann::json public_detail(const store::Agent& agent, int64_t now);
nlohmann::json download_view(const store::Agent& agent);
bool is_paid(const store::Agent& agent);

class Agents {
  public:
    // Bundles are kept as <bundles_dir>/<sha256>.archive and unpacked through `cache`.
    Agents(store::Store& store, const Clock& clock, BundleCache& cache, std::string bundles_dir);

    Result<PublishedAgent> publish(const Principal& who, const nlohmann::json& body);
    // The caller's own live agent; another org's or a deleted one is NOT_FOUND.
    Result<store::Agent> owned(const Principal& who, std::string_view id);
    Result<store::Agent> update(const Principal& who, std::string_view id,
                                const nlohmann::json& patch);
    Result<DeleteCheck> delete_check(const Principal& who, std::string_view id, bool all_versions);
    // Returns how many versions were deleted.
    Result<int64_t> remove(const Principal& who, std::string_view id, bool all_versions,
                           std::optional<std::string_view> confirmation_name);
    Result<store::Agent> fork(const Principal& who, std::string_view id,
                              const nlohmann::json& body);
    Result<store::Agent> set_pricing(const Principal& who, std::string_view id,
                                     const nlohmann::json& body);
    // `archive_path` is a file the caller wrote (zip, tar or tar.gz, at most kMaxBundleBytes);
    // it is moved into the bundle store or removed.
    Result<UploadedBundle> upload(const Principal& who, std::string_view id,
                                  const std::string& archive_path,
                                  std::optional<std::string> entrypoint);
    // Host path of an agent's archive; NOT_FOUND when it has none.
    Result<std::string> bundle_path(const store::Agent& agent) const;

    // A public version: is_public, live, not past its Sunset. `version` may be "latest".
    Result<store::Agent> find_public(std::string_view org, std::string_view name,
                                     std::string_view version);
    // ?sort=recent|name, ?type=, ?search= (name/description, case-insensitive), ?tags=a,b
    struct PublicQuery {
        std::string sort = "recent";
        std::string type;
        std::string search;
        std::vector<std::string> tags;
    };
    Result<std::vector<store::Agent>> list_public(const PublicQuery& query);
    // The catalogue as the JSON array GET /public/agents answers, cached: a cached answer is
    // reused until this process changes an agent or for kCatalogueTtlMs at most (so changes
    // made by another daemon on a shared store show within that time).
    Result<std::shared_ptr<const std::string>> public_catalogue(const PublicQuery& query);

    Result<std::vector<store::RunLog>> logs(const Principal& who, std::string_view id, int limit);

  private:
    // Every successful write through this object bumps the generation.
    void changed() { generation_.fetch_add(1, std::memory_order_relaxed); }
    template <typename T>
    T changed(T result) {
        if (result) changed();
        return result;
    }

    store::Store& store_;
    const Clock& clock_;
    BundleCache& cache_;
    std::string bundles_dir_;

    struct CachedCatalogue {
        uint64_t generation;
        int64_t expires_at;
        std::shared_ptr<const std::string> body;
    };
    std::atomic<uint64_t> generation_{0};
    std::mutex catalogue_mutex_;
    std::unordered_map<std::string, CachedCatalogue> catalogue_;
};

inline constexpr int64_t kCatalogueTtlMs = 1000;
inline constexpr size_t kCatalogueEntries = 256;  // distinct queries kept

}  // namespace orchagent::runtime
