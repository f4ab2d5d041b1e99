// `orchagent bundle DIR -o OUT.zip`: zips an agent folder the way the hosted CLI does.
//
// Left out, at any depth: names starting with "." (dot-files and dot-folders, so .git, .env
// and .venv), node_modules, venv, __pycache__, tests, test, docs, and *.zip files.
// Everything else is kept, requirements.txt and package.json included. Paths are relative to
// the agent folder, "/"-separated, without directory entries. The walk is fd-relative and
// never follows a symlink: a symlink is stored as a symlink when its target stays inside
// the folder by the unpacker's rule (runtime/unpack.hpp), and skipped with a warning
// otherwise; so are names that are not valid UTF-8 and special files (the unpacker would
// refuse them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace orchagent::runtime {

struct BundleWriteReport {
    uint64_t files = 0;                 // regular files stored
    uint64_t symlinks = 0;              // symlinks stored
    uint64_t bytes = 0;                 // their uncompressed size
    std::vector<std::string> warnings;  // what was skipped and why, one line each
};

// True when a file or folder of this name is left out of a bundle.
bool excluded_from_bundle(std::string_view name, bool is_dir);

// Writes `out_zip` (replaced if it exists; removed again on failure).
Result<BundleWriteReport> write_bundle_zip(const std::string& agent_dir,
                                           const std::string& out_zip);

}  // namespace orchagent::runtime
