#include "manifest/yaml_json.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <exception>
#include <string>

namespace orchagent::manifest {
namespace {

struct Converter {
    int max_depth;
    std::size_t max_nodes;
    std::size_t nodes = 0;
    std::string error;  // first failure, empty while fine
};

bool is_digits(std::string_view s, std::string_view allowed) {
    return !s.empty() && s.find_first_not_of(allowed) == std::string_view::npos;
}

// YAML 1.2 core schema resolution of a plain scalar.
nlohmann::json resolve_plain(const std::string& s) {
    if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;

    std::string_view body = s;
    const bool negative = !body.empty() && body.front() == '-';
    if (!body.empty() && (body.front() == '-' || body.front() == '+')) body.remove_prefix(1);
    int base = 10;
    std::string_view digits = body;
    if (digits.starts_with("0x") && s == body) {
        base = 16;
        digits.remove_prefix(2);
        if (!is_digits(digits, "0123456789abcdefABCDEF")) digits = {};
    } else if (digits.starts_with("0o") && s == body) {
        base = 8;
        digits.remove_prefix(2);
        if (!is_digits(digits, "01234567")) digits = {};
    } else if (!is_digits(digits, "0123456789")) {
        digits = {};
    }
    if (!digits.empty()) {
        std::uint64_t magnitude = 0;
        auto [ptr, ec] =
            std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
        if (ec == std::errc() && ptr == digits.data() + digits.size()) {
            if (!negative) return magnitude;
            if (magnitude <= static_cast<std::uint64_t>(INT64_MAX) + 1) {
                return static_cast<std::int64_t>(0 - magnitude);
            }
        }
        return s;  // out of range: keep the text
    }
    // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?; .inf/.nan have no JSON form.
    bool saw_digit = false;
    std::size_t i = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') saw_digit = (++i, true);
    if (i < body.size() && body[i] == '.') {
        ++i;
        while (i < body.size() && body[i] >= '0' && body[i] <= '9') saw_digit = (++i, true);
    }
    if (saw_digit && i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
        std::size_t j = i + 1;
        if (j < body.size() && (body[j] == '+' || body[j] == '-')) ++j;
        if (j < body.size() && body[j] >= '0' && body[j] <= '9') {
            while (j < body.size() && body[j] >= '0' && body[j] <= '9') ++j;
            i = j;
        }
    }
    if (saw_digit && i == body.size()) {
        double value = 0;
        std::string_view all = s;
        if (all.front() == '+') all.remove_prefix(1);
        auto [ptr, ec] = std::from_chars(all.data(), all.data() + all.size(), value);
        if (ec == std::errc() && ptr == all.data() + all.size()) return value;
    }
    return s;
}

nlohmann::json convert(const YAML::Node& node, int depth, Converter& c) {
    if (!c.error.empty()) return nullptr;
    if (++c.nodes > c.max_nodes) {
        c.error = fmt::format("more than {} values (after expanding aliases)", c.max_nodes);
        return nullptr;
    }
    switch (node.Type()) {
        case YAML::NodeType::Undefined:
        case YAML::NodeType::Null:
            return nullptr;
        case YAML::NodeType::Scalar: {
            const std::string& tag = node.Tag();
            if (tag == "!" || tag == "tag:yaml.org,2002:str") return node.Scalar();
            return resolve_plain(node.Scalar());
        }
        case YAML::NodeType::Sequence:
        case YAML::NodeType::Map:
            break;
    }
    if (depth + 1 > c.max_depth) {
        c.error = fmt::format("nested deeper than {} levels (line {})", c.max_depth,
                              node.Mark().line + 1);
        return nullptr;
    }
    if (node.IsSequence()) {
        nlohmann::json out = nlohmann::json::array();
        for (const YAML::Node& item : node) out.push_back(convert(item, depth + 1, c));
        return out;
    }
    nlohmann::json out = nlohmann::json::object();
    for (const auto& kv : node) {
        if (!kv.first.IsScalar()) {
            c.error =
                fmt::format("line {}: mapping keys must be scalars", kv.first.Mark().line + 1);
            return nullptr;
        }
        out[kv.first.Scalar()] = convert(kv.second, depth + 1, c);
    }
    return out;
}

}  // namespace

Result<nlohmann::json> yaml_to_json(std::string_view text, int max_depth, std::size_t max_nodes) {
    Converter c{max_depth, max_nodes};
    try {
        const YAML::Node root = YAML::Load(std::string(text));
        nlohmann::json out = convert(root, 0, c);
        if (!c.error.empty()) return fail(ErrorCode::kInvalidInput, "YAML: " + c.error);
        return out;
    } catch (const YAML::Exception& e) {
        return fail(
            ErrorCode::kInvalidInput,
            fmt::format("YAML: line {}, column {}: {}", e.mark.line + 1, e.mark.column + 1, e.msg));
    } catch (const std::exception& e) {
        return fail(ErrorCode::kInvalidInput, std::string("YAML: ") + e.what());
    }
}

}  // namespace orchagent::manifest
