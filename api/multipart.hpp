// A streaming multipart/form-data parser (RFC 7578 over RFC 2046). Bytes are pushed in with
// feed() in chunks of any size; part data reaches the sink as it streams and is never
// accumulated, so memory stays bounded whatever the body size.
//
// Decisions a caller must know:
//  - Line ends are CRLF only, everywhere: after a boundary, inside a part head, before the next
//    boundary. A bare LF (or bare CR) in a head is an error rather than tolerated, so that this
//    parser and any other reading the same bytes cannot disagree on where a part starts.
//  - A delimiter is CRLF "--" boundary, as RFC 2046 defines it. The boundary text inside data
//    without the CRLF before it is data. A delimiter must be followed by "--" (the close) or
//    by optional spaces/tabs and CRLF; anything else is an error (RFC 2046 forbids the
//    delimiter inside a part, so such a body is malformed, not data).
//  - The body may open with the first boundary or with a preamble; both are accepted. A body
//    with the close delimiter only (zero parts, what browsers send for an empty FormData) is
//    accepted. Everything after the close delimiter is epilogue, ignored but still counted in
//    max_total_bytes.
//  - Header folding (a line starting with a space or tab) is an error. Control characters
//    other than HTAB in a head (NUL included) are an error. Headers other than
//    Content-Disposition and Content-Type are ignored (Content-Transfer-Encoding included:
//    RFC 7578 section 4.7 deprecates it and no browser sends it).
//  - Content-Disposition must be form-data with a non-empty name. Quoted strings take
//    backslash escapes (\" is a quote, \\ a backslash). filename*=UTF-8''... (RFC 5987,
//    UTF-8 only, percent-decoded, must be valid UTF-8 without control characters) wins over
//    filename. A filename parameter present but empty gives filename == "" (a file input
//    with no file chosen), absent gives nullopt. Filenames are recorded, never used as paths.
//  - Error codes: byte-size limits on content (max_total_bytes) give kDocumentTooLarge;
//    structural limits (parts, head, name and filename lengths) and malformed input give
//    kInvalidInput. Part numbers in messages are PartHead::index (0-based).
//  - max_field_bytes is not enforced here: only the sink knows which parts are files (a part
//    named "file" without a filename is still a file to UploadSink). UploadSink enforces it.
//  - An error is sticky: once feed() or finish() failed, every later call returns that error.
//    Results do not depend on how the body is split into chunks; only the sizes of the
//    on_part_data() pieces do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace orchagent::api {

// The boundary of a Content-Type of "multipart/form-data; boundary=..." (type and parameter
// names case-insensitive, boundary quoted or not, 1-70 RFC 2046 bchars, not ending in space).
// Another media type is kUnsupportedType (415); a missing or invalid boundary kInvalidInput.
Result<std::string> multipart_boundary(std::string_view content_type);

struct MultipartLimits {
    std::size_t max_parts = 64;
    std::size_t max_head_bytes = 8192;      // one part's header block, its CRLFs included
    std::size_t max_name_bytes = 256;       // the name parameter, after unquoting
    std::size_t max_filename_bytes = 1024;  // filename / filename* as sent, after unquoting
    std::uint64_t max_total_bytes = 26'214'400 + 1'048'576;  // 25 MiB of files + overhead
    std::size_t max_field_bytes = 1'048'576;                 // a non-file part (see above)
};

struct PartHead {
    std::string name;
    std::optional<std::string> filename;
    // As sent (trimmed); text/plain when absent without a filename,
    // application/octet-stream when absent with one.
    std::string content_type;
    std::size_t index = 0;  // 0-based position of the part in the body
};

// Receives the parse. Every call is made in order: begin, data* (possibly none, in pieces of
// any size), end. An error returned from any of them stops the parse and is returned by the
// feed() that made the call.
class MultipartSink {
  public:
    virtual ~MultipartSink() = default;
    virtual Result<void> on_part_begin(const PartHead& head) = 0;
    virtual Result<void> on_part_data(std::string_view data) = 0;
    virtual Result<void> on_part_end() = 0;
};

class MultipartParser {
  public:
    // `boundary` as returned by multipart_boundary(); the sink is borrowed and must outlive
    // the parser.
    MultipartParser(std::string boundary, MultipartLimits limits, MultipartSink& sink);
    MultipartParser(const MultipartParser&) = delete;
    MultipartParser& operator=(const MultipartParser&) = delete;

    // Pushes the next bytes of the body (any size, empty included).
    Result<void> feed(std::string_view chunk);
    // The body has ended: an error unless the close delimiter was seen.
    Result<void> finish();

    // Bytes held between feeds: a partial delimiter (< boundary length + 4) or a partial
    // part head (<= max_head_bytes + 2). Exposed so tests can check memory stays bounded.
    std::size_t buffered_bytes() const { return carry_.size() + head_.size(); }
    std::size_t parts() const { return parts_; }
    std::uint64_t bytes_fed() const { return total_; }

  private:
    enum class State {
        kPreamble,       // before the first delimiter: discarded
        kAfterBoundary,  // just past a delimiter: "--" or padding then CRLF
        kCloseDash,      // saw one '-' of the close delimiter
        kPadding,        // transport padding (spaces/tabs) before CRLF
        kBoundaryLf,     // saw the CR after a delimiter
        kHead,           // a part's header block
        kBody,           // a part's data
        kEpilogue,       // after the close delimiter: ignored
        kFinished,       // finish() succeeded
    };

    Result<void> run(std::string_view in);
    Result<std::size_t> scan_delimiter(std::string_view in, bool& found);
    Result<void> emit(std::string_view data);
    Result<std::size_t> take_head(std::string_view in);
    Result<void> begin_part(std::string_view lines);
    Result<std::size_t> take_boundary_tail(std::string_view in);

    std::string delimiter_;  // CRLF "--" boundary
    MultipartLimits limits_;
    MultipartSink& sink_;
    State state_ = State::kPreamble;
    // A proper prefix of delimiter_ seen at the end of the last chunk; it starts as CRLF so
    // that a body opening directly with "--boundary" matches like any later delimiter.
    std::string carry_;
    std::string head_;  // the current part's head, prefixed with the CRLF that ended the
                        // boundary line so that an empty head is found by the same search
    std::size_t parts_ = 0;
    std::uint64_t total_ = 0;
    std::optional<Error> error_;
};

}  // namespace orchagent::api
