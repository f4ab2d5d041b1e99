#include "sandbox/image.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <fstream>
#include <set>
#include <sstream>

namespace orchagent::sandbox {
namespace {

constexpr size_t kMaxImageBytes = 1 << 20;
// Never taken from a rootfs folder: the jail makes its own.
const std::set<std::string> kRootfsSkipped = {"proc", "dev", "sys", "tmp", "home", "run"};

std::unexpected<Error> bad(const std::string& origin, const YAML::Node& node,
                           const std::string& what) {
    return fail(ErrorCode::kInvalidInput,
                fmt::format("{}:{}: {}", origin, node.Mark().line + 1, what));
}

Result<void> only_keys(const std::string& origin, const YAML::Node& map, const std::string& where,
                       std::initializer_list<std::string_view> allowed) {
    for (const auto& kv : map) {
        auto key = kv.first.as<std::string>();
        bool known = false;
        for (auto a : allowed) known = known || a == key;
        if (!known) return bad(origin, kv.first, fmt::format("{}: unknown key '{}'", where, key));
    }
    return {};
}

Result<Mount> parse_bind(const std::string& origin, const YAML::Node& node, size_t i) {
    Mount m;
    m.kind = MountKind::kBind;
    std::string where = fmt::format("binds[{}]", i);
    if (node.IsScalar()) {
        m.source = node.as<std::string>();
    } else if (node.IsMap()) {
        if (auto r = only_keys(origin, node, where, {"source", "target", "optional"}); !r) {
            return std::unexpected(r.error());
        }
        if (!node["source"]) return bad(origin, node, where + ".source: required");
        m.source = node["source"].as<std::string>();
        if (node["target"]) m.target = node["target"].as<std::string>();
        if (node["optional"]) m.optional = node["optional"].as<bool>();
    } else {
        return bad(origin, node, where + ": a path or {source, target, optional}");
    }
    if (m.target.empty()) m.target = m.source;
    if (!is_clean_absolute_path(m.source) || !is_clean_absolute_path(m.target) || m.target == "/") {
        return bad(origin, node, where + ": source and target must be normalised absolute paths");
    }
    return m;
}

Result<void> add_rootfs(const std::string& origin, const YAML::Node& node, ImageSpec& image) {
    auto root = node.as<std::string>();
    if (!is_clean_absolute_path(root) || root == "/") {
        return bad(origin, node, "rootfs: a normalised absolute folder other than /");
    }
    DIR* dir = ::opendir(root.c_str());
    if (dir == nullptr) return fail_errno("opendir", root, errno, ErrorCode::kInvalidInput);
    std::vector<std::string> names;
    while (dirent* entry = ::readdir(dir)) {
        std::string name = entry->d_name;
        if (name == "." || name == ".." || kRootfsSkipped.contains(name)) continue;
        names.push_back(name);
    }
    ::closedir(dir);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
        image.mounts.push_back(
            {.kind = MountKind::kBind, .source = root + "/" + name, .target = "/" + name});
    }
    return {};
}

Result<ImageSpec> parse_node(const std::string& origin, const YAML::Node& doc) {
    if (!doc.IsMap()) return bad(origin, doc, "an image is a mapping");
    if (auto r = only_keys(origin, doc, "image",
                           {"name", "description", "binds", "rootfs", "files", "env"});
        !r) {
        return std::unexpected(r.error());
    }
    ImageSpec image;
    if (!doc["name"]) return bad(origin, doc, "name: required");
    image.name = doc["name"].as<std::string>();
    if (image.name.empty() || image.name.size() > 64 ||
        image.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") !=
            std::string::npos) {
        return bad(origin, doc["name"], "name: [a-z0-9-]{1,64}");
    }
    if (doc["description"]) image.description = doc["description"].as<std::string>();
    if (doc["binds"] && doc["rootfs"])
        return bad(origin, doc, "binds and rootfs exclude each other");
    if (auto binds = doc["binds"]) {
        if (!binds.IsSequence()) return bad(origin, binds, "binds: a list");
        for (size_t i = 0; i < binds.size(); ++i) {
            auto m = parse_bind(origin, binds[i], i);
            if (!m) return std::unexpected(m.error());
            image.mounts.push_back(std::move(*m));
        }
    }
    if (auto rootfs = doc["rootfs"]) {
        if (auto r = add_rootfs(origin, rootfs, image); !r) return std::unexpected(r.error());
    }
    if (auto files = doc["files"]) {
        if (!files.IsMap()) return bad(origin, files, "files: a mapping of path to content");
        for (const auto& kv : files) {
            auto path = kv.first.as<std::string>();
            if (!is_clean_absolute_path(path) || path == "/") {
                return bad(origin, kv.first,
                           fmt::format("files: '{}' is not a clean absolute path", path));
            }
            image.mounts.push_back({.kind = MountKind::kFile,
                                    .source = kv.second.as<std::string>(),
                                    .target = path,
                                    .mode = 0644});
        }
    }
    if (auto env = doc["env"]) {
        if (!env.IsMap()) return bad(origin, env, "env: a mapping of name to value");
        for (const auto& kv : env) {
            image.env.emplace_back(kv.first.as<std::string>(), kv.second.as<std::string>());
        }
    }
    return image;
}

}  // namespace

Result<ImageSpec> parse_image(const std::string& yaml_text, const std::string& origin) {
    try {
        return parse_node(origin, YAML::Load(yaml_text));
    } catch (const YAML::Exception& e) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("{}:{}: {}", origin, e.mark.line + 1, e.msg));
    }
}

Result<ImageSpec> load_image(const std::string& yaml_path) {
    std::ifstream in(yaml_path, std::ios::binary);
    if (!in) return fail_errno("open", yaml_path, errno, ErrorCode::kInvalidInput);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().size() > kMaxImageBytes) {
        return fail(ErrorCode::kInvalidInput, yaml_path + ": over 1 MiB");
    }
    return parse_image(text.str(), yaml_path);
}

std::vector<Mount> jail_mounts(const ImageSpec& image, const WritableFolders& writable) {
    std::vector<Mount> mounts = image.mounts;
    mounts.push_back({.kind = MountKind::kProc, .target = "/proc"});
    mounts.push_back({.kind = MountKind::kDev, .target = "/dev"});
    mounts.push_back({.kind = MountKind::kTmpfs,
                      .target = "/tmp",
                      .size_bytes = writable.tmp_bytes,
                      .mode = 01777});
    mounts.push_back(
        {.kind = writable.work_source.empty() ? MountKind::kTmpfs : MountKind::kOverlay,
         .source = writable.work_source,
         .target = writable.work_dir,
         .size_bytes = writable.work_bytes,
         .mode = 0755,
         .owned_by_run_user = true});
    return mounts;
}

std::vector<std::string> jail_env(const ImageSpec& image,
                                  const std::vector<std::pair<std::string, std::string>>& extra) {
    std::vector<std::pair<std::string, std::string>> merged = image.env;
    for (const auto& [key, value] : extra) {
        auto it = std::find_if(merged.begin(), merged.end(),
                               [&](const auto& kv) { return kv.first == key; });
        if (it != merged.end()) {
            it->second = value;
        } else {
            merged.emplace_back(key, value);
        }
    }
    std::vector<std::string> out;
    out.reserve(merged.size());
    for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
    return out;
}

}  // namespace orchagent::sandbox
