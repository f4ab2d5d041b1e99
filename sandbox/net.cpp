// Network namespace: only a loopback interface, up, so that programs binding 127.0.0.1
// inside work; nothing routes out. A root launcher keeps one per slot (made once, see
// SlotNamespaces in userns.cpp: a new network namespace costs ~0.55 ms here) and the child
// joins it; an unprivileged launcher makes a fresh one at clone and brings lo up here.
//
// The loopback listener (JailSpec::listener) is the one way in: the child makes a listening
// socket inside the run's namespace and passes it to the parent with SCM_RIGHTS before the
// program runs, so the program can connect to it but never holds the listening end.
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
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

int child_make_listener(const ChildPlan& plan) noexcept {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    int err = 0;
    // A root launcher's slot namespace outlives runs: connections of the previous run may
    // still be in TIME_WAIT on this port.
    const int one = 1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(plan.listener_port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, plan.listener_backlog) != 0) {
        err = errno;
    } else {
        char byte = 'L';
        iovec iov{&byte, 1};
        alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
        msghdr msg{};
        msg.msg_iov = &iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control;
        msg.msg_controllen = sizeof control;
        cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
        ssize_t n;
        do {
            n = ::sendmsg(plan.listener_channel_fd, &msg, MSG_NOSIGNAL);
        } while (n < 0 && errno == EINTR);
        if (n != 1) err = n < 0 ? errno : EIO;
    }
    // Our copy goes now: the program must never hold the listening end.
    ::close(fd);
    return err;
}

Result<UniqueFd> receive_listener(int channel_fd) {
    char byte = 0;
    iovec iov{&byte, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do {
        n = ::recvmsg(channel_fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return fail_errno("recvmsg", "jail listener channel");
    UniqueFd fd;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int))) {
            int received = -1;
            std::memcpy(&received, CMSG_DATA(c), sizeof received);
            fd.reset(received);
        }
    }
    if (n != 1 || !fd || (msg.msg_flags & MSG_CTRUNC) != 0) {
        return fail_errno("recvmsg", "jail listener channel", EPROTO);
    }
    return fd;
}

}  // namespace orchagent::sandbox
