// Network namespace: the jail gets a fresh one with only a loopback interface, brought up
// here so that programs binding 127.0.0.1 inside work. Nothing routes out.
#include <net/if.h>
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

}  // namespace orchagent::sandbox
