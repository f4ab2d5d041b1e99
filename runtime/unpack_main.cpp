// orchagent-unpack: extracts the bundle on stdin into the current folder (runtime/unpack.hpp)
// and prints one JSON line. Run by the runtime inside the jail, never as root on the host:
//
//   orchagent-unpack [--max-entries N] [--max-bytes N] [--max-ratio N] < bundle
//
// Exit 0: {"files": N, "bytes": B}. Exit 1: {"error": {"code": "INVALID_INPUT", ...}}, the
// bundle was refused. Exit 2: bad flags or no usable current folder (a caller bug).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/unpack.hpp"

namespace {

void print_line(const std::string& text) {
    std::string line = text + "\n";
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDOUT_FILENO, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        p += n;
        left -= static_cast<size_t>(n);
    }
}

int usage_error(const std::string& message) {
    // The message is ASCII we wrote (flags are sanitized by parse_unpack_flags).
    print_line(fmt::format(
        R"({{"error": {{"code": "INTERNAL_ERROR", "message": "orchagent-unpack: {}"}}}})",
        message));
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    // A file over RLIMIT_FSIZE must fail with EFBIG and be reported, not kill us.
    std::signal(SIGXFSZ, SIG_IGN);
    std::vector<std::string> args(argv + 1, argv + argc);
    auto limits = orchagent::runtime::parse_unpack_flags(args);
    if (!limits) return usage_error(limits.error());
    int root = ::open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return usage_error(fmt::format("open '.': {}", std::strerror(errno)));
    auto result = orchagent::runtime::unpack_archive(STDIN_FILENO, root, *limits);
    ::close(root);
    print_line(orchagent::runtime::unpack_result_json(result));
    return result ? 0 : 1;
}
