// orchagentd: the daemon (HTTP front and worker in one process).
//   orchagentd [--config FILE] [--listen HOST:PORT] [--data-dir DIR] [--store URL]
//   orchagentd admin create-org SLUG [--name NAME] [--data-dir DIR] [--store URL]
//   orchagentd admin grant-credits SLUG CENTS [--data-dir DIR] [--store URL]
//   orchagentd routes
#include <CLI/CLI.hpp>
#include <iostream>

#include "api/daemon.hpp"

int main(int argc, char** argv) {
    using orchagent::api::DaemonConfig;
    CLI::App cli{"orchagentd: orchagent-compatible agent execution daemon"};
    cli.set_version_flag("--version", "orchagentd 0.1.0");

    std::string config_file, listen, data_dir, store, clock_offset_file, port_file;
    unsigned workers = 0;
    auto add_store_flags = [&](CLI::App* app) {
        app->add_option("--config", config_file, "YAML config file (flags win over it)");
        app->add_option("--data-dir", data_dir, "data folder (default ./var)");
        app->add_option("--store", store, "store URL (default sqlite://<data-dir>/orchagent.db)");
    };
    add_store_flags(&cli);
    cli.add_option("--listen", listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
    cli.add_option("--workers", workers, "handler threads (default 2 x cores)");
    cli.add_option("--clock-offset-file", clock_offset_file,
                   "tests only: a file holding seconds added to the clock");
    cli.add_option("--port-file", port_file, "write the bound port to this file");

    auto* admin = cli.add_subcommand("admin", "administration of the store");
    admin->require_subcommand(1);
    std::string slug, name;
    int64_t cents = 0;
    auto* create_org = admin->add_subcommand("create-org", "create an org with a key");
    create_org->add_option("SLUG", slug, "org slug")->required();
    create_org->add_option("--name", name, "display name (default: the slug)");
    add_store_flags(create_org);
    auto* grant = admin->add_subcommand("grant-credits", "add credits to an org");
    grant->add_option("SLUG", slug, "org slug")->required();
    grant->add_option("CENTS", cents, "amount in cents")->required();
    add_store_flags(grant);
    auto* routes = cli.add_subcommand("routes", "print the route table as JSON");

    CLI11_PARSE(cli, argc, argv);

    DaemonConfig config;
    if (!config_file.empty()) {
        if (auto r = orchagent::api::load_config_file(config_file, config); !r) {
            std::cerr << "orchagentd: " << r.error().message() << "\n";
            return 2;
        }
    }
    if (!listen.empty()) config.listen = listen;
    if (!data_dir.empty()) config.data_dir = data_dir;
    if (!store.empty()) config.store = store;
    if (workers) config.workers = workers;
    if (!clock_offset_file.empty()) config.clock_offset_file = clock_offset_file;
    if (!port_file.empty()) config.port_file = port_file;
    if (auto r = orchagent::api::finish_config(config); !r) {
        std::cerr << "orchagentd: " << r.error().message() << "\n";
        return 2;
    }

    if (*routes) return orchagent::api::print_routes();
    if (*create_org) return orchagent::api::admin_create_org(config, slug, name);
    if (*grant) return orchagent::api::admin_grant_credits(config, slug, cents);
    return orchagent::api::serve(config);
}
