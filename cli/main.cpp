#include <CLI/CLI.hpp>

#include "cli/agent_commands.hpp"
#include "cli/jail_command.hpp"

int main(int argc, char** argv) {
    CLI::App app{"orchagent: run, bundle and publish orchagent agents"};
    app.require_subcommand(1);
    int exit_code = 0;
    orchagent::cli::add_agent_commands(app, exit_code);
    orchagent::cli::add_jail_command(app, exit_code);
    CLI11_PARSE(app, argc, argv);
    return exit_code;
}
