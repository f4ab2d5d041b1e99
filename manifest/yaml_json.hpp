// orchagent.yaml -> JSON, so that one validator handles both (valijson's yaml-cpp adapter does
// not compile here).
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "core/error.hpp"

namespace orchagent::manifest {

// Parses one YAML document into JSON. Plain scalars resolve as YAML 1.2's core schema (null,
// true/false, integers, floats), quoted scalars stay strings; mapping keys must be scalars.
// Nesting deeper than `max_depth` or more than `max_nodes` nodes after alias expansion fail
// with INVALID_INPUT, as do syntax errors (with line and column).
Result<nlohmann::json> yaml_to_json(std::string_view text, int max_depth = 64,
                                    std::size_t max_nodes = 100000);

}  // namespace orchagent::manifest
