#include "core/ids.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

namespace orchagent {
namespace {

void fill_random(void* out, std::size_t n) {
    auto* p = static_cast<unsigned char*>(out);
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            // getrandom cannot fail on Linux >= 3.17 once the pool is initialised; a key
            // made of zeros would be worse than stopping.
            std::terminate();
        }
        p += got;
        n -= static_cast<std::size_t>(got);
    }
}

}  // namespace

std::string random_hex(std::size_t bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string raw(bytes, '\0');
    fill_random(raw.data(), bytes);
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
    return out;
}

std::string new_id(std::string_view prefix) {
    std::string id(prefix);
    id += '_';
    id += random_hex(10);
    return id;
}

std::string new_api_key() {
    static constexpr char kAlphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string key = "sk_live_";
    // 43 base62 digits carry 256 bits; rejection sampling keeps them uniform.
    while (key.size() < 8 + 43) {
        std::array<unsigned char, 64> buf;
        fill_random(buf.data(), buf.size());
        for (unsigned char c : buf) {
            if (c >= 248) continue;  // 248 = 4 * 62
            key.push_back(kAlphabet[c % 62]);
            if (key.size() == 8 + 43) break;
        }
    }
    return key;
}

std::string key_prefix(std::string_view key) { return std::string(key.substr(0, 12)); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) {
        std::terminate();  // only on allocation failure: nothing sensible to hash with
    }
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(std::string_view data) {
    EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
}

std::string Sha256::hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 15]);
    }
    return out;
}

std::string sha256_hex(std::string_view data) {
    Sha256 hash;
    hash.update(data);
    return hash.hex();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace orchagent
