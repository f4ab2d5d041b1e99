#include "runtime/accounts.hpp"

#include <fmt/format.h>

#include "core/ids.hpp"

namespace orchagent::runtime {

Result<void> check_slug(std::string_view field, std::string_view slug) {
    auto bad = [&](std::string_view why) {
        return fail(ErrorCode::kInvalidInput, fmt::format("{}: {}", field, why));
    };
    if (slug.size() < 2 || slug.size() > 50) return bad("must be 2 to 50 characters");
    for (char c : slug) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return bad("only lowercase letters, digits and '-' are allowed");
    }
    if (slug.front() == '-' || slug.back() == '-') return bad("must not start or end with '-'");
    if (slug.find("--") != std::string_view::npos) return bad("must not contain '--'");
    return {};
}

Result<void> check_display_name(std::string_view field, std::string_view name) {
    if (name.empty() || name.size() > kMaxNameBytes) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("{}: must be 1 to {} bytes", field, kMaxNameBytes));
    }
    for (unsigned char c : name) {
        if (c < 0x20 || c == 0x7f) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("{}: must not contain control characters", field));
        }
    }
    return {};
}

Result<CreatedOrg> Accounts::create_org(const std::string& slug, const std::string& name) {
    if (auto r = check_slug("slug", slug); !r) return std::unexpected(r.error());
    if (auto r = check_display_name("name", name); !r) return std::unexpected(r.error());
    const int64_t now = clock_.now_ms();
    const std::string key = new_api_key();
    store::NewOrg o{
        .org = {.id = new_id("org"), .slug = slug, .name = name, .created_at = now},
        .key = {.id = new_id("key"),
                .name = "default",
                .prefix = key_prefix(key),
                .hash = sha256_hex(key)},
    };
    o.workspace = {.id = new_id("ws"),
                   .org_id = o.org.id,
                   .name = name,
                   .slug = slug,
                   .created_at = now};
    if (auto r = store_.create_org(o, now); !r) return std::unexpected(r.error());
    return CreatedOrg{.org = o.org, .workspace = o.workspace, .api_key = key};
}

Result<store::Workspace> Accounts::create_workspace(const store::Org& org,
                                                    const std::string& name,
                                                    const std::string& slug) {
    if (auto r = check_display_name("name", name); !r) return std::unexpected(r.error());
    if (auto r = check_slug("slug", slug); !r) return std::unexpected(r.error());
    store::Workspace w{.id = new_id("ws"),
                       .org_id = org.id,
                       .name = name,
                       .slug = slug,
                       .created_at = clock_.now_ms()};
    if (auto r = store_.create_workspace(w); !r) return std::unexpected(r.error());
    return w;
}

Result<CreatedKey> Accounts::create_key(const store::Org& org, const std::string& name) {
    if (auto r = check_display_name("name", name); !r) return std::unexpected(r.error());
    const std::string secret = new_api_key();
    auto key = store_.create_key(org.id,
                                 {.id = new_id("key"),
                                  .name = name,
                                  .prefix = key_prefix(secret),
                                  .hash = sha256_hex(secret)},
                                 clock_.now_ms());
    if (!key) return std::unexpected(key.error());
    return CreatedKey{.key = std::move(*key), .secret = secret};
}

Result<Principal> Accounts::authenticate(std::string_view header) {
    constexpr std::string_view kBearer = "Bearer ";
    if (header.empty()) {
        return fail(ErrorCode::kUnauthorized, "missing Authorization: Bearer <api key> header");
    }
    if (header.size() < kBearer.size() ||
        !std::equal(kBearer.begin(), kBearer.end(), header.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) ==
                   std::tolower(static_cast<unsigned char>(b));
        })) {
        return fail(ErrorCode::kUnauthorized, "the Authorization header must be 'Bearer <api key>'");
    }
    std::string_view key = header.substr(kBearer.size());
    while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
    while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
    if (key.empty() || key.size() > 200) return fail(ErrorCode::kUnauthorized, "invalid API key");
    // The lookup is by hash: timing reveals nothing about stored keys.
    auto found = store_.key_by_hash(sha256_hex(key));
    if (!found) return std::unexpected(found.error());
    if (!*found) return fail(ErrorCode::kUnauthorized, "invalid API key");
    Principal p{.key = std::move((*found)->first), .org = std::move((*found)->second)};

    const int64_t now = clock_.now_ms();
    bool touch = false;
    {
        std::lock_guard lock(touch_mutex_);
        auto [it, fresh] = touched_.try_emplace(p.key.id, now);
        if (fresh || now - it->second >= 60'000) {
            it->second = now;
            touch = true;
        }
    }
    // last_used_at is informative: a failed write must not fail the request.
    if (touch) (void)store_.touch_key(p.key.id, now);
    return p;
}

}  // namespace orchagent::runtime
