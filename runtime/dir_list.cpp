#include "runtime/dir_list.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <memory>

namespace orchagent::runtime {
namespace {

struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

Result<std::vector<std::string>> list_dir(int dir_fd, const std::string& shown) {
    // A fresh fd: fdopendir takes ownership and reads from the fd's offset.
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno("open", shown);
    std::unique_ptr<DIR, DirCloser> dir(::fdopendir(fd));
    if (!dir) {
        int err = errno;
        ::close(fd);
        return fail_errno("fdopendir", shown, err);
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* ent = ::readdir(dir.get())) {
        std::string name = ent->d_name;
        if (name != "." && name != "..") names.push_back(std::move(name));
    }
    if (errno != 0) return fail_errno("readdir", shown);
    return names;
}

}  // namespace orchagent::runtime
