// What a code agent reads on stdin for a multipart call (CONTRACT.md section 4):
// {"files": [{"path", "original_name", "content_type", "size_bytes"}], "metadata": {...}}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace orchagent::manifest {

// Where uploads sit inside the sandbox.
inline constexpr std::string_view kUploadsDir = "/tmp/uploads";
inline constexpr std::size_t kMaxUploadNameBytes = 255;

struct UploadedFile {
    std::string path;           // absolute inside the sandbox: /tmp/uploads/0_report.pdf
    std::string original_name;  // as the caller sent it (may be hostile; see below)
    std::string content_type;
    std::uint64_t size_bytes = 0;
};

// The stdin manifest, keys exactly as the contract says. Strings that are not valid UTF-8
// (original names come from callers) have their bad bytes replaced by U+FFFD so that the
// result always serialises. A null `metadata` becomes {}.
nlohmann::json build_stdin_manifest(const std::vector<UploadedFile>& files,
                                    const nlohmann::json& metadata);

// A safe file name for the index-th upload: "<index>_<basename>", where basename is the part
// after the last '/' or '\', control characters dropped, every other character outside
// [A-Za-z0-9._-] (a whole UTF-8 sequence counting as one) replaced by '_'; "file" when that
// leaves nothing, "." or ".."; cut to 255 bytes in all, keeping the extension.
std::string sanitize_upload_name(std::string_view original, std::size_t index);

// kUploadsDir + "/" + sanitize_upload_name(original, index).
std::string upload_path(std::string_view original, std::size_t index);

// Replaces invalid UTF-8 sequences by U+FFFD.
std::string to_valid_utf8(std::string_view text);

}  // namespace orchagent::manifest
