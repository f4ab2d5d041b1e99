// Publishing the example agents of tests/agents/ to a running daemon, as the hosted CLI
// would: the manifest as JSON (POST /agents), then the bundle zip (POST /agents/{id}/upload).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "core/ids.hpp"
#include "tests/support/daemon.hpp"

namespace orchagent::testing {

// Publishes tests/agents/<name> (manifest + zip) under `as`, with changes to the manifest.
inline Json publish_example(const Daemon& d, const std::string& key, const std::string& name,
                            const std::string& as, Json changes = Json::object()) {
    const fs::path dir = fs::path(ORCHAGENT_SOURCE_DIR) / "tests/agents" / name;
    Json manifest = Json::parse(file_text(dir / "orchagent.json"));
    manifest["name"] = as;
    manifest.update(changes);
    Reply created = d.post_json("/agents", manifest, key);
    EXPECT_EQ(created.status, 201) << created.body;
    const std::string id = created.json()["agent"]["id"];
    const std::string zip = "/tmp/orchagent-calls-" + random_hex(4) + ".zip";
    command_output(std::string(ORCHAGENT_CLI_PATH) + " bundle " + dir.string() + " -o " + zip +
                   " 2>&1");
    Reply up = d.request("POST", "/agents/" + id + "/upload",
                         {.key = key, .body = file_text(zip), .content_type = "application/zip"});
    fs::remove(zip);
    EXPECT_EQ(up.status, 200) << up.body;
    return created.json()["agent"];
}


// Sets an agent's price (PUT /agents/{id}/pricing) as its owner.
inline void set_price(const Daemon& d, const std::string& key, const std::string& agent_id, int64_t cents) {
    Reply r = d.request("PUT", "/agents/" + agent_id + "/pricing",
                        {.key = key,
                         .body = Json{{"pricing_mode", cents > 0 ? "per_call" : "free"},
                                      {"price_per_call_cents", cents}}
                                     .dump()});
    EXPECT_EQ(r.status, 200) << r.body;
}

}  // namespace orchagent::testing
