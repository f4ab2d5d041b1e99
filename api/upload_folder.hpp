// A folder of its own for one upload in progress (a bundle, a call's files), removed with
// everything in it when the request is done.
#pragma once

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include <string>

#include "core/error.hpp"
#include "core/ids.hpp"
#include "core/unique_fd.hpp"
#include "runtime/bundle.hpp"

namespace orchagent::api {

class UploadFolder {
  public:
    static Result<UploadFolder> create(const std::string& parent) {
        std::string path = fmt::format("{}/upload-{}", parent, random_hex(8));
        if (::mkdir(path.c_str(), 0700) != 0) return fail_errno("mkdir", path);
        UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) return fail_errno("open", path);
        return UploadFolder(std::move(path), std::move(fd));
    }
    UploadFolder(UploadFolder&& other) noexcept
        : path_(std::move(other.path_)), fd_(std::move(other.fd_)) {
        other.path_.clear();
    }
    UploadFolder(const UploadFolder&) = delete;
    ~UploadFolder() {
        if (!path_.empty()) (void)runtime::remove_tree(path_);
    }
    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }

  private:
    UploadFolder(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    std::string path_;
    UniqueFd fd_;
};

}  // namespace orchagent::api
