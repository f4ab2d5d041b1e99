#include "sandbox/jail_spec.hpp"

#include <fmt/format.h>
#include <limits.h>

#include <set>

namespace orchagent::sandbox {
namespace {

constexpr size_t kMaxArgBytes = 1 << 20;   // argv + env, well under the kernel's ARG_MAX
constexpr size_t kMaxFileBytes = 1 << 20;  // one kFile's content
constexpr size_t kMaxMounts = 256;

std::unexpected<Error> invalid(std::string field, std::string problem) {
    return fail(ErrorCode::kInvalidInput, fmt::format("{}: {}", field, problem));
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

Result<void> validate_mount(const Mount& m, size_t i) {
    const std::string field = fmt::format("mounts[{}]", i);
    if (!is_clean_absolute_path(m.target) || m.target == "/") {
        return invalid(
            field + ".target",
            fmt::format("'{}' must be a normalised absolute path other than /", m.target));
    }
    if (m.mode > 07777) return invalid(field + ".mode", "must be at most 07777");
    switch (m.kind) {
        case MountKind::kOverlay:
            if (m.size_bytes == 0) {
                return invalid(field + ".size_bytes", "an overlay needs a size cap");
            }
            [[fallthrough]];
        case MountKind::kBind:
            if (!is_clean_absolute_path(m.source)) {
                return invalid(field + ".source",
                               fmt::format("'{}' must be a normalised absolute path", m.source));
            }
            break;
        case MountKind::kTmpfs:
            if (m.size_bytes == 0)
                return invalid(field + ".size_bytes", "a tmpfs needs a size cap");
            break;
        case MountKind::kFile:
            if (m.source.size() > kMaxFileBytes) {
                return invalid(field + ".source", "file content over 1 MiB");
            }
            break;
        case MountKind::kSymlink:
            if (m.source.empty() || has_nul(m.source)) {
                return invalid(field + ".source", "a symlink needs a target without NUL");
            }
            break;
        case MountKind::kProc:
        case MountKind::kDev:
        case MountKind::kDir:
            break;
    }
    return {};
}

}  // namespace

bool is_clean_absolute_path(std::string_view path) {
    if (path.empty() || path.front() != '/' || path.size() >= PATH_MAX || has_nul(path)) {
        return false;
    }
    if (path == "/") return true;
    if (path.back() == '/') return false;
    size_t start = 1;
    while (start <= path.size()) {
        size_t end = path.find('/', start);
        if (end == std::string_view::npos) end = path.size();
        std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == ".." || part.size() > NAME_MAX) return false;
        start = end + 1;
    }
    return true;
}

Result<void> validate(const JailSpec& spec) {
    if (spec.argv.empty() || spec.argv.front().empty()) {
        return invalid("argv", "needs at least the program");
    }
    size_t arg_bytes = 0;
    for (size_t i = 0; i < spec.argv.size(); ++i) {
        if (has_nul(spec.argv[i])) return invalid(fmt::format("argv[{}]", i), "contains NUL");
        arg_bytes += spec.argv[i].size() + 1;
    }
    for (size_t i = 0; i < spec.env.size(); ++i) {
        const auto& e = spec.env[i];
        size_t eq = e.find('=');
        if (eq == std::string::npos || eq == 0 || has_nul(e)) {
            return invalid(fmt::format("env[{}]", i), "must be KEY=value without NUL");
        }
        arg_bytes += e.size() + 1;
    }
    if (arg_bytes > kMaxArgBytes) return invalid("argv/env", "over 1 MiB together");
    if (spec.argv.front().find('/') != std::string::npos &&
        !is_clean_absolute_path(spec.argv.front())) {
        return invalid("argv[0]", "a path must be absolute and normalised");
    }
    if (!is_clean_absolute_path(spec.cwd)) {
        return invalid("cwd", "must be a normalised absolute path");
    }
    if (spec.mounts.size() > kMaxMounts) return invalid("mounts", "more than 256 entries");
    for (size_t i = 0; i < spec.mounts.size(); ++i) {
        if (auto r = validate_mount(spec.mounts[i], i); !r) return r;
    }
    const Identity& id = spec.identity;
    if (id.range == 0) return invalid("identity.range", "must be at least 1");
    if (id.run_uid == 0 || id.run_uid >= id.range) {
        return invalid("identity.run_uid", "must be non-zero and below identity.range");
    }
    if (id.run_gid == 0 || id.run_gid >= id.range) {
        return invalid("identity.run_gid", "must be non-zero and below identity.range");
    }
    if (uint64_t{id.host_base} + id.range > 0xFFFFFFFFull) {
        return invalid("identity.host_base", "host_base + range passes the last host id");
    }
    const Limits& l = spec.limits;
    if (l.memory_bytes < (4ull << 20)) return invalid("limits.memory_bytes", "at least 4 MiB");
    if (l.max_pids < 1) return invalid("limits.max_pids", "at least 1");
    if (l.cpu_millicores < 10) return invalid("limits.cpu_millicores", "at least 10");
    if (l.max_open_files < 4) return invalid("limits.max_open_files", "at least 4");
    if (l.stack_bytes < (64 << 10)) return invalid("limits.stack_bytes", "at least 64 KiB");
    if (spec.output.stdout_max_bytes == 0) return invalid("output.stdout_max_bytes", "at least 1");
    if (spec.output.stderr_tail_bytes == 0) {
        return invalid("output.stderr_tail_bytes", "at least 1");
    }
    if (spec.timeout.count() <= 0) return invalid("timeout", "must be positive");
    if (spec.hostname.empty() || spec.hostname.size() > 64 ||
        spec.hostname.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789.-") != std::string::npos) {
        return invalid("hostname", "1-64 characters of [A-Za-z0-9.-]");
    }
    if (spec.listener.port != 0 && (spec.listener.backlog < 1 || spec.listener.backlog > 4096)) {
        return invalid("listener.backlog", "1 to 4096");
    }
    return {};
}

}  // namespace orchagent::sandbox
