// `orchagent run`, `orchagent bundle`, `orchagent validate` (CONTRACT.md section 1).
#pragma once

#include <CLI/CLI.hpp>

namespace orchagent::cli {

void add_agent_commands(CLI::App& app, int& exit_code);

}  // namespace orchagent::cli
