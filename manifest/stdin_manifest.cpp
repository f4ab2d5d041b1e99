#include "manifest/stdin_manifest.hpp"

#include <fmt/format.h>

namespace orchagent::manifest {
namespace {

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not one.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    if (c < 0x80) return 1;
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) {
        len = 2;
        cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3;
        cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (i + len > text.size()) return 0;
    for (std::size_t k = 1; k < len; ++k) {
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (byte(i + k) & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        return 0;
    }
    return len;
}

bool is_safe_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

}  // namespace

std::string to_valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const std::size_t len = utf8_sequence_length(text, i);
        if (len == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(text.substr(i, len));
            i += len;
        }
    }
    return out;
}

nlohmann::json build_stdin_manifest(const std::vector<UploadedFile>& files,
                                    const nlohmann::json& metadata) {
    nlohmann::json list = nlohmann::json::array();
    for (const UploadedFile& f : files) {
        nlohmann::json entry = nlohmann::json::object();
        entry["path"] = to_valid_utf8(f.path);
        entry["original_name"] = to_valid_utf8(f.original_name);
        entry["content_type"] = to_valid_utf8(f.content_type);
        entry["size_bytes"] = f.size_bytes;
        list.push_back(std::move(entry));
    }
    nlohmann::json out = nlohmann::json::object();
    out["files"] = std::move(list);
    out["metadata"] = metadata.is_null() ? nlohmann::json::object() : metadata;
    return out;
}

std::string sanitize_upload_name(std::string_view original, std::size_t index) {
    // Keep only what follows the last directory separator.
    if (const auto slash = original.find_last_of("/\\"); slash != std::string_view::npos) {
        original.remove_prefix(slash + 1);
    }
    std::string base;
    for (std::size_t i = 0; i < original.size();) {
        const auto c = static_cast<unsigned char>(original[i]);
        if (c < 0x20 || c == 0x7F) {  // NUL and control characters are dropped
            ++i;
            continue;
        }
        if (c < 0x80) {
            base += is_safe_char(static_cast<char>(c)) ? static_cast<char>(c) : '_';
            ++i;
            continue;
        }
        // A whole UTF-8 sequence (or one invalid byte) becomes one '_'.
        const std::size_t len = utf8_sequence_length(original, i);
        base += '_';
        i += len == 0 ? 1 : len;
    }
    if (base.empty() || base == "." || base == "..") base = "file";

    const std::string prefix = fmt::format("{}_", index);
    const std::size_t room =
        kMaxUploadNameBytes > prefix.size() ? kMaxUploadNameBytes - prefix.size() : 1;
    if (base.size() > room) {
        // Keep a short extension (".pdf", ".tar.gz"'s ".gz") and cut the stem.
        std::string ext;
        const auto dot = base.find_last_of('.');
        if (dot != std::string::npos && dot > 0 && base.size() - dot <= 16) ext = base.substr(dot);
        base = base.substr(0, room - ext.size()) + ext;
    }
    return prefix + base;
}

std::string upload_path(std::string_view original, std::size_t index) {
    return fmt::format("{}/{}", kUploadsDir, sanitize_upload_name(original, index));
}

}  // namespace orchagent::manifest
