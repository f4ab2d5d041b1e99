#include "runtime/locate.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace orchagent::runtime {

namespace fs = std::filesystem;

std::string find_image() {
    if (const char* env = std::getenv("ORCHAGENT_IMAGE")) return env;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec).parent_path();
    for (fs::path dir = exe; !dir.empty() && dir != dir.root_path(); dir = dir.parent_path()) {
        for (auto candidate :
             {dir / "images/host.yaml", dir / "share/orchagent/images/host.yaml"}) {
            if (fs::exists(candidate, ec)) return candidate.string();
        }
    }
    return "images/host.yaml";
}

std::string find_unpack_helper() {
    if (const char* env = std::getenv("ORCHAGENT_UNPACK")) return env;
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/self/exe", ec).parent_path();
    for (auto candidate : {exe / "orchagent-unpack", exe.parent_path() / "runtime/orchagent-unpack",
                           exe.parent_path() / "libexec/orchagent/orchagent-unpack"}) {
        if (fs::exists(candidate, ec)) return candidate.string();
    }
    return "orchagent-unpack";
}

uint32_t host_base_for(uint32_t which) {
    return (1u << 31) + ((static_cast<uint32_t>(::getpid()) % 16000) * 2 + which) * 65536;
}

}  // namespace orchagent::runtime
