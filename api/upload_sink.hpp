// The ready-made MultipartSink for uploads: file parts stream to disk, other parts are kept
// in memory as form fields.
//
// A part is a file when its name is one of the file field names, whether or not it carries a
// filename. It is written to a new file named by its part index ("0", "3", ...) created with
// openat(dir, O_CREAT|O_EXCL|O_NOFOLLOW) in the borrowed directory: never a name from the
// client. Any other part is a field, at most max_field_bytes (kDocumentTooLarge beyond);
// a field name sent twice is kInvalidInput. On any error the files already written stay:
// the caller owns the directory and removes it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/multipart.hpp"
#include "core/unique_fd.hpp"

namespace orchagent::api {

struct UploadedFile {
    std::string field;          // the part's name, e.g. "file" or "files[]"
    std::string original_name;  // the filename as sent (filename* decoded), may be empty
    std::string content_type;
    std::string stored_name;  // the file's name in the upload directory
    std::uint64_t size_bytes = 0;
};

class UploadSink : public MultipartSink {
  public:
    using FieldNames = std::set<std::string, std::less<>>;
    using Fields = std::map<std::string, std::string, std::less<>>;

    // `dir_fd` is borrowed and must stay open while parts arrive.
    UploadSink(int dir_fd, FieldNames file_fields,
               std::size_t max_field_bytes = MultipartLimits{}.max_field_bytes);

    Result<void> on_part_begin(const PartHead& head) override;
    Result<void> on_part_data(std::string_view data) override;
    Result<void> on_part_end() override;

    // In part order; the last one may be incomplete after an error.
    const std::vector<UploadedFile>& files() const { return files_; }
    const Fields& fields() const { return fields_; }

  private:
    int dir_fd_;
    FieldNames file_fields_;
    std::size_t max_field_bytes_;
    std::vector<UploadedFile> files_;
    Fields fields_;
    UniqueFd out_;                  // the file part being written
    std::string* field_ = nullptr;  // the field part being collected
    std::string_view field_name_;   // its name, for messages (a key of fields_)
};

}  // namespace orchagent::api
