// Request's look-ups and body readers. Header names are stored lower-cased, so a
// case-insensitive compare against the caller's spelling is enough.
#include <fmt/format.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <span>

#include "api/http/types.hpp"

namespace orchagent::http {

std::optional<std::string_view> Request::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (key.size() == name.size() && strncasecmp(key.data(), name.data(), key.size()) == 0) {
            return std::string_view(value);
        }
    }
    return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
    for (const auto& [key, value] : query) {
        if (key == name) return std::string_view(value);
    }
    return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
    for (const auto& [key, value] : params) {
        if (key == name) return value;
    }
    return {};
}

namespace {

// Reads the spooled body from `offset` into `out` (at most out.size() bytes).
Result<size_t> read_at(const BodyFile& file, uint64_t offset, std::span<char> out) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), file.size - offset));
    for (;;) {
        const ssize_t n = ::pread(file.fd.get(), out.data(), want, static_cast<off_t>(offset));
        if (n > 0) return static_cast<size_t>(n);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("pread", "spooled request body");
        return fail(ErrorCode::kInternalError,
                    fmt::format("spooled request body: ends at {} of {} bytes", offset, file.size));
    }
}

}  // namespace

Result<void> Request::for_each_body_chunk(
    const std::function<Result<void>(std::string_view)>& chunk) const {
    if (!body_file) {
        for (size_t at = 0; at < body.size(); at += kBodyChunk) {
            if (auto r = chunk(std::string_view(body).substr(at, kBodyChunk)); !r) return r;
        }
        return {};
    }
    const BodyFile& file = *body_file;
    std::string buffer(static_cast<size_t>(std::min<uint64_t>(kBodyChunk, file.size)), '\0');
    for (uint64_t offset = 0; offset < file.size;) {
        auto n = read_at(file, offset, buffer);
        if (!n) return std::unexpected(n.error());
        offset += *n;
        if (auto r = chunk(std::string_view(buffer.data(), *n)); !r) return r;
    }
    return {};
}

Result<std::string> Request::body_text(uint64_t max) const {
    if (body_size() > max) {
        return fail(ErrorCode::kDocumentTooLarge,
                    fmt::format("request body of {} bytes is over the {} bytes this request may "
                                "carry",
                                body_size(), max));
    }
    if (!body_file) return body;
    std::string text(static_cast<size_t>(body_file->size), '\0');
    for (uint64_t offset = 0; offset < text.size();) {
        auto n = read_at(*body_file, offset,
                         std::span<char>(text.data() + offset, text.size() - offset));
        if (!n) return std::unexpected(n.error());
        offset += *n;
    }
    return text;
}

}  // namespace orchagent::http
