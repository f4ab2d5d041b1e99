// What to run and with which limits: a plain value. sandbox/ never decides a limit; the
// runtime's policy fills a JailSpec and the Launcher applies it as given.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "core/error.hpp"

namespace orchagent::sandbox {

// Ids inside and outside the user namespace.
struct Identity {
    // The ids the program runs as inside the jail. Never 0.
    uint32_t run_uid = 1000;
    uint32_t run_gid = 1000;
    // Privileged launcher (root): inside ids 0..range-1 map to host ids host_base..; each
    // concurrent slot must get its own base, so two runs never share a host id.
    // Unprivileged launcher: host_base is ignored; run_uid/run_gid map to the caller's own
    // ids, the only ones an unprivileged process may map.
    uint32_t host_base = 0;
    uint32_t range = 65536;
};

enum class MountKind {
    kBind,   // source (host path) -> target; read-only unless `writable`
    kTmpfs,  // fresh tmpfs of size_bytes at target, `mode`, owned by the run user if asked
    kProc,   // fresh procfs (hidepid=invisible) at target
    kDev,    // minimal /dev at target: null zero full random urandom, fd/stdin/stdout/stderr links
    kDir,    // empty directory at target (on the read-only root)
    kFile,   // a file at target whose content is `source`
    kSymlink,  // a symlink at target pointing to `source`
    kOverlay,  // a writable view of the host folder `source` at target: changes go to a
               // tmpfs of size_bytes and vanish with the run (the source is never written);
               // its root owned by the run user if asked
};

struct Mount {
    MountKind kind = MountKind::kBind;
    std::string source;
    std::string target;              // absolute path inside the jail, no "..", no "//"
    bool writable = false;           // kBind only
    bool optional = false;           // kBind only: skip when the source does not exist
    uint64_t size_bytes = 0;         // kTmpfs only: its cap (required, > 0)
    uint32_t mode = 0755;            // kTmpfs, kDir, kFile
    bool owned_by_run_user = false;  // kTmpfs, kDir, kFile, kOverlay: chown to run_uid/run_gid
};

struct Limits {
    uint64_t memory_bytes = 512ull << 20;   // whole tree, RAM (and swap where the kernel counts it)
    uint32_t max_pids = 64;                 // processes + threads of the whole tree
    uint32_t cpu_millicores = 1000;         // CPU bandwidth; 1000 = one core
    uint64_t max_file_bytes = 64ull << 20;  // RLIMIT_FSIZE: largest file the program may write
    uint32_t max_open_files = 256;          // RLIMIT_NOFILE
    uint64_t stack_bytes = 8ull << 20;      // RLIMIT_STACK
};

struct OutputCaps {
    uint64_t stdout_max_bytes = 16ull << 20;   // over this the run is killed (stdout_overflow)
    uint64_t stderr_tail_bytes = 64ull << 10;  // only the last N bytes of stderr are kept
};

struct StdinNone {};
struct StdinFile {
    std::string path;  // host path, opened read-only by the launcher
};
struct StdinBuffer {
    std::string data;
};
using StdinSource = std::variant<StdinNone, StdinFile, StdinBuffer>;

// A listening TCP socket the child makes at 127.0.0.1:port inside the run's network
// namespace before the program starts, and hands to the launcher over a socketpair: the
// program can connect to it, only the holder of the fd (Launcher::run's RunHooks) accepts,
// and nothing else of the network becomes reachable. port 0: none.
struct LoopbackListener {
    uint16_t port = 0;
    uint32_t backlog = 16;  // connections queued before the holder accepts them
};

struct JailSpec {
    std::vector<std::string>
        argv;                      // argv[0]: absolute path in the jail, or a name searched in PATH
    std::vector<std::string> env;  // "KEY=value", exactly the environment the program gets
    std::string cwd = "/";         // inside the jail
    std::vector<Mount> mounts;  // applied in order on a fresh tmpfs root, then root goes read-only
    Identity identity;
    Limits limits;
    OutputCaps output;
    StdinSource stdin_source;
    std::chrono::milliseconds timeout{10'000};  // wall clock from the start of the spawn
    std::string hostname = "orchagent";
    LoopbackListener listener;
};

// Checks a spec before anything is spawned: every problem named with its field.
Result<void> validate(const JailSpec& spec);

// True when `path` is absolute, normalised (no ".", "..", "//", trailing "/"), no NUL, and
// no longer than PATH_MAX.
bool is_clean_absolute_path(std::string_view path);

}  // namespace orchagent::sandbox
