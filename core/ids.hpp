// Identifiers and secrets: random ids with a type prefix ("agt_3f9c..."), API keys, and
// the hash under which a key is stored.
#pragma once

#include <string>
#include <string_view>

namespace orchagent {

// Lowercase hex of `bytes` bytes from the OS's CSPRNG (getrandom).
std::string random_hex(std::size_t bytes);
// "<prefix>_<20 hex chars>": 80 random bits, enough that ids never collide in practice.
std::string new_id(std::string_view prefix);
// A new API key: "sk_live_" + 43 base62 characters (256 random bits).
std::string new_api_key();
// The first characters of a key, shown in listings so users can tell keys apart.
std::string key_prefix(std::string_view key);
// Lowercase hex SHA-256 of `data`. Keys carry 256 random bits, so a fast hash is enough:
// no dictionary exists to attack.
std::string sha256_hex(std::string_view data);
// SHA-256 of data given in pieces (a spooled request body, a file).
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(std::string_view data);
    // Lowercase hex of everything given; the object is spent afterwards.
    std::string hex();

  private:
    void* ctx_;  // EVP_MD_CTX
};
// Constant-time comparison of two strings of any lengths (length leaks, content does not).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace orchagent
