// The programs of orchagentd (api/main.cpp parses the command line and calls one).
#pragma once

#include <cstdint>
#include <string>

#include "api/config.hpp"

namespace orchagent::api {

// Serves HTTP until SIGTERM/SIGINT, then drains. Returns the exit status.
int serve(const DaemonConfig& config);
// Prints {"org": {...}, "workspace": {...}, "api_key": "sk_live_..."}.
int admin_create_org(const DaemonConfig& config, const std::string& slug, const std::string& name);
// Adds a `grant` transaction to the org's credits.
int admin_grant_credits(const DaemonConfig& config, const std::string& slug, int64_t cents);
// Prints the route table as JSON: [{"method", "pattern", "max_body_bytes"}].
int print_routes();

}  // namespace orchagent::api
