// Internal to runtime/: reading a folder through its fd, for walks that must never follow a
// symlink (the bundle cache's seal and removal, the upload zip writer).
#pragma once

#include <string>
#include <vector>

#include "core/error.hpp"

namespace orchagent::runtime {

// The names in the folder `dir_fd` (not "." or ".."), in directory order. `shown` names the
// folder in errors.
Result<std::vector<std::string>> list_dir(int dir_fd, const std::string& shown);

}  // namespace orchagent::runtime
