#include "api/http/wire.hpp"

#include <fmt/format.h>
#include <pistache/http_defs.h>
#include <spdlog/spdlog.h>
#include <strings.h>
#include <sys/random.h>

#include <chrono>

#include "core/clock.hpp"

namespace orchagent::http::wire {
namespace {

// RFC 9110 tchar: what a method or header name may hold.
bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 &&
           std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (!is_tchar(c)) return false;
    }
    return true;
}

// A field value may hold visible characters, blanks and obs-text, never CR, LF, NUL or
// other controls.
bool is_field_value(std::string_view s) {
    for (unsigned char c : s) {
        if ((c < 0x20 && c != '\t') || c == 0x7f) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::unexpected<Error> invalid(std::string message) {
    return fail(ErrorCode::kInvalidInput, std::move(message));
}

// Percent-decodes `raw`, with '+' as a space when plus_is_space.
Result<std::string> percent_decode(std::string_view raw, bool plus_is_space) {
    std::string out;
    out.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '%') {
            if (i + 2 >= raw.size()) return invalid("truncated percent-escape");
            const int hi = hex_value(raw[i + 1]);
            const int lo = hex_value(raw[i + 2]);
            if (hi < 0 || lo < 0) return invalid("bad percent-escape");
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return out;
}

// Iterates the comma-separated elements of a list header, trimmed, skipping empty ones.
template <typename F>
void for_each_element(std::string_view value, F f) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view element = trim(value.substr(0, comma));
        if (!element.empty()) f(element);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

Result<void> parse_request_line(std::string_view line, Head& head, std::string_view& target) {
    const size_t sp1 = line.find(' ');
    const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
        return invalid("malformed request line");
    }
    const std::string_view method = line.substr(0, sp1);
    target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method) || method.size() > 32) return invalid("bad method");
    if (version == "HTTP/1.1") {
        head.http10 = false;
    } else if (version == "HTTP/1.0") {
        head.http10 = true;
    } else {
        return invalid("unsupported HTTP version (1.0 and 1.1 are served)");
    }
    if (target.empty()) return invalid("empty request target");
    for (unsigned char c : target) {
        if (c <= 0x20 || c == 0x7f) return invalid("control character in request target");
    }
    head.method = std::string(method);
    return {};
}

Result<void> parse_target(std::string_view target, Head& head) {
    // Absolute form ("http://host/path?q"): keep the path and query.
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() > scheme.size() && iequals(target.substr(0, scheme.size()), scheme)) {
            const size_t slash = target.find('/', scheme.size());
            const size_t query = target.find('?', scheme.size());
            if (slash == std::string_view::npos ||
                (query != std::string_view::npos && query < slash)) {
                target = query == std::string_view::npos ? "/" : target.substr(query);
                if (target.front() == '?') {
                    return invalid("absolute-form target without a path");
                }
            } else {
                target = target.substr(slash);
            }
            break;
        }
    }
    const size_t hash = target.find('#');
    if (hash != std::string_view::npos) target = target.substr(0, hash);
    const size_t q = target.find('?');
    const std::string_view raw_path = target.substr(0, q);
    if (raw_path.size() > kMaxPath) return invalid("path longer than 2048 bytes");
    auto path = decode_path(raw_path);
    if (!path) return std::unexpected(path.error());
    head.path = std::move(*path);
    if (q != std::string_view::npos) {
        head.raw_query = std::string(target.substr(q + 1));
        auto query = decode_query(head.raw_query);
        if (!query) return std::unexpected(query.error());
        head.query = std::move(*query);
    }
    return {};
}

Result<void> apply_framing_headers(Head& head) {
    bool has_host = false;
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool has_te = false;
    std::vector<std::string_view> codings;
    for (const auto& [name, value] : head.headers) {
        if (name == "content-length") {
            std::optional<uint64_t> seen;
            bool bad = false;
            bool huge = false;
            for_each_element(value, [&](std::string_view v) {
                uint64_t n = 0;
                for (char c : v) {
                    if (c < '0' || c > '9') {
                        bad = true;
                        return;
                    }
                    if (n > (uint64_t{1} << 59)) huge = true;
                    if (!huge) n = n * 10 + static_cast<uint64_t>(c - '0');
                }
                if (seen && *seen != n) bad = true;
                seen = n;
            });
            if (bad || !seen) return invalid("malformed or conflicting Content-Length");
            if (huge) return fail(ErrorCode::kDocumentTooLarge, "Content-Length too large");
            if (head.content_length && *head.content_length != *seen) {
                return invalid("conflicting Content-Length headers");
            }
            head.content_length = seen;
        } else if (name == "transfer-encoding") {
            has_te = true;
            for_each_element(value, [&](std::string_view v) { codings.push_back(v); });
        } else if (name == "host") {
            if (has_host) return invalid("more than one Host header");
            has_host = true;
        } else if (name == "connection") {
            for_each_element(value, [&](std::string_view v) {
                if (iequals(v, "close")) connection_close = true;
                if (iequals(v, "keep-alive")) connection_keep_alive = true;
            });
        } else if (name == "expect") {
            if (iequals(trim(value), "100-continue")) head.expect_continue = true;
        }
    }
    if (has_te) {
        // Only "chunked" alone: we do not decode other codings, and a body framed two ways
        // is how requests get smuggled past proxies.
        if (head.http10) return invalid("Transfer-Encoding in an HTTP/1.0 request");
        if (codings.size() != 1 || !iequals(codings[0], "chunked")) {
            return invalid("unsupported Transfer-Encoding (only chunked)");
        }
        if (head.content_length) return invalid("both Content-Length and Transfer-Encoding");
        head.chunked = true;
    }
    if (!head.http10 && !has_host) return invalid("HTTP/1.1 request without Host");
    head.keep_alive =
        head.http10 ? (connection_keep_alive && !connection_close) : !connection_close;
    if (head.http10) head.expect_continue = false;
    return {};
}

std::string_view reason_phrase(int status) {
    const char* text = Pistache::Http::codeString(static_cast<Pistache::Http::Code>(status));
    return text != nullptr && *text != '\0' ? std::string_view(text) : "Unknown";
}

// "Date:" changes once a second; each thread formats it once per second.
const std::string& http_date() {
    thread_local std::string cached;
    thread_local int64_t cached_second = -1;
    const int64_t now_ms = system_now_ms();
    if (now_ms / 1000 != cached_second) {
        cached_second = now_ms / 1000;
        cached = format_http_date(cached_second * 1000);
    }
    return cached;
}

bool framing_header(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
           iequals(name, "connection") || iequals(name, "x-request-id") || iequals(name, "date");
}

}  // namespace

Result<std::string> decode_path(std::string_view raw) {
    if (raw.empty() || raw.front() != '/') return invalid("path must start with '/'");
    auto decoded = percent_decode(raw, false);
    if (!decoded) return decoded;
    const std::string& path = *decoded;
    if (path.find('\0') != std::string::npos) return invalid("NUL in path");
    size_t start = 1;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        const std::string_view seg(path.data() + start, slash - start);
        if (seg == "." || seg == "..") return invalid("'.' or '..' segment in path");
        start = slash + 1;
    }
    return decoded;
}

Result<Pairs> decode_query(std::string_view raw) {
    Pairs out;
    while (!raw.empty()) {
        const size_t amp = raw.find('&');
        const std::string_view pair = raw.substr(0, amp);
        if (!pair.empty()) {
            const size_t eq = pair.find('=');
            auto key = percent_decode(pair.substr(0, eq), true);
            if (!key) return std::unexpected(key.error());
            std::string value;
            if (eq != std::string_view::npos) {
                auto v = percent_decode(pair.substr(eq + 1), true);
                if (!v) return std::unexpected(v.error());
                value = std::move(*v);
            }
            out.emplace_back(std::move(*key), std::move(value));
        }
        if (amp == std::string_view::npos) break;
        raw.remove_prefix(amp + 1);
    }
    return out;
}

Result<Head> parse_head(std::string_view text) {
    Head head;
    size_t eol = text.find("\r\n");
    if (eol == std::string_view::npos) return invalid("request line without CRLF");
    std::string_view target;
    if (auto r = parse_request_line(text.substr(0, eol), head, target); !r) {
        return std::unexpected(r.error());
    }
    text.remove_prefix(eol + 2);
    for (;;) {
        eol = text.find("\r\n");
        if (eol == std::string_view::npos) return invalid("header line without CRLF");
        const std::string_view line = text.substr(0, eol);
        text.remove_prefix(eol + 2);
        if (line.empty()) break;
        if (line.front() == ' ' || line.front() == '\t') {
            return invalid("folded header line");
        }
        const size_t colon = line.find(':');
        if (colon == std::string_view::npos) return invalid("header line without ':'");
        const std::string_view name = line.substr(0, colon);
        const std::string_view value = trim(line.substr(colon + 1));
        if (!is_token(name)) return invalid("bad header name");
        if (!is_field_value(value)) return invalid("control character in header value");
        if (head.headers.size() == kMaxHeaders) return invalid("too many headers");
        std::string lower(name);
        for (char& c : lower) {
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        }
        head.headers.emplace_back(std::move(lower), std::string(value));
    }
    if (auto r = parse_target(target, head); !r) return std::unexpected(r.error());
    if (auto r = apply_framing_headers(head); !r) return std::unexpected(r.error());
    return head;
}

ChunkedDecoder::Status ChunkedDecoder::size_line(std::string_view line) {
    // chunk-size [ BWS ";" extensions ]: extensions are ignored.
    size_t i = 0;
    uint64_t size = 0;
    while (i < line.size() && hex_value(line[i]) >= 0) {
        if (i == 15) return Status::kTooLarge;  // 16 hex digits is past any limit we allow
        size = size * 16 + static_cast<uint64_t>(hex_value(line[i]));
        ++i;
    }
    if (i == 0) return Status::kMalformed;
    std::string_view rest = trim(line.substr(i));
    if (!rest.empty() && rest.front() != ';') return Status::kMalformed;
    if (size > limit_ - total_) return Status::kTooLarge;
    remaining_ = size;
    state_ = size == 0 ? State::kTrailer : State::kData;
    return Status::kMore;
}

ChunkedDecoder::Status ChunkedDecoder::feed(std::string_view& data, std::string* out) {
    // Size and trailer lines are at most this long; chunk data is never buffered here.
    constexpr size_t kMaxLine = 4096;
    while (!data.empty()) {
        switch (state_) {
            case State::kData: {
                const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size()));
                if (out != nullptr) out->append(data.data(), n);
                data.remove_prefix(n);
                remaining_ -= n;
                total_ += n;
                if (remaining_ == 0) state_ = State::kDataEnd;
                break;
            }
            case State::kDataEnd: {
                // The CRLF after chunk data, possibly split over two reads.
                line_ += data.front();
                data.remove_prefix(1);
                if (line_.size() == 2) {
                    if (line_ != "\r\n") return Status::kMalformed;
                    line_.clear();
                    state_ = State::kSize;
                } else if (line_ != "\r") {
                    return Status::kMalformed;
                }
                break;
            }
            case State::kSize:
            case State::kTrailer: {
                const size_t lf = data.find('\n');
                const size_t take = lf == std::string_view::npos ? data.size() : lf + 1;
                if (line_.size() + take > kMaxLine) return Status::kMalformed;
                line_.append(data.data(), take);
                data.remove_prefix(take);
                if (lf == std::string_view::npos) break;
                if (line_.size() < 2 || line_[line_.size() - 2] != '\r') {
                    return Status::kMalformed;
                }
                const std::string line = line_.substr(0, line_.size() - 2);
                line_.clear();
                if (state_ == State::kSize) {
                    if (auto s = size_line(line); s != Status::kMore) return s;
                } else if (line.empty()) {
                    state_ = State::kDone;
                    return Status::kDone;
                } else {
                    trailer_bytes_ += line.size();
                    if (trailer_bytes_ > kMaxHead) return Status::kMalformed;
                }
                break;
            }
            case State::kDone:
                return Status::kDone;
        }
    }
    return state_ == State::kDone ? Status::kDone : Status::kMore;
}

std::string serialize(const Response& response, std::string_view request_id,
                      const Framing& framing) {
    const int status = response.status;
    // 1xx, 204 and 304 never carry a body (RFC 9110 6.4.1).
    const bool bodiless = status < 200 || status == 204 || status == 304;
    std::string out;
    out.reserve(192 + response.body.size());
    out +=
        fmt::format("HTTP/1.1 {} {}\r\nDate: {}\r\n", status, reason_phrase(status), http_date());
    if (!bodiless) {
        if (!response.content_type.empty() && is_field_value(response.content_type)) {
            out += "Content-Type: ";
            out += response.content_type;
            out += "\r\n";
        }
        out += fmt::format("Content-Length: {}\r\n", response.body.size());
    }
    out += "X-Request-Id: ";
    out += request_id;
    out += "\r\n";
    if (framing.close) {
        out += "Connection: close\r\n";
    } else if (framing.keep_alive_10) {
        out += "Connection: keep-alive\r\n";
    }
    for (const auto& [name, value] : response.headers) {
        if (!is_token(name) || !is_field_value(value)) {
            spdlog::warn("http: {} dropped response header with a bad name or value", request_id);
            continue;
        }
        if (framing_header(name)) continue;
        if (!response.content_type.empty() && iequals(name, "content-type")) continue;
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
    }
    out += "\r\n";
    if (!bodiless && !framing.head_only) out += response.body;
    return out;
}

std::string new_request_id() {
    // splitmix64 over a per-thread counter seeded from getrandom(): fast, and two threads
    // (or two processes) never share a sequence.
    thread_local uint64_t state = [] {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != sizeof seed) {
            seed =
                static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
        }
        return seed;
    }();
    auto next = [] {
        uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    };
    static constexpr char kHex[] = "0123456789abcdef";
    std::string id = "req_";
    id.resize(4 + 24);
    const uint64_t a = next();
    const uint64_t b = next();
    for (int i = 0; i < 16; ++i) id[4 + i] = kHex[(a >> (60 - 4 * i)) & 0xf];
    for (int i = 0; i < 8; ++i) id[20 + i] = kHex[(b >> (60 - 4 * i)) & 0xf];
    return id;
}

}  // namespace orchagent::http::wire
