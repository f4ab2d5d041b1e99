// manifest/json_schema: draft-07 validation with readable field paths.
#include <gtest/gtest.h>

#include "manifest/json_schema.hpp"

namespace orchagent::manifest {
namespace {

using nlohmann::json;

std::vector<std::string> problems(const json& schema, const json& value) {
    auto result = validate_against_schema(schema, value);
    EXPECT_TRUE(result) << result.error().message();
    std::vector<std::string> out;
    if (result) {
        for (const auto& e : *result) out.push_back(e.to_string());
    }
    return out;
}

const json kSchema = json::parse(R"({
  "type": "object",
  "required": ["file_url"],
  "properties": {
    "file_url": {"type": "string", "pattern": "^https://"},
    "mode": {"enum": ["fast", "slow"]},
    "pages": {"type": "integer", "minimum": 1},
    "items": {"type": "array", "items": {
        "type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}},
    "strict": {"type": "object", "additionalProperties": false, "properties": {"a": {}}}
  }
})");

TEST(SchemaValidate, ConformingValueHasNoErrors) {
    EXPECT_TRUE(problems(kSchema, json{{"file_url", "https://x"}, {"pages", 3}}).empty());
}

TEST(SchemaValidate, MissingRequiredNamesTheField) {
    EXPECT_EQ(problems(kSchema, json::object()),
              (std::vector<std::string>{"file_url: is required"}));
}

TEST(SchemaValidate, EachKindOfFailureNamesItsPath) {
    EXPECT_EQ(problems(kSchema, json{{"file_url", 5}}),
              (std::vector<std::string>{
                  "file_url: has the wrong type for the schema's 'type', got integer"}));
    EXPECT_EQ(problems(kSchema, json{{"file_url", "http://x"}}),
              (std::vector<std::string>{"file_url: does not match the schema's 'pattern'"}));
    EXPECT_EQ(
        problems(kSchema, json{{"file_url", "https://x"}, {"mode", "medium"}}),
        (std::vector<std::string>{"mode: must be one of the values the schema's 'enum' allows"}));
    auto pages = problems(kSchema, json{{"file_url", "https://x"}, {"pages", 0}});
    ASSERT_EQ(pages.size(), 1u);
    EXPECT_TRUE(pages[0].starts_with("pages: ")) << pages[0];
    EXPECT_EQ(problems(kSchema, json{{"file_url", "https://x"},
                                     {"items", {{{"id", 1}}, {{"id", "two"}}, json::object()}}}),
              (std::vector<std::string>{
                  "items[1].id: has the wrong type for the schema's 'type', got string",
                  "items[2].id: is required"}));
    EXPECT_EQ(problems(kSchema, json{{"file_url", "https://x"}, {"strict", {{"a", 1}, {"b", 2}}}}),
              (std::vector<std::string>{"strict.b: is not allowed (additionalProperties)"}));
}

TEST(SchemaValidate, CollectsAllErrors) {
    auto all = problems(kSchema, json{{"mode", "x"}, {"pages", "1"}});
    EXPECT_EQ(all.size(), 3u) << ::testing::PrintToString(all);
    EXPECT_EQ(join_errors(*validate_against_schema(kSchema, json::object()), "input"),
              "input.file_url: is required");
}

TEST(SchemaValidate, RootTypeMismatch) {
    EXPECT_EQ(problems(kSchema, json::array()),
              (std::vector<std::string>{"has the wrong type for the schema's 'type', got array"}));
}

TEST(SchemaValidate, Draft7Features) {
    json schema = json::parse(R"({
      "definitions": {"pos": {"type": "integer", "minimum": 0}},
      "type": "object",
      "properties": {"n": {"$ref": "#/definitions/pos"}, "kind": {"type": "string"}},
      "if": {"required": ["kind"], "properties": {"kind": {"const": "file"}}},
      "then": {"required": ["path"]}
    })");
    EXPECT_TRUE(problems(schema, json{{"n", 1}}).empty());
    auto neg = problems(schema, json{{"n", -1}});
    ASSERT_FALSE(neg.empty());
    EXPECT_TRUE(neg[0].starts_with("n: ")) << neg[0];
    auto cond = problems(schema, json{{"kind", "file"}});
    EXPECT_NE(std::find(cond.begin(), cond.end(), "path: is required"), cond.end())
        << ::testing::PrintToString(cond);
}

TEST(SchemaValidate, InvalidSchemasFail) {
    for (const json& bad :
         {json{{"type", "bogus"}}, json{{"properties", 5}}, json{{"minLength", -1}},
          json{{"$ref", "#/definitions/none"}}, json{{"$ref", "http://example.com/s.json"}},
          json{{"type", "string"}, {"pattern", "(("}}, json("x"), json::array()}) {
        auto r = validate_against_schema(bad, json(1));
        ASSERT_FALSE(r) << bad.dump();
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
        EXPECT_FALSE(check_schema(bad)) << bad.dump();
    }
    auto r = check_schema(json{{"type", "bogus"}});
    EXPECT_EQ(r.error().message(),
              "not a valid draft-07 JSON Schema: Unrecognised JSON type name 'bogus'");
    EXPECT_TRUE(check_schema(json(true)));
    EXPECT_TRUE(check_schema(json::object()));
}

TEST(SchemaValidate, DeepSchemasAndValuesAreRefused) {
    json deep = json::object();
    json* at = &deep;
    for (int i = 0; i < 100; ++i) at = &((*at)["not"] = json::object());
    auto r = check_schema(deep);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "schema nested deeper than 64 levels");

    json value = json::array();
    json* v = &value;
    for (int i = 0; i < 300; ++i) v = &v->emplace_back(json::array());
    EXPECT_EQ(problems(json::object(), value),
              (std::vector<std::string>{"nested deeper than 256 levels"}));
}

TEST(SchemaValidate, CompiledSchemasAreCached) {
    json schema{{"type", "object"}, {"title", "cache-probe"}};
    ASSERT_TRUE(validate_against_schema(schema, json::object()));
    const std::size_t after_first = schema_cache_size();
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(validate_against_schema(schema, json::object()));
    EXPECT_EQ(schema_cache_size(), after_first);
    EXPECT_GE(after_first, 1u);
}

}  // namespace
}  // namespace orchagent::manifest

namespace orchagent::manifest {
namespace {

TEST(SchemaPatterns, ComplexPatternsAreRefusedAtCompileTime) {
    const auto compiles = [](const std::string& pattern) {
        return check_schema(nlohmann::json{{"type", "string"}, {"pattern", pattern}}).has_value();
    };
    EXPECT_TRUE(compiles("^https://[a-z.]+(/[^ ]*)?$"));
    EXPECT_TRUE(compiles("^((((a))))$"));
    EXPECT_FALSE(compiles("^(((((a)))))$"));
    EXPECT_TRUE(compiles("^a{1,100}$"));
    EXPECT_FALSE(compiles("^a{1,101}$"));
    EXPECT_FALSE(compiles("^(a{100}){1000}$"));
    EXPECT_TRUE(compiles("^\\(\\(\\(\\(\\(a$"));  // escaped parentheses are not groups
    EXPECT_FALSE(compiles(std::string(513, 'a')));
    auto r = check_schema(nlohmann::json{{"patternProperties", {{"^(((((x)))))$", {}}}}});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(),
              "not a valid draft-07 JSON Schema: pattern '^(((((x)))))$': groups nested deeper "
              "than 4");
    // Patterns inside data keywords are data, not patterns.
    EXPECT_TRUE(check_schema(nlohmann::json{{"enum", {{{"pattern", "(("}}}}}));
}

TEST(SchemaPatterns, LongSubjectsSkipPatternsInsteadOfCrashing) {
    const nlohmann::json schema = nlohmann::json::parse(R"({
      "type": "object",
      "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}, "n": {"type": "integer"}},
      "patternProperties": {"^x-": {"type": "string"}},
      "additionalProperties": false
    })");
    bool skipped = true;
    auto short_ok = validate_against_schema(schema, {{"id", "abc"}}, &skipped);
    ASSERT_TRUE(short_ok);
    EXPECT_TRUE(short_ok->empty());
    EXPECT_FALSE(skipped);
    auto short_bad = validate_against_schema(schema, {{"id", "ABC"}}, &skipped);
    EXPECT_EQ(short_bad->size(), 1u);
    EXPECT_FALSE(skipped);
    // 1 MB would overflow std::regex's recursion; patterns are skipped, the rest still holds.
    auto long_value =
        validate_against_schema(schema, {{"id", std::string(1 << 20, 'a')}, {"n", "x"}}, &skipped);
    ASSERT_TRUE(long_value);
    EXPECT_TRUE(skipped);
    ASSERT_EQ(long_value->size(), 1u);
    EXPECT_EQ((*long_value)[0].path, "n");
    // Without patterns in the schema nothing is skipped.
    auto plain = validate_against_schema(nlohmann::json{{"type", "object"}},
                                         {{"id", std::string(1 << 20, 'a')}}, &skipped);
    ASSERT_TRUE(plain);
    EXPECT_FALSE(skipped);
}

}  // namespace
}  // namespace orchagent::manifest
