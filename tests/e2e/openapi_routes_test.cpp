// api/openapi.json against the server it describes: the router's table (`orchagentd routes`)
// and the document's paths name the same (METHOD, path) pairs, and the document's error codes
// and statuses are those of the one error table (core/error.cpp). Redocly's lint (ctest
// openapi_lint) checks the document's form; this checks that it tells the truth.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace {

using nlohmann::json;

// "GET /agents/{id}": a method and an OpenAPI-style path template.
using Route = std::string;

const std::set<std::string> kOpenApiMethods = {"get",  "put",     "post",  "delete",
                                               "head", "options", "patch", "trace"};

std::string upper(std::string text) {
    for (char& c : text) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return text;
}

json read_document() {
    const std::string path = ORCHAGENT_SOURCE_DIR "/api/openapi.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::stringstream text;
    text << in.rdbuf();
    return json::parse(text.str());
}

// Runs `orchagentd routes`; fails the test unless it exits 0 with one JSON array on stdout.
json router_table() {
    const std::string command = std::string("'") + ORCHAGENTD_PATH + "' routes";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) throw std::runtime_error("popen failed: " + command);
    std::string out;
    char buffer[4096];
    for (std::size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) out.append(buffer, n);
    const int status = pclose(pipe);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error(command + " did not exit 0 (wait status " +
                                 std::to_string(status) + "); stdout: " + out);
    }
    json table = json::parse(out, nullptr, /*allow_exceptions=*/false);
    if (!table.is_array()) throw std::runtime_error(command + " printed no JSON array: " + out);
    return table;
}

std::string join(const std::vector<Route>& routes) {
    std::string text;
    for (const Route& route : routes) text += "\n  " + route;
    return text;
}

TEST(OpenApiRoutes, DocumentAndRouterNameTheSameRoutes) {
    const json table = router_table();
    std::set<Route> router;
    std::vector<Route> duplicates;
    for (const json& entry : table) {
        ASSERT_TRUE(entry.is_object() && entry.contains("method") && entry["method"].is_string() &&
                    entry.contains("pattern") && entry["pattern"].is_string() &&
                    entry.contains("max_body_bytes") &&
                    entry["max_body_bytes"].is_number_unsigned())
            << "a route entry is not {method, pattern, max_body_bytes}: " << entry.dump();
        const Route route =
            upper(entry["method"].get<std::string>()) + " " + entry["pattern"].get<std::string>();
        if (!router.insert(route).second) duplicates.push_back(route);
    }
    EXPECT_TRUE(duplicates.empty()) << "the router lists these twice:" << join(duplicates);
    EXPECT_FALSE(router.empty()) << "orchagentd routes printed no route";

    const json document = read_document();
    ASSERT_TRUE(document.contains("paths") && document["paths"].is_object());
    std::set<Route> described;
    for (const auto& [path, item] : document["paths"].items()) {
        for (const auto& [key, operation] : item.items()) {
            if (kOpenApiMethods.contains(key)) described.insert(upper(key) + " " + path);
        }
    }

    std::vector<Route> undocumented;
    std::vector<Route> unrouted;
    for (const Route& route : router) {
        if (!described.contains(route)) undocumented.push_back(route);
    }
    for (const Route& route : described) {
        if (!router.contains(route)) unrouted.push_back(route);
    }
    EXPECT_TRUE(undocumented.empty())
        << "routes the router has but api/openapi.json does not describe (add them to the "
           "document):"
        << join(undocumented);
    EXPECT_TRUE(unrouted.empty())
        << "routes api/openapi.json describes but the router does not have:" << join(unrouted);
}

// Every code of the error table, in the order of the enum. Keep kLast the last enumerator.
std::map<std::string, int> error_table() {
    constexpr auto kLast = orchagent::ErrorCode::kPaidAgentServerOnly;
    std::map<std::string, int> table;
    for (int i = 0; i <= static_cast<int>(kLast); ++i) {
        const auto& info = orchagent::error_info(static_cast<orchagent::ErrorCode>(i));
        table.emplace(std::string(info.code), info.http_status);
    }
    return table;
}

TEST(OpenApiRoutes, ErrorCodeEnumIsTheErrorTable) {
    const json document = read_document();
    const json& codes = document["components"]["schemas"]["ErrorCode"]["enum"];
    ASSERT_TRUE(codes.is_array());
    std::set<std::string> described;
    for (const json& code : codes) described.insert(code.get<std::string>());

    for (const auto& [code, status] : error_table()) {
        EXPECT_TRUE(described.contains(code))
            << code << " (" << status << ") is in core/error.cpp but not in ErrorCode";
    }
    for (const std::string& code : described) {
        EXPECT_TRUE(orchagent::error_code_from_string(code).has_value())
            << code << " is in ErrorCode but not in core/error.cpp";
    }
}

// The codes a reusable error response's examples show.
std::vector<std::string> example_codes(const json& response) {
    std::vector<std::string> codes;
    if (!response.contains("content")) return codes;
    for (const auto& [media_type, media] : response["content"].items()) {
        std::vector<json> examples;
        if (media.contains("example")) examples.push_back(media["example"]);
        if (media.contains("examples")) {
            for (const auto& [name, example] : media["examples"].items()) {
                examples.push_back(example.value("value", json()));
            }
        }
        for (const json& example : examples) {
            if (example.contains("error") && example["error"].contains("code")) {
                codes.push_back(example["error"]["code"].get<std::string>());
            }
        }
    }
    return codes;
}

// An operation's "404": {"$ref": "#/components/responses/Conflict"} would promise a status the
// server never gives with that code: each reference must sit under its codes' status.
TEST(OpenApiRoutes, ErrorResponsesSitUnderTheirCodesStatus) {
    const json document = read_document();
    const std::map<std::string, int> table = error_table();
    const std::string prefix = "#/components/responses/";

    std::map<std::string, std::set<int>> statuses;  // response name -> statuses of its codes
    for (const auto& [name, response] : document["components"]["responses"].items()) {
        for (const std::string& code : example_codes(response)) {
            const auto row = table.find(code);
            ASSERT_NE(row, table.end()) << "response " << name << " shows unknown code " << code;
            statuses[name].insert(row->second);
        }
    }

    for (const auto& [path, item] : document["paths"].items()) {
        for (const auto& [method, operation] : item.items()) {
            if (!kOpenApiMethods.contains(method)) continue;
            for (const auto& [status, response] : operation["responses"].items()) {
                const std::string ref = response.value("$ref", "");
                if (ref.rfind(prefix, 0) != 0) continue;
                const std::string name = ref.substr(prefix.size());
                const auto known = statuses.find(name);
                if (known == statuses.end()) continue;  // no example code to check against
                EXPECT_TRUE(known->second.contains(std::stoi(status)))
                    << upper(method) << " " << path << ": " << status << " refers to " << name
                    << ", whose codes have another status";
            }
        }
    }
}

}  // namespace
