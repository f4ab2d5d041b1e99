// Safe extraction of an agent bundle (zip, tar, tar.gz) into a folder. This is the code of
// the `orchagent-unpack` helper, which the runtime runs inside the jail (runtime/bundle.hpp);
// it is a library too so the unit tests can call it directly.
//
// It depends on nothing of the project but this header (std::expected, libarchive, fmt), so
// the helper stays tiny: no core/ Error here, only a message the runtime turns into
// INVALID_INPUT.
//
// Rules, per entry (the first violation stops the extraction):
//   - name: relative, no ".." component, valid UTF-8 without control characters, each
//     component <= 255 bytes, whole name <= 4096 bytes, at most 32 components; "." and
//     empty components are dropped ("./a//b" is "a/b"); a second entry for the same path is
//     refused;
//   - type: regular file, directory or symlink only (hardlinks, devices, fifos, sockets
//     refused);
//   - symlink target: relative, ".." only as leading components and never more of them than
//     the link's folder is deep, so it resolves inside the root lexically and physically
//     (a ".." after a name could walk up from where another symlink leads);
//   - nothing is created through a symlink: each parent component is opened with
//     O_NOFOLLOW|O_DIRECTORY, and an entry below a symlink is refused;
//   - modes: files 0644, or 0755 when any exec bit is set; directories 0755; setuid, setgid
//     and sticky are never applied; owners and times are not restored;
//   - limits: entries, bytes actually written, and the ratio of bytes written to archive
//     bytes consumed (per entry and for the whole archive; headers can lie, so the counts
//     are of real bytes).
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace orchagent::runtime {

struct UnpackLimits {
    uint64_t max_entries = 10'000;      // archive entries of any type, directories included
    uint64_t max_bytes = 256ull << 20;  // bytes written to regular files, all entries
    uint64_t max_ratio = 100;           // bytes written / archive bytes read (see unpack.cpp)
};

struct UnpackStats {
    uint64_t files = 0;     // regular files written
    uint64_t dirs = 0;      // directory entries (explicit ones)
    uint64_t symlinks = 0;  // symlinks created
    uint64_t bytes = 0;     // bytes written to regular files
    uint64_t entries = 0;   // archive entries read
};

struct UnpackError {
    std::string message;  // "bundle entry '<name>': <reason>" or "bundle: <reason>"
};

using UnpackResult = std::expected<UnpackStats, UnpackError>;

// Reads the archive from `archive_fd` (seeked when it is a regular file, which zip's central
// directory needs) and extracts into the folder `root_fd`. Nothing is ever created outside
// `root_fd`; on an error, what was extracted so far stays (the caller removes the folder).
UnpackResult unpack_archive(int archive_fd, int root_fd, const UnpackLimits& limits);

// The helper's one output line: {"files": N, "bytes": B} or
// {"error": {"code": "INVALID_INPUT", "message": "..."}} (no trailing newline).
std::string unpack_result_json(const UnpackResult& result);

// Parses the helper's flags (--max-entries N --max-bytes N --max-ratio N); every value must
// be a positive decimal integer.
std::expected<UnpackLimits, std::string> parse_unpack_flags(const std::vector<std::string>& args);

// The symlink-target rule above, for a link `depth` folders below the root: an empty
// string when `target` is acceptable, else the reason.
std::string symlink_target_problem(std::string_view target, size_t depth);

// `name` made printable for a message: valid UTF-8 kept, other bytes and control characters
// as \xNN, cut to about 200 bytes.
std::string printable_name(std::string_view name);

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace orchagent::runtime
