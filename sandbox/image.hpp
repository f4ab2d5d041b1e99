// Images: what a jail's read-only userland is made of, defined in images/*.yaml.
//
//   name: host                      # required, [a-z0-9-]{1,64}
//   description: text               # optional
//   binds:                          # host paths bound read-only at the same place
//     - /usr                        # a host symlink (merged /usr: /bin -> usr/bin) is
//     - {source: /lib32, optional: true}   # recreated as a symlink
//     - {source: /opt/x, target: /x}
//   rootfs: /srv/images/debian      # instead of binds: every top-level entry of a folder
//   files: {/etc/passwd: "..."}     # small files written into the jail's read-only root
//   env: {PATH: /usr/bin:/bin}      # the environment the image needs
//
// Unknown keys are errors. An image gives mounts and environment only; limits, the
// writable folders and the program come from the runtime's policy.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "sandbox/jail_spec.hpp"

namespace orchagent::sandbox {

struct ImageSpec {
    std::string name;
    std::string description;
    std::vector<Mount> mounts;  // binds, files and symlinks, in definition order
    std::vector<std::pair<std::string, std::string>> env;
};

Result<ImageSpec> load_image(const std::string& yaml_path);
Result<ImageSpec> parse_image(const std::string& yaml_text, const std::string& origin);

// The mounts every jail gets around an image: the image, a fresh /proc, a minimal /dev,
// a size-capped writable /tmp and a size-capped writable work folder owned by the run user.
struct WritableFolders {
    uint64_t tmp_bytes = 64ull << 20;
    std::string work_dir = "/home/user";
    uint64_t work_bytes = 64ull << 20;
    // When set, the work folder starts as a writable view of this host folder (an unpacked
    // bundle): changes stay in the run (kOverlay), the folder itself is never written.
    std::string work_source;
};
std::vector<Mount> jail_mounts(const ImageSpec& image, const WritableFolders& writable);

// "KEY=value" strings for JailSpec::env: the image's environment, then `extra` (which wins).
std::vector<std::string> jail_env(const ImageSpec& image,
                                  const std::vector<std::pair<std::string, std::string>>& extra);

}  // namespace orchagent::sandbox
