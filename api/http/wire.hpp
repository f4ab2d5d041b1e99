// HTTP/1.1 on the wire: the request head, chunked bodies, and the response bytes. Pistache's
// own parser cannot be used for this (docs/http.md: its onInput is private, it drops the
// bytes of a second pipelined request, mis-splits chunks and reads a whole oversize body
// before refusing it), so the server reads requests with these functions and hands Pistache
// finished response bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http/types.hpp"
#include "core/error.hpp"

namespace orchagent::http::wire {

inline constexpr size_t kMaxHead = 16 * 1024;  // request line + headers
inline constexpr size_t kMaxPath = 2048;       // raw path, before decoding
inline constexpr size_t kMaxHeaders = 128;

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct Head {
    std::string method;
    bool http10 = false;
    std::string path;       // percent-decoded
    std::string raw_query;  // after '?', as sent
    Pairs query;            // decoded ('+' is a space)
    Pairs headers;          // names lower-cased, values without surrounding blanks
    std::optional<uint64_t> content_length;
    bool chunked = false;
    bool expect_continue = false;
    bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; 1.0 only if asked for
};

// A complete head: request line, header lines, and the empty line, CRLF-terminated.
// Errors are INVALID_INPUT (400), or DOCUMENT_TOO_LARGE (413) for a Content-Length beyond
// 2^63.
Result<Head> parse_head(std::string_view head);

// "/a%20b" -> "/a b". Refuses bad escapes, NUL, "." and ".." segments and paths not
// starting with '/'.
Result<std::string> decode_path(std::string_view raw);
// "a=1&b=x+y" -> {{"a","1"},{"b","x y"}}; empty pairs are skipped.
Result<Pairs> decode_query(std::string_view raw);

// Reads a chunked body as it streams, refusing it as soon as it would pass `limit` bytes.
class ChunkedDecoder {
  public:
    enum class Status { kMore, kDone, kTooLarge, kMalformed };

    explicit ChunkedDecoder(uint64_t limit) : limit_(limit) {}
    // Consumes bytes from the front of `data` (stopping after the last chunk and trailers)
    // and appends the payload to `out` when not null.
    Status feed(std::string_view& data, std::string* out);
    uint64_t total() const { return total_; }

  private:
    enum class State { kSize, kData, kDataEnd, kTrailer, kDone };
    Status size_line(std::string_view line);

    uint64_t limit_;
    uint64_t total_ = 0;
    uint64_t remaining_ = 0;  // bytes left in the current chunk
    State state_ = State::kSize;
    std::string line_;  // a size or trailer line in progress
    size_t trailer_bytes_ = 0;
};

struct Framing {
    bool close = false;          // send "Connection: close"
    bool keep_alive_10 = false;  // HTTP/1.0 client asked for keep-alive: say so
    bool head_only = false;      // HEAD: headers (with the body's length) but no body
};

// The bytes of a response. Headers that carry framing (Content-Length, Transfer-Encoding,
// Connection) or that would break the head (CR, LF, NUL, bad names) are dropped from
// response.headers: the server owns framing.
std::string serialize(const Response& response, std::string_view request_id,
                      const Framing& framing);

// "req_" + 24 lowercase hex characters (96 bits from a per-thread generator seeded from
// the OS: unique, not a secret).
std::string new_request_id();

}  // namespace orchagent::http::wire
