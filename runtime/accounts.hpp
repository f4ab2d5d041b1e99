// Orgs, workspaces and API keys: bootstrap, key management and authentication.
#pragma once

#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "runtime/store/store.hpp"

namespace orchagent::runtime {

// Who is calling: the key and its org.
struct Principal {
    store::ApiKey key;
    store::Org org;
};

struct CreatedOrg {
    store::Org org;
    store::Workspace workspace;
    std::string api_key;  // shown once
};

struct CreatedKey {
    store::ApiKey key;
    std::string secret;  // the whole key, shown once
};

inline constexpr size_t kMaxNameBytes = 100;  // org, workspace and key names

// Slugs: ^[a-z0-9][a-z0-9-]*[a-z0-9]$, 2..50 characters, no "--" (the agent-name rule).
Result<void> check_slug(std::string_view field, std::string_view slug);
// Display names: 1..kMaxNameBytes bytes of UTF-8 without control characters.
Result<void> check_display_name(std::string_view field, std::string_view name);

class Accounts {
  public:
    Accounts(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}

    // An org with its default workspace and first key.
    Result<CreatedOrg> create_org(const std::string& slug, const std::string& name);
    Result<store::Workspace> create_workspace(const store::Org& org, const std::string& name,
                                              const std::string& slug);
    Result<CreatedKey> create_key(const store::Org& org, const std::string& name);

    // The caller behind `Authorization: Bearer <key>`; UNAUTHORIZED otherwise. Records
    // last_used_at at most once a minute per key, so reads stay reads.
    Result<Principal> authenticate(std::string_view authorization_header);

  private:
    store::Store& store_;
    const Clock& clock_;
    std::mutex touch_mutex_;
    std::unordered_map<std::string, int64_t> touched_;  // key id -> last recorded use
};

}  // namespace orchagent::runtime
