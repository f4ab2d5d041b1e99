#include "core/unique_fd.hpp"

#include <unistd.h>

namespace orchagent {

void UniqueFd::reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
}

}  // namespace orchagent
