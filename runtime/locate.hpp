// Where the installed or built pieces are: the default image, the unpack helper, and the
// host id range a process's jails use. Shared by orchagent and orchagentd.
#pragma once

#include <cstdint>
#include <string>

namespace orchagent::runtime {

// images/host.yaml beside the binary's tree (a build tree, or <prefix>/share/orchagent);
// $ORCHAGENT_IMAGE wins.
std::string find_image();
// orchagent-unpack beside the binary (or in ../runtime, ../libexec/orchagent);
// $ORCHAGENT_UNPACK wins.
std::string find_unpack_helper();
// Host ids for one of this process's jail slots (`which` < 2): above `orchagent jail`'s
// range (2^30..2^31) and derived from the pid, so concurrent processes do not share them.
uint32_t host_base_for(uint32_t which);

}  // namespace orchagent::runtime
