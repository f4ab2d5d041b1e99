#include "api/config_llm.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace orchagent::api {

Result<void> load_llm_block(const YAML::Node& node, const std::string& path,
                            runtime::LlmConfig& c) {
    if (!node.IsMap()) {
        return fail(ErrorCode::kInvalidInput,
                    fmt::format("config '{}': llm: must be a mapping (base_url, model, ...)",
                                path));
    }
    for (const auto& item : node) {
        const std::string key = item.first.as<std::string>("");
        const YAML::Node& v = item.second;
        auto where = [&](std::string_view what) {
            return fail(ErrorCode::kInvalidInput,
                        fmt::format("config '{}': llm.{}: {}", path, key, what));
        };
        try {
            if (key == "provider") c.provider = v.as<std::string>();
            else if (key == "base_url") c.base_url = v.as<std::string>();
            else if (key == "api_key_env") c.api_key_env = v.as<std::string>();
            else if (key == "model") c.model = v.as<std::string>();
            else if (key == "timeout_seconds") c.timeout_seconds = v.as<int>();
            else if (key == "max_response_bytes") c.max_response_bytes = v.as<std::size_t>();
            else if (key == "max_prompt_bytes") c.max_prompt_bytes = v.as<std::size_t>();
            else if (key == "api_key") {
                return where("the key does not belong in the config file; put it in an environment "
                             "variable and name that variable in llm.api_key_env");
            }
            else return where("unknown key");
        } catch (const YAML::Exception&) {
            return where("wrong type");
        }
    }
    return {};
}

}  // namespace orchagent::api
