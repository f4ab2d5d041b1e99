#include "api/upload_sink.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace orchagent::api {

UploadSink::UploadSink(int dir_fd, FieldNames file_fields, std::size_t max_field_bytes)
    : dir_fd_(dir_fd), file_fields_(std::move(file_fields)), max_field_bytes_(max_field_bytes) {}

Result<void> UploadSink::on_part_begin(const PartHead& head) {
    if (!file_fields_.contains(head.name)) {
        auto [it, inserted] = fields_.try_emplace(head.name);
        if (!inserted) {
            return fail(
                ErrorCode::kInvalidInput,
                fmt::format("multipart: part {}: repeated field '{}'", head.index, head.name));
        }
        field_ = &it->second;
        field_name_ = it->first;
        return {};
    }
    std::string stored = std::to_string(head.index);
    UniqueFd fd(::openat(dir_fd_, stored.c_str(),
                         O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) return fail_errno("openat", stored);
    out_ = std::move(fd);
    files_.push_back(UploadedFile{.field = head.name,
                                  .original_name = head.filename.value_or(""),
                                  .content_type = head.content_type,
                                  .stored_name = std::move(stored)});
    return {};
}

Result<void> UploadSink::on_part_data(std::string_view data) {
    if (field_ != nullptr) {
        if (data.size() > max_field_bytes_ - field_->size()) {
            return fail(ErrorCode::kDocumentTooLarge,
                        fmt::format("multipart: field '{}' exceeds {} bytes", field_name_,
                                    max_field_bytes_));
        }
        field_->append(data);
        return {};
    }
    if (!out_) return fail(ErrorCode::kInternalError, "multipart: part data outside a part");
    UploadedFile& file = files_.back();
    while (!data.empty()) {
        const ssize_t n = ::write(out_.get(), data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            // A full disk is the server's state, not the client's fault: worth a retry later.
            const bool full = errno == ENOSPC || errno == EDQUOT;
            return fail_errno("write", file.stored_name, errno,
                              full ? ErrorCode::kServiceUnavailable : ErrorCode::kInternalError);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
        file.size_bytes += static_cast<std::uint64_t>(n);
    }
    return {};
}

Result<void> UploadSink::on_part_end() {
    if (field_ != nullptr) {
        field_ = nullptr;
        field_name_ = {};
        return {};
    }
    if (!out_) return fail(ErrorCode::kInternalError, "multipart: part end outside a part");
    // close() reports delayed write errors on some file systems: check it, not just drop it.
    // EINTR is no failure: Linux has closed the descriptor by then.
    if (::close(out_.release()) != 0 && errno != EINTR) {
        return fail_errno("close", files_.back().stored_name);
    }
    return {};
}

}  // namespace orchagent::api
