#include "api/multipart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace orchagent::api {
namespace {

constexpr std::size_t kMaxBoundaryBytes = 70;  // RFC 2046 section 5.1.1

std::unexpected<Error> invalid(std::string message) {
    return fail(ErrorCode::kInvalidInput, "multipart: " + std::move(message));
}

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

// RFC 9110 tchar.
bool is_tchar(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool is_control(unsigned char c) { return (c < 0x20 && c != '\t') || c == 0x7f; }

// A byte of hostile input, printable in an error message whatever it is.
std::string describe(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u > 0x20 && u < 0x7f) return fmt::format("'{}'", c);
    return fmt::format("byte 0x{:02x}", u);
}

// RFC 2046 bchars: DIGIT / ALPHA / "'()+_,-./:=?" and space, never last. Returns what is
// wrong, or nothing.
std::optional<std::string> boundary_problem(std::string_view boundary) {
    if (boundary.empty() || boundary.size() > kMaxBoundaryBytes) {
        return fmt::format("boundary of {} bytes (must be 1-{})", boundary.size(),
                           kMaxBoundaryBytes);
    }
    for (char c : boundary) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') ||
                        (c != '\0' && std::strchr("'()+_,-./:=? ", c) != nullptr);
        if (!ok) return fmt::format("boundary contains {} (not an RFC 2046 bchar)", describe(c));
    }
    if (boundary.back() == ' ') return std::string("boundary ends with a space");
    return std::nullopt;
}

std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// `value *( OWS ";" OWS name "=" ( token / quoted-string ) )`, the shape shared by Content-Type
// and Content-Disposition. The value and parameter names come back lower-cased.
struct HeaderValue {
    std::string value;
    std::vector<std::pair<std::string, std::string>> params;
};

std::expected<HeaderValue, std::string> parse_header_value(std::string_view s) {
    HeaderValue out;
    std::size_t i = 0;
    const std::size_t n = s.size();
    const auto skip_ows = [&] {
        while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
    };
    skip_ows();
    while (i < n && (is_tchar(s[i]) || s[i] == '/')) out.value += ascii_lower(s[i++]);
    if (out.value.empty()) return std::unexpected(std::string("no value"));
    while (true) {
        skip_ows();
        if (i == n) break;
        if (s[i] != ';') return std::unexpected(fmt::format("unexpected {}", describe(s[i])));
        ++i;
        skip_ows();
        if (i == n) break;  // a trailing ';' is harmless
        std::string name;
        while (i < n && is_tchar(s[i])) name += ascii_lower(s[i++]);
        if (name.empty()) {
            return std::unexpected(
                fmt::format("unexpected {} where a parameter name belongs", describe(s[i])));
        }
        skip_ows();
        if (i == n || s[i] != '=') {
            return std::unexpected(fmt::format("parameter '{}' without '='", name));
        }
        ++i;
        skip_ows();
        std::string value;
        if (i < n && s[i] == '"') {
            ++i;
            bool closed = false;
            while (i < n) {
                const char c = s[i++];
                if (c == '"') {
                    closed = true;
                    break;
                }
                if (c == '\\') {
                    if (i == n) break;
                    value += s[i++];
                    continue;
                }
                if (is_control(static_cast<unsigned char>(c))) {
                    return std::unexpected(fmt::format("{} in parameter '{}'", describe(c), name));
                }
                value += c;
            }
            if (!closed) {
                return std::unexpected(
                    fmt::format("unterminated quoted string in parameter '{}'", name));
            }
        } else {
            // Tokens, read leniently: anything up to the next separator that is not a control
            // byte, so that unquoted boundaries with '/' or ':' still parse.
            while (i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t' && s[i] != '"') {
                if (is_control(static_cast<unsigned char>(s[i]))) {
                    return std::unexpected(
                        fmt::format("{} in parameter '{}'", describe(s[i]), name));
                }
                value += s[i++];
            }
            if (value.empty()) {
                return std::unexpected(fmt::format("parameter '{}' without a value", name));
            }
        }
        for (const auto& [seen, unused] : out.params) {
            if (seen == name) return std::unexpected(fmt::format("duplicate parameter '{}'", name));
        }
        out.params.emplace_back(std::move(name), std::move(value));
    }
    return out;
}

// Well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (i + len > s.size()) return false;
        for (std::size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 5987 ext-value: charset "'" [ language ] "'" value-chars, UTF-8 only.
std::expected<std::string, std::string> decode_ext_value(std::string_view v) {
    const std::size_t q1 = v.find('\'');
    const std::size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
    if (q2 == std::string_view::npos) {
        return std::unexpected(std::string("not charset'language'value"));
    }
    if (!iequals(v.substr(0, q1), "utf-8")) {
        return std::unexpected(
            fmt::format("charset '{}' not supported (UTF-8 only)", v.substr(0, q1)));
    }
    std::string out;
    const std::string_view enc = v.substr(q2 + 1);
    for (std::size_t i = 0; i < enc.size(); ++i) {
        if (enc[i] != '%') {
            out += enc[i];
            continue;
        }
        if (i + 2 >= enc.size()) {
            return std::unexpected(fmt::format("truncated percent escape at offset {}", i));
        }
        const int h = hex_value(enc[i + 1]);
        const int l = hex_value(enc[i + 2]);
        if (h < 0 || l < 0) {
            return std::unexpected(fmt::format("bad percent escape at offset {}", i));
        }
        out += static_cast<char>(h * 16 + l);
        i += 2;
    }
    if (!valid_utf8(out)) return std::unexpected(std::string("not valid UTF-8"));
    for (char c : out) {
        if (is_control(static_cast<unsigned char>(c)) || c == '\t') {
            return std::unexpected(fmt::format("decodes to control {}", describe(c)));
        }
    }
    return out;
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
    auto parsed = parse_header_value(content_type);
    if (!parsed) return invalid("Content-Type: " + parsed.error());
    if (parsed->value != "multipart/form-data") {
        std::string shown = parsed->value.substr(0, 100);
        return fail(ErrorCode::kUnsupportedType,
                    fmt::format("multipart: Content-Type '{}' is not multipart/form-data", shown));
    }
    for (auto& [name, value] : parsed->params) {
        if (name != "boundary") continue;
        if (auto problem = boundary_problem(value)) return invalid(*problem);
        return std::move(value);
    }
    return invalid("Content-Type without boundary");
}

MultipartParser::MultipartParser(std::string boundary, MultipartLimits limits, MultipartSink& sink)
    : delimiter_("\r\n--" + boundary), limits_(limits), sink_(sink), carry_("\r\n") {
    // The delimiter search relies on CR appearing only as the delimiter's first byte, which
    // only a valid boundary guarantees.
    if (auto problem = boundary_problem(boundary)) {
        error_ = Error(ErrorCode::kInvalidInput, "multipart: " + *problem);
    }
}

Result<void> MultipartParser::feed(std::string_view chunk) {
    if (error_) return std::unexpected(*error_);
    if (state_ == State::kFinished) {
        return fail(ErrorCode::kInternalError, "multipart: feed() after finish()");
    }
    // Parse up to the limit, then fail: the error and what the sink saw before it are then
    // the same however the body was split.
    const std::uint64_t room = limits_.max_total_bytes - total_;
    const bool over = chunk.size() > room;
    if (over) chunk = chunk.substr(0, room);
    total_ += chunk.size();
    if (auto ran = run(chunk); !ran) {
        error_ = ran.error();
        return ran;
    }
    if (over) {
        error_ = Error(ErrorCode::kDocumentTooLarge,
                       fmt::format("multipart: body exceeds {} bytes", limits_.max_total_bytes));
        return std::unexpected(*error_);
    }
    return {};
}

Result<void> MultipartParser::finish() {
    if (error_) return std::unexpected(*error_);
    switch (state_) {
        case State::kEpilogue:
        case State::kFinished:
            state_ = State::kFinished;
            return {};
        case State::kPreamble:
            error_ = Error(ErrorCode::kInvalidInput, "multipart: boundary not found in body");
            break;
        case State::kHead:
        case State::kBody:
            error_ = Error(ErrorCode::kInvalidInput,
                           fmt::format("multipart: part {}: body ends inside the part (missing "
                                       "closing boundary)",
                                       state_ == State::kHead ? parts_ : parts_ - 1));
            break;
        default:
            error_ = Error(ErrorCode::kInvalidInput, "multipart: missing closing boundary");
            break;
    }
    return std::unexpected(*error_);
}

Result<void> MultipartParser::run(std::string_view in) {
    while (!in.empty()) {
        Result<std::size_t> used = 0;
        switch (state_) {
            case State::kPreamble:
            case State::kBody: {
                bool found = false;
                used = scan_delimiter(in, found);
                if (used && found) {
                    if (state_ == State::kBody) {
                        if (auto ended = sink_.on_part_end(); !ended) return ended;
                    }
                    state_ = State::kAfterBoundary;
                }
                break;
            }
            case State::kAfterBoundary:
            case State::kCloseDash:
            case State::kPadding:
            case State::kBoundaryLf:
                used = take_boundary_tail(in);
                break;
            case State::kHead:
                used = take_head(in);
                break;
            case State::kEpilogue:
            case State::kFinished:
                return {};
        }
        if (!used) return std::unexpected(used.error());
        in.remove_prefix(*used);
    }
    return {};
}

Result<void> MultipartParser::emit(std::string_view data) {
    if (state_ != State::kBody || data.empty()) return {};  // the preamble is discarded
    return sink_.on_part_data(data);
}

// The hot loop. memchr finds each CR (SIMD in glibc); only there is the delimiter compared.
// CR is the delimiter's first byte and occurs nowhere else in it (bchars exclude CR), so a
// failed partial match can never hide the start of a real one: no KMP table is needed, and a
// partial match is the only thing ever carried between chunks.
Result<std::size_t> MultipartParser::scan_delimiter(std::string_view in, bool& found) {
    found = false;
    const std::string_view d = delimiter_;
    if (!carry_.empty()) {
        const std::size_t k = carry_.size();
        const std::size_t n = std::min(d.size() - k, in.size());
        if (std::memcmp(in.data(), d.data() + k, n) == 0) {
            if (k + n == d.size()) {
                carry_.clear();
                found = true;
            } else {
                carry_.append(in.data(), n);  // n == in.size(): still partial
            }
            return n;
        }
        // Not a delimiter after all: the carried bytes were data.
        const std::string held = std::exchange(carry_, std::string());
        if (auto sent = emit(held); !sent) return std::unexpected(sent.error());
    }
    const char* const begin = in.data();
    const char* const end = begin + in.size();
    const char* cur = begin;
    while (cur < end) {
        // Runs of CRs (hostile data) skip the call.
        const auto* cr =
            *cur == '\r' ? cur : static_cast<const char*>(std::memchr(cur, '\r', end - cur));
        if (cr == nullptr) break;
        const std::size_t n = std::min<std::size_t>(end - cr, d.size());
        // The fixed "\r\n--" inline, the boundary with memcmp.
        const std::size_t quick = std::min<std::size_t>(n, 4);
        std::size_t j = 1;
        while (j < quick && cr[j] == d[j]) ++j;
        if (j == quick && (n == quick || std::memcmp(cr + 4, d.data() + 4, n - 4) == 0)) {
            if (auto sent = emit({begin, cr}); !sent) return std::unexpected(sent.error());
            if (n == d.size()) {
                found = true;
                return static_cast<std::size_t>(cr - begin) + n;
            }
            carry_.assign(cr, n);
            return in.size();
        }
        cur = cr + j;  // cr[1..j) matched "\n--": no CR to revisit there
    }
    if (auto sent = emit(in); !sent) return std::unexpected(sent.error());
    return in.size();
}

// After a delimiter: "--" closes the body; optional transport padding then CRLF opens a part.
// One byte at a time: this runs for a handful of bytes per part.
Result<std::size_t> MultipartParser::take_boundary_tail(std::string_view in) {
    const char c = in.front();
    const auto not_crlf = [&] {
        return invalid(fmt::format("boundary before part {} followed by {} instead of CRLF", parts_,
                                   describe(c)));
    };
    switch (state_) {
        case State::kAfterBoundary:
            if (c == '-') {
                state_ = State::kCloseDash;
                return 1;
            }
            if (c == ' ' || c == '\t') {
                state_ = State::kPadding;
                return 1;
            }
            if (c == '\r') {
                state_ = State::kBoundaryLf;
                return 1;
            }
            return not_crlf();
        case State::kPadding:
            if (c == ' ' || c == '\t') return 1;
            if (c == '\r') {
                state_ = State::kBoundaryLf;
                return 1;
            }
            return not_crlf();
        case State::kCloseDash:
            if (c != '-') {
                return invalid(fmt::format(
                    "boundary before part {} followed by '-' and {} (\"--\" closes the body)",
                    parts_, describe(c)));
            }
            state_ = State::kEpilogue;
            return 1;
        case State::kBoundaryLf:
            if (c != '\n') return not_crlf();
            if (parts_ >= limits_.max_parts) {
                return invalid(fmt::format("more than {} parts", limits_.max_parts));
            }
            head_ = "\r\n";
            state_ = State::kHead;
            return 1;
        default:
            return fail(ErrorCode::kInternalError, "multipart: boundary tail in wrong state");
    }
}

// Collects the head up to its blank line, at most max_head_bytes. The search restarts 3
// bytes before the new data, so feeding byte by byte stays linear.
Result<std::size_t> MultipartParser::take_head(std::string_view in) {
    const std::size_t index = parts_;
    const std::size_t old = head_.size();
    const std::size_t cap = limits_.max_head_bytes + 2;  // + the CRLF prefix
    const std::size_t take = std::min(in.size(), cap - old);
    head_.append(in.data(), take);
    const std::size_t at = head_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
    const std::size_t end = at == std::string::npos ? head_.size() : at + 4;
    // Checked as bytes arrive, so that an LF-only client fails here with a clear message
    // instead of running into the head limit.
    for (std::size_t i = old; i < end; ++i) {
        const char c = head_[i];
        const char prev = head_[i - 1];  // i >= 2: head_ starts with CRLF
        if (prev == '\r' && c != '\n')
            return invalid(fmt::format("part {}: bare CR in head", index));
        if (c == '\n' && prev != '\r') {
            return invalid(fmt::format("part {}: bare LF in head (CRLF required)", index));
        }
        if (c != '\r' && c != '\n' && is_control(static_cast<unsigned char>(c))) {
            return invalid(fmt::format("part {}: control {} in head", index, describe(c)));
        }
    }
    if (at == std::string::npos) {
        if (head_.size() == cap) {
            return invalid(
                fmt::format("part {}: head over {} bytes", index, limits_.max_head_bytes));
        }
        return take;
    }
    head_.resize(end);
    auto begun = begin_part(std::string_view(head_).substr(2, at));
    head_.clear();
    if (!begun) return std::unexpected(begun.error());
    state_ = State::kBody;
    return end - old;
}

// `lines` is the header block, each line ending in CRLF, the blank line excluded.
Result<void> MultipartParser::begin_part(std::string_view lines) {
    PartHead head;
    head.index = parts_;
    const auto bad = [&](std::string_view what) {
        return invalid(fmt::format("part {}: {}", head.index, what));
    };
    std::optional<std::string_view> disposition;
    std::optional<std::string_view> content_type;
    while (!lines.empty()) {
        const std::size_t eol = lines.find("\r\n");
        const std::string_view line = lines.substr(0, eol);
        lines.remove_prefix(eol + 2);
        if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
            return bad("folded header line (not supported)");
        }
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) return bad("header line without ':'");
        const std::string_view name = line.substr(0, colon);
        if (name.empty() || !std::all_of(name.begin(), name.end(), is_tchar)) {
            return bad("invalid header name");
        }
        const std::string_view value = trim_ows(line.substr(colon + 1));
        if (iequals(name, "content-disposition")) {
            if (disposition) return bad("two Content-Disposition headers");
            disposition = value;
        } else if (iequals(name, "content-type")) {
            if (content_type) return bad("two Content-Type headers");
            content_type = value;
        }
    }
    if (!disposition) return bad("no Content-Disposition");
    auto parsed = parse_header_value(*disposition);
    if (!parsed) return bad("Content-Disposition: " + parsed.error());
    if (parsed->value != "form-data") return bad("Content-Disposition is not form-data");

    bool has_name = false;
    std::optional<std::string> filename;
    std::optional<std::string> filename_ext;
    for (auto& [key, value] : parsed->params) {
        if (key == "name") {
            if (value.size() > limits_.max_name_bytes) {
                return bad(fmt::format("name over {} bytes", limits_.max_name_bytes));
            }
            head.name = std::move(value);
            has_name = true;
        } else if (key == "filename" || key == "filename*") {
            if (value.size() > limits_.max_filename_bytes) {
                return bad(fmt::format("{} over {} bytes", key, limits_.max_filename_bytes));
            }
            if (key == "filename") {
                filename = std::move(value);
            } else {
                auto decoded = decode_ext_value(value);
                if (!decoded) return bad("filename*: " + decoded.error());
                filename_ext = std::move(*decoded);
            }
        }
    }
    if (!has_name) return bad("Content-Disposition without name");
    if (head.name.empty()) return bad("Content-Disposition with an empty name");
    head.filename = filename_ext ? std::move(filename_ext) : std::move(filename);
    if (content_type && !content_type->empty()) {
        head.content_type = *content_type;
    } else {
        head.content_type = head.filename ? "application/octet-stream" : "text/plain";
    }
    ++parts_;
    return sink_.on_part_begin(head);
}

}  // namespace orchagent::api
