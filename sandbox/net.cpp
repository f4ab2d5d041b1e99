// Network namespace: only a loopback interface, up, so that programs binding 127.0.0.1
// inside work; nothing routes out. A root launcher keeps one per slot (made once, see
// SlotNamespaces in userns.cpp: a new network namespace costs ~0.55 ms here) and the child
// joins it; an unprivileged launcher makes a fresh one at clone and brings lo up here.
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "sandbox/steps.hpp"

namespace orchagent::sandbox {

int child_loopback_up() noexcept {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    ifreq req{};
    std::memcpy(req.ifr_name, "lo", 3);
    int err = 0;
    if (::ioctl(fd, SIOCGIFFLAGS, &req) != 0) {
        err = errno;
    } else {
        req.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (::ioctl(fd, SIOCSIFFLAGS, &req) != 0) err = errno;
    }
    ::close(fd);
    return err;
}

int child_join_slot_net(const ChildPlan& plan) noexcept {
    return ::setns(plan.slot_net_ns, CLONE_NEWNET) == 0 ? 0 : errno;
}

}  // namespace orchagent::sandbox
