// `orchagent jail`: runs one command in the jail with an image and prints what the jail
// measured. For operators checking a host and for authors who want a shell in the jail.
#pragma once

#include <CLI/CLI.hpp>

namespace orchagent::cli {

void add_jail_command(CLI::App& app, int& exit_code);

}  // namespace orchagent::cli
