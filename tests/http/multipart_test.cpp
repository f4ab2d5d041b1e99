// The multipart/form-data parser: every feature, every limit, hostile bodies, a fixed-seed
// mutation fuzz, and the throughput figure. Most bodies are checked for split invariance:
// whole, byte by byte, and cut once at every position must give identical outcomes.
#include "api/multipart.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace orchagent::api {
namespace {

using namespace std::string_literals;

constexpr std::string_view kB = "XyZ-boundary-42";

struct Part {
    std::string name;
    std::optional<std::string> filename;
    std::string content_type;
    std::size_t index = 0;
    std::string data;
    bool ended = false;
    bool operator==(const Part&) const = default;
};

// Records the parse and checks the sink contract (begin, data*, end; never out of order).
class RecordingSink : public MultipartSink {
  public:
    std::vector<Part> parts;
    std::size_t data_calls = 0;
    // Fail on_part_begin for this index, to check sink errors stop the parse.
    std::optional<std::size_t> fail_at;

    Result<void> on_part_begin(const PartHead& head) override {
        EXPECT_TRUE(parts.empty() || parts.back().ended) << "begin inside a part";
        EXPECT_EQ(head.index, parts.size());
        if (fail_at == head.index) return fail(ErrorCode::kConflict, "sink says no");
        parts.push_back(Part{head.name, head.filename, head.content_type, head.index});
        return {};
    }
    Result<void> on_part_data(std::string_view data) override {
        EXPECT_FALSE(parts.empty() || parts.back().ended) << "data outside a part";
        EXPECT_FALSE(data.empty()) << "empty data call";
        if (!parts.empty()) parts.back().data.append(data);
        ++data_calls;
        return {};
    }
    Result<void> on_part_end() override {
        EXPECT_FALSE(parts.empty() || parts.back().ended) << "end outside a part";
        if (!parts.empty()) parts.back().ended = true;
        return {};
    }
};

struct Outcome {
    bool ok = true;
    ErrorCode code = ErrorCode::kInternalError;
    std::string message;
    std::vector<Part> parts;
    bool operator==(const Outcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Outcome& o) {
    os << (o.ok ? "ok" : "error: " + o.message) << ", " << o.parts.size() << " parts";
    for (const auto& p : o.parts) {
        os << "\n  [" << p.index << "] name=" << p.name
           << " filename=" << p.filename.value_or("<none>") << " type=" << p.content_type
           << " bytes=" << p.data.size() << (p.ended ? "" : " (open)");
    }
    return os;
}

Outcome parse_chunks(const std::vector<std::string_view>& chunks, MultipartLimits limits = {},
                     std::string_view boundary = kB) {
    RecordingSink sink;
    MultipartParser parser{std::string(boundary), limits, sink};
    Outcome out;
    Result<void> r;
    for (auto chunk : chunks) {
        r = parser.feed(chunk);
        if (!r) break;
    }
    if (r) r = parser.finish();
    if (!r) {
        out.ok = false;
        out.code = r.error().code();
        out.message = r.error().message();
    }
    out.parts = std::move(sink.parts);
    return out;
}

Outcome parse(std::string_view body, MultipartLimits limits = {}) {
    return parse_chunks({body}, limits);
}

// Parses whole, byte by byte and cut once at every position; all must agree.
Outcome parse_every_split(std::string_view body, MultipartLimits limits = {}) {
    const Outcome whole = parse(body, limits);
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < body.size(); ++i) bytes.push_back(body.substr(i, 1));
    EXPECT_EQ(parse_chunks(bytes, limits), whole) << "byte by byte differs";
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
        const Outcome split = parse_chunks({body.substr(0, cut), body.substr(cut)}, limits);
        EXPECT_EQ(split, whole) << "split at " << cut << " differs";
        if (split != whole) break;
    }
    return whole;
}

// Body builders. A part is "--B" CRLF head CRLF data CRLF; the CRLF after the data belongs
// to the next delimiter.
std::string part(std::string_view head, std::string_view data) {
    return "--"s + std::string(kB) + "\r\n" + std::string(head) + "\r\n" + std::string(data) +
           "\r\n";
}
std::string disposition(std::string_view params) {
    return "Content-Disposition: form-data; " + std::string(params) + "\r\n";
}
std::string field(std::string_view name, std::string_view value) {
    return part(disposition("name=\"" + std::string(name) + "\""), value);
}
std::string close_delimiter() { return "--"s + std::string(kB) + "--\r\n"; }

// splitmix64: a fixed, portable pseudo-random sequence for the fuzz and the test data.
struct Rng {
    std::uint64_t state;
    std::uint64_t operator()() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : (*this)() % n; }
};

std::string random_bytes(std::size_t n, std::uint64_t seed) {
    Rng rng{seed};
    std::string out(n, '\0');
    for (std::size_t i = 0; i < n; i += 8) {
        const std::uint64_t v = rng();
        for (std::size_t k = 0; k < 8 && i + k < n; ++k)
            out[i + k] = static_cast<char>(v >> (8 * k));
    }
    return out;
}

void expect_invalid(const Outcome& o, std::string_view message) {
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.code, ErrorCode::kInvalidInput) << o.message;
    EXPECT_EQ(o.message, message);
}

// ---- multipart_boundary ------------------------------------------------------------------

TEST(MultipartBoundary, Unquoted) {
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=abc-123").value(), "abc-123");
    EXPECT_EQ(multipart_boundary("multipart/form-data;boundary=a/b:c=d?").value(), "a/b:c=d?");
}

TEST(MultipartBoundary, QuotedWithSpacesAndSeparators) {
    EXPECT_EQ(multipart_boundary("multipart/form-data; boundary=\"a b,c:d()'\"").value(),
              "a b,c:d()'");
    // ';' is no bchar, even quoted.
    EXPECT_FALSE(multipart_boundary("multipart/form-data; boundary=\"a;b\""));
}

TEST(MultipartBoundary, TypeAndParameterNameAreCaseInsensitive) {
    EXPECT_EQ(multipart_boundary("Multipart/Form-Data; BOUNDARY=XyZ").value(), "XyZ");
}

TEST(MultipartBoundary, AmongOtherParameters) {
    EXPECT_EQ(
        multipart_boundary("multipart/form-data; charset=utf-8; boundary=q ; x=\"y\"").value(),
        "q");
}

TEST(MultipartBoundary, WrongTypeIsUnsupported) {
    auto r = multipart_boundary("application/json; boundary=abc");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kUnsupportedType);
    EXPECT_EQ(r.error().message(),
              "multipart: Content-Type 'application/json' is not multipart/form-data");
    EXPECT_FALSE(multipart_boundary("multipart/mixed; boundary=abc"));
    EXPECT_FALSE(multipart_boundary(""));
}

TEST(MultipartBoundary, MissingOrInvalid) {
    const auto message = [](std::string_view ct) {
        auto r = multipart_boundary(ct);
        EXPECT_FALSE(r) << ct;
        if (r) return std::string();
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput) << ct;
        return r.error().message();
    };
    EXPECT_EQ(message("multipart/form-data"), "multipart: Content-Type without boundary");
    EXPECT_EQ(message("multipart/form-data; boundary=\"\""),
              "multipart: boundary of 0 bytes (must be 1-70)");
    EXPECT_EQ(message("multipart/form-data; boundary=" + std::string(71, 'a')),
              "multipart: boundary of 71 bytes (must be 1-70)");
    EXPECT_EQ(message("multipart/form-data; boundary=a@b"),
              "multipart: boundary contains '@' (not an RFC 2046 bchar)");
    EXPECT_EQ(message("multipart/form-data; boundary=\"ab \""),
              "multipart: boundary ends with a space");
    EXPECT_EQ(message("multipart/form-data; boundary=\"abc"),
              "multipart: Content-Type: unterminated quoted string in parameter 'boundary'");
    EXPECT_EQ(message("multipart/form-data; boundary=a; boundary=b"),
              "multipart: Content-Type: duplicate parameter 'boundary'");
    EXPECT_EQ(message("multipart/form-data; boundary"),
              "multipart: Content-Type: parameter 'boundary' without '='");
    EXPECT_EQ(message("multipart/form-data; boundary=\"a\rb\""),
              "multipart: Content-Type: byte 0x0d in parameter 'boundary'");
    EXPECT_TRUE(multipart_boundary("multipart/form-data; boundary=" + std::string(70, 'a')));
}

// ---- features --------------------------------------------------------------------------

TEST(MultipartParser, FieldsAndFiles) {
    const std::string body = field("title", "hello world") +
                             part(disposition("name=\"file\"; filename=\"report.pdf\"") +
                                      "Content-Type: application/pdf\r\n",
                                  "%PDF-1.4 \0\x01\xff binary"s) +
                             close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    ASSERT_EQ(o.parts.size(), 2u);
    EXPECT_EQ(o.parts[0], (Part{"title", std::nullopt, "text/plain", 0, "hello world", true}));
    EXPECT_EQ(o.parts[1], (Part{"file", "report.pdf", "application/pdf", 1,
                                "%PDF-1.4 \0\x01\xff binary"s, true}));
}

TEST(MultipartParser, PreambleAndEpilogueAreIgnored) {
    const std::string body = "This is a preamble.\r\nIt ends here: --" + std::string(kB) +
                             " is not at a line start\r\n" + field("a", "1") + close_delimiter() +
                             "epilogue\r\n--" + std::string(kB) +
                             "\r\nContent-Disposition: bogus\r\n\r\n";
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    ASSERT_EQ(o.parts.size(), 1u);
    EXPECT_EQ(o.parts[0].data, "1");
}

TEST(MultipartParser, CloseDelimiterOnlyIsZeroParts) {
    EXPECT_EQ(parse_every_split(close_delimiter()), Outcome{});
    EXPECT_EQ(parse_every_split("--"s + std::string(kB) + "--"), Outcome{});
}

TEST(MultipartParser, ZeroByteParts) {
    const std::string body = field("empty", "") +
                             part(disposition("name=\"file\"; filename=\"e.bin\""), "") +
                             field("after", "x") + close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    ASSERT_EQ(o.parts.size(), 3u);
    EXPECT_EQ(o.parts[0].data, "");
    EXPECT_TRUE(o.parts[0].ended);
    EXPECT_EQ(o.parts[1].data, "");
    EXPECT_EQ(o.parts[2].data, "x");
}

TEST(MultipartParser, TransportPaddingAfterBoundary) {
    const std::string body = "--"s + std::string(kB) + " \t \r\n" + disposition("name=\"a\"") +
                             "\r\nv\r\n--" + std::string(kB) + "--  \r\n";
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).data, "v");
}

TEST(MultipartParser, QuotedStringsWithSemicolonsAndEscapes) {
    const std::string body =
        part(disposition(R"(name="a;b=\"c\""; filename="x\\y; \"z\".txt")"), "d") +
        close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).name, "a;b=\"c\"");
    EXPECT_EQ(o.parts.at(0).filename, "x\\y; \"z\".txt");
}

TEST(MultipartParser, UnquotedParametersAndOddSpacing) {
    const std::string body =
        part("content-disposition:form-data ;name=plain ;  filename = f.txt ;\r\n", "d") +
        close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).name, "plain");
    EXPECT_EQ(o.parts.at(0).filename, "f.txt");
}

TEST(MultipartParser, FilenameStarIsDecodedAndWins) {
    const std::string body =
        part(disposition("name=\"f\"; filename*=UTF-8''%e2%82%AC%20rates.txt; filename=\"x\""),
             "1") +
        part(disposition("name=\"g\"; filename*=utf-8'en'plain"), "2") + close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).filename, "\xe2\x82\xac rates.txt");
    EXPECT_EQ(o.parts.at(0).content_type, "application/octet-stream");
    EXPECT_EQ(o.parts.at(1).filename, "plain");
}

TEST(MultipartParser, FilenameStarErrors) {
    const auto one = [](std::string_view value) {
        return parse(part(disposition("name=\"f\"; filename*=" + std::string(value)), "") +
                     close_delimiter());
    };
    expect_invalid(one("ISO-8859-1''a"),
                   "multipart: part 0: filename*: charset 'ISO-8859-1' not supported (UTF-8 only)");
    expect_invalid(one("UTF-8''a%2"),
                   "multipart: part 0: filename*: truncated percent escape "
                   "at offset 1");
    expect_invalid(one("UTF-8''%zz"),
                   "multipart: part 0: filename*: bad percent escape at "
                   "offset 0");
    expect_invalid(one("UTF-8''%c0%af"), "multipart: part 0: filename*: not valid UTF-8");
    expect_invalid(one("UTF-8''a%00b"),
                   "multipart: part 0: filename*: decodes to control byte 0x00");
    expect_invalid(one("UTF-8-no-quotes"),
                   "multipart: part 0: filename*: not charset'language'value");
}

TEST(MultipartParser, EmptyFilenameIsPresentAbsentIsNot) {
    const std::string body = part(disposition("name=\"file\"; filename=\"\""), "") +
                             field("file2", "") + close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).filename, "");
    EXPECT_EQ(o.parts.at(0).content_type, "application/octet-stream");
    EXPECT_EQ(o.parts.at(1).filename, std::nullopt);
    EXPECT_EQ(o.parts.at(1).content_type, "text/plain");
}

TEST(MultipartParser, ContentTypeAsSentAndHeadersCaseInsensitive) {
    const std::string body =
        part(
            "X-Ignored: yes\r\nCONTENT-TYPE:   application/json; charset=utf-8  \r\n"
            "content-DISPOSITION: Form-Data; NAME=\"j\"\r\nContent-Transfer-Encoding: 8bit\r\n",
            "{}") +
        part(disposition("name=\"e\"") + "Content-Type:\r\n", "") + close_delimiter();
    const Outcome o = parse_every_split(body);
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).name, "j");
    EXPECT_EQ(o.parts.at(0).content_type, "application/json; charset=utf-8");
    EXPECT_EQ(o.parts.at(1).content_type, "text/plain");  // empty means absent
}

TEST(MultipartParser, BoundaryTextInDataIsDataUnlessAfterCrlf) {
    const std::string b(kB);
    const std::string data = "--" + b + "\r\nstarts the data, x--" + b + " mid-line, \n--" + b +
                             " after LF, \r--" + b + " after CR, " + "--" + b + "--";
    const Outcome o = parse_every_split(field("a", data) + close_delimiter());
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).data, data);
}

TEST(MultipartParser, PartialDelimitersInDataAreData) {
    const std::string b(kB);
    // Every proper prefix of the delimiter, followed by a byte that breaks it, and CR runs.
    std::string data;
    const std::string delim = "\r\n--" + b;
    for (std::size_t n = 1; n < delim.size(); ++n) data += delim.substr(0, n) + "#";
    data += "\r\r\r\n\r\n\r\n-\r\n--\r\n--" + b.substr(0, b.size() - 1) + "\r\n--" + b.substr(0, 3);
    const Outcome o = parse_every_split(field("a", data) + close_delimiter());
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).data, data);
}

TEST(MultipartParser, DataEndingInCrlfKeepsIt) {
    const Outcome o = parse_every_split(field("a", "line\r\n") + close_delimiter());
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).data, "line\r\n");
}

// ---- malformed bodies ----------------------------------------------------------------------

TEST(MultipartParser, DelimiterFollowedByGarbage) {
    const std::string b(kB);
    expect_invalid(parse_every_split(field("a", "x\r\n--" + b + "X more")),
                   "multipart: boundary before part 1 followed by 'X' instead of CRLF");
    expect_invalid(parse_every_split("--" + b + "Content-Disposition: x\r\n"),
                   "multipart: boundary before part 0 followed by 'C' instead of CRLF");
    expect_invalid(parse_every_split("--" + b + "  x\r\n"),
                   "multipart: boundary before part 0 followed by 'x' instead of CRLF");
    expect_invalid(parse_every_split("--" + b + "\rX"),
                   "multipart: boundary before part 0 followed by 'X' instead of CRLF");
    expect_invalid(parse_every_split(field("a", "") + "--" + b + "-x"),
                   "multipart: boundary before part 1 followed by '-' and 'x' (\"--\" closes the "
                   "body)");
}

TEST(MultipartParser, BareLfIsRejected) {
    const std::string b(kB);
    expect_invalid(parse_every_split(
                       "--" + b + "\nContent-Disposition: form-data; name=a\n\nv\n--" + b + "--\n"),
                   "multipart: boundary before part 0 followed by byte 0x0a instead of CRLF");
    expect_invalid(
        parse_every_split("--" + b + "\r\nContent-Disposition: form-data; name=a\n\nv\r\n--" + b +
                          "--"),
        "multipart: part 0: bare LF in head (CRLF required)");
    expect_invalid(parse_every_split("--" + b +
                                     "\r\nContent-Disposition: form-data;\r name=a\r\n"
                                     "\r\nv\r\n--" +
                                     b + "--"),
                   "multipart: part 0: bare CR in head");
}

TEST(MultipartParser, MalformedHeads) {
    const auto one = [](std::string_view head) {
        return parse_every_split(part(head, "v") + close_delimiter());
    };
    expect_invalid(one("Content-Disposition: form-data;\r\n name=\"a\"\r\n"),
                   "multipart: part 0: folded header line (not supported)");
    expect_invalid(one("Content-Disposition form-data; name=\"a\"\r\n"),
                   "multipart: part 0: header line without ':'");
    expect_invalid(one("Bad Name: x\r\n" + disposition("name=\"a\"")),
                   "multipart: part 0: invalid header name");
    expect_invalid(one(": x\r\n"), "multipart: part 0: invalid header name");
    expect_invalid(one(""), "multipart: part 0: no Content-Disposition");
    expect_invalid(one("Content-Type: text/plain\r\n"),
                   "multipart: part 0: no Content-Disposition");
    expect_invalid(one("Content-Disposition: form-data\r\n"),
                   "multipart: part 0: Content-Disposition without name");
    expect_invalid(one(disposition("filename=\"f\"")),
                   "multipart: part 0: Content-Disposition without name");
    expect_invalid(one(disposition("name=\"\"")),
                   "multipart: part 0: Content-Disposition with an empty name");
    expect_invalid(one("Content-Disposition: attachment; name=\"a\"\r\n"),
                   "multipart: part 0: Content-Disposition is not form-data");
    expect_invalid(one(disposition("name=\"a\"") + disposition("name=\"b\"")),
                   "multipart: part 0: two Content-Disposition headers");
    expect_invalid(one(disposition("name=\"a\"") + "Content-Type: a\r\nContent-Type: b\r\n"),
                   "multipart: part 0: two Content-Type headers");
    expect_invalid(one(disposition("name=\"a\"; name=\"b\"")),
                   "multipart: part 0: Content-Disposition: duplicate parameter 'name'");
    expect_invalid(one(disposition("name=\"a")),
                   "multipart: part 0: Content-Disposition: unterminated quoted string in "
                   "parameter 'name'");
    expect_invalid(one(disposition("name=\"a\" x")),
                   "multipart: part 0: Content-Disposition: unexpected 'x'");
    expect_invalid(one(disposition("name=")),
                   "multipart: part 0: Content-Disposition: parameter 'name' without a value");
}

TEST(MultipartParser, ControlBytesInHeadAreRejected) {
    expect_invalid(parse_every_split(part(disposition("name=\"a\0b\""s), "v") + close_delimiter()),
                   "multipart: part 0: control byte 0x00 in head");
    expect_invalid(parse_every_split(part(disposition("name=\"a\x7f\""), "v") + close_delimiter()),
                   "multipart: part 0: control byte 0x7f in head");
    // HTAB is whitespace, and UTF-8 bytes are fine in a quoted filename (what browsers send).
    const Outcome o = parse_every_split(
        part(disposition("name=\"a\";\tfilename=\"\xc3\xa9t\xc3\xa9.txt\""), "v") +
        close_delimiter());
    ASSERT_TRUE(o.ok) << o;
    EXPECT_EQ(o.parts.at(0).filename, "\xc3\xa9t\xc3\xa9.txt");
}

TEST(MultipartParser, TruncatedBodies) {
    const std::string b(kB);
    const std::string head = disposition("name=\"a\"");
    expect_invalid(parse_every_split(""), "multipart: boundary not found in body");
    expect_invalid(parse_every_split("just some text without any boundary"),
                   "multipart: boundary not found in body");
    expect_invalid(parse_every_split("--" + b.substr(0, 5)),
                   "multipart: boundary not found in body");
    expect_invalid(parse_every_split("--" + b), "multipart: missing closing boundary");
    expect_invalid(parse_every_split("--" + b + "\r"), "multipart: missing closing boundary");
    expect_invalid(parse_every_split("--" + b + "-"), "multipart: missing closing boundary");
    expect_invalid(parse_every_split("--" + b + "\r\n"),
                   "multipart: part 0: body ends inside the part (missing closing boundary)");
    expect_invalid(parse_every_split("--" + b + "\r\n" + head),
                   "multipart: part 0: body ends inside the part (missing closing boundary)");
    const std::string open = "--" + b + "\r\n" + head + "\r\nabc";
    const Outcome o = parse_every_split(open);
    expect_invalid(o, "multipart: part 0: body ends inside the part (missing closing boundary)");
    ASSERT_EQ(o.parts.size(), 1u);
    EXPECT_EQ(o.parts[0].data, "abc");
    EXPECT_FALSE(o.parts[0].ended);
    expect_invalid(parse_every_split(open + "\r\n--" + b.substr(0, 4)),
                   "multipart: part 0: body ends inside the part (missing closing boundary)");
    expect_invalid(parse_every_split(open + "\r\n--" + b), "multipart: missing closing boundary");
    expect_invalid(parse_every_split(open + "\r\n--" + b + "\r\n"),
                   "multipart: part 1: body ends inside the part (missing closing boundary)");
}

// ---- limits --------------------------------------------------------------------------------

TEST(MultipartParser, TooManyParts) {
    std::string body;
    for (int i = 0; i < 10'000; ++i) body += field("f" + std::to_string(i), "");
    body += close_delimiter();
    const Outcome o = parse(body);
    expect_invalid(o, "multipart: more than 64 parts");
    EXPECT_EQ(o.parts.size(), 64u);

    std::string exact;
    for (int i = 0; i < 3; ++i) exact += field("f", "v");
    exact += close_delimiter();
    EXPECT_TRUE(parse_every_split(exact, {.max_parts = 3}).ok);
    expect_invalid(parse_every_split(exact, {.max_parts = 2}), "multipart: more than 2 parts");
}

TEST(MultipartParser, HeadLimit) {
    // Head bytes are the header lines with their CRLFs plus the blank line's CRLF.
    const std::string head = disposition("name=\"a\"");  // its size + 2 is the head size
    const std::string body = part(head, "v") + close_delimiter();
    EXPECT_TRUE(parse_every_split(body, {.max_head_bytes = head.size() + 2}).ok);
    expect_invalid(parse_every_split(body, {.max_head_bytes = head.size() + 1}),
                   "multipart: part 0: head over " + std::to_string(head.size() + 1) + " bytes");
    // A zero-line head is 2 bytes (its blank line).
    expect_invalid(parse_every_split(part("", "") + close_delimiter(), {.max_head_bytes = 2}),
                   "multipart: part 0: no Content-Disposition");
}

TEST(MultipartParser, HugeHeadFailsEarlyWithBoundedBuffer) {
    RecordingSink sink;
    MultipartParser parser{std::string(kB), {}, sink};
    ASSERT_TRUE(parser.feed("--"s + std::string(kB) + "\r\nX-Big: "));
    const std::string filler(1000, 'a');
    Result<void> r;
    std::size_t fed = 0;
    while (r && fed < 1'000'000) {
        r = parser.feed(filler);
        fed += filler.size();
        EXPECT_LE(parser.buffered_bytes(), 8192u + 2);
    }
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), "multipart: part 0: head over 8192 bytes");
    EXPECT_LT(fed, 10'000u);
    // Sticky.
    EXPECT_EQ(parser.feed("x").error().message(), "multipart: part 0: head over 8192 bytes");
    EXPECT_EQ(parser.finish().error().message(), "multipart: part 0: head over 8192 bytes");
}

TEST(MultipartParser, NameAndFilenameLimits) {
    const auto one = [](std::string_view params) {
        return parse_every_split(part(disposition(params), "") + close_delimiter(),
                                 {.max_name_bytes = 4, .max_filename_bytes = 6});
    };
    EXPECT_TRUE(one("name=\"abcd\"; filename=\"abcdef\"").ok);
    expect_invalid(one("name=\"abcde\""), "multipart: part 0: name over 4 bytes");
    expect_invalid(one("name=\"a\"; filename=\"abcdefg\""),
                   "multipart: part 0: filename over 6 bytes");
    // filename* counts as sent: "UTF-8''" alone is 7 bytes.
    expect_invalid(one("name=\"a\"; filename*=UTF-8''a"),
                   "multipart: part 0: filename* over 6 bytes");
    const std::string defaults =
        "name=\"" + std::string(257, 'n') + "\"; filename=\"" + std::string(10, 'f') + "\"";
    expect_invalid(parse(part(disposition(defaults), "") + close_delimiter()),
                   "multipart: part 0: name over 256 bytes");
    expect_invalid(
        parse(part(disposition("name=a; filename=\"" + std::string(1025, 'f') + "\""), "") +
              close_delimiter()),
        "multipart: part 0: filename over 1024 bytes");
}

TEST(MultipartParser, TotalBytesLimit) {
    const std::string body = field("a", std::string(100, 'v')) + close_delimiter();
    EXPECT_TRUE(parse_every_split(body, {.max_total_bytes = body.size()}).ok);
    const Outcome o = parse_every_split(body, {.max_total_bytes = body.size() - 1});
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.code, ErrorCode::kDocumentTooLarge);
    EXPECT_EQ(o.message, "multipart: body exceeds " + std::to_string(body.size() - 1) + " bytes");
    // The epilogue counts too: it is part of the body.
    const Outcome e = parse_every_split(body + "epilogue", {.max_total_bytes = body.size() + 7});
    EXPECT_EQ(e.code, ErrorCode::kDocumentTooLarge);
    EXPECT_EQ(MultipartLimits{}.max_total_bytes, 27'262'976u);
    EXPECT_EQ(MultipartLimits{}.max_field_bytes, 1'048'576u);
}

TEST(MultipartParser, DefaultTotalLimitMessage) {
    RecordingSink sink;
    MultipartParser parser{std::string(kB), {}, sink};
    ASSERT_TRUE(parser.feed(part(disposition("name=\"f\"; filename=\"big\""), "")));
    const std::string mib(1 << 20, 'x');
    Result<void> r;
    for (int i = 0; i < 30 && r; ++i) r = parser.feed(mib);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kDocumentTooLarge);
    EXPECT_EQ(r.error().message(), "multipart: body exceeds 27262976 bytes");
    EXPECT_EQ(parser.bytes_fed(), 27'262'976u);
}

// ---- the sink and the API contract ---------------------------------------------------------

TEST(MultipartParser, SinkErrorStopsTheParseAndSticks) {
    const std::string body =
        field("a", "1") + field("b", "2") + field("c", "3") + close_delimiter();
    RecordingSink sink;
    sink.fail_at = 1;
    MultipartParser parser{std::string(kB), {}, sink};
    auto r = parser.feed(body);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kConflict);
    EXPECT_EQ(r.error().message(), "sink says no");
    ASSERT_EQ(sink.parts.size(), 1u);
    EXPECT_TRUE(sink.parts[0].ended);
    EXPECT_EQ(parser.feed("").error().message(), "sink says no");
    EXPECT_EQ(parser.finish().error().message(), "sink says no");
}

TEST(MultipartParser, FinishIsIdempotentAndFeedAfterItFails) {
    RecordingSink sink;
    MultipartParser parser{std::string(kB), {}, sink};
    ASSERT_TRUE(parser.feed(close_delimiter()));
    EXPECT_TRUE(parser.finish());
    EXPECT_TRUE(parser.finish());
    auto r = parser.feed("x");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code(), ErrorCode::kInternalError);
}

TEST(MultipartParser, InvalidBoundaryIsAnErrorNotACrash) {
    for (std::string bad : {""s, "a\rb"s, std::string(71, 'a'), "a\0"s}) {
        RecordingSink sink;
        MultipartParser parser{bad, {}, sink};
        auto r = parser.feed("--" + bad + "--");
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().code(), ErrorCode::kInvalidInput);
    }
}

TEST(MultipartParser, LongestBoundary) {
    const std::string b(70, 'z');
    RecordingSink sink;
    MultipartParser parser{b, {}, sink};
    const std::string body = "--" + b + "\r\n" + disposition("name=\"a\"") + "\r\n--" +
                             b.substr(1) + "\r\n--" + b + "--";
    for (char c : body) ASSERT_TRUE(parser.feed({&c, 1}));
    ASSERT_TRUE(parser.finish());
    EXPECT_EQ(sink.parts.at(0).data, "--" + b.substr(1));
}

TEST(MultipartParser, BufferStaysBounded) {
    // A large part full of near-delimiters, fed in awkward chunk sizes.
    std::string data;
    const std::string near = "\r\n--" + std::string(kB).substr(0, kB.size() - 1) + "!";
    while (data.size() < 300'000) data += near + random_bytes(37, data.size());
    const std::string body = field("a", data) + close_delimiter();
    for (std::size_t step : {1u, 3u, 7u, 64u, 4096u, 65536u}) {
        RecordingSink sink;
        MultipartParser parser{std::string(kB), {}, sink};
        std::size_t max_buffered = 0;
        for (std::size_t at = 0; at < body.size(); at += step) {
            ASSERT_TRUE(parser.feed(std::string_view(body).substr(at, step)));
            if (sink.parts.size() == 1 && !sink.parts[0].data.empty()) {
                max_buffered = std::max(max_buffered, parser.buffered_bytes());
            }
        }
        ASSERT_TRUE(parser.finish());
        EXPECT_EQ(sink.parts.at(0).data, data) << "step " << step;
        EXPECT_LT(max_buffered, kB.size() + 4) << "step " << step;
    }
}

// ---- fuzz ----------------------------------------------------------------------------------

std::string mutate(std::string body, Rng& rng) {
    static const std::vector<std::string> kTokens = {
        "\r\n",
        "--",
        "\r\n--" + std::string(kB),
        "\r\n--" + std::string(kB) + "--",
        "\r\n--" + std::string(kB) + "\r\n",
        "\r\n\r\n",
        "Content-Disposition: form-data; name=",
        "; filename*=UTF-8''%",
        "\"",
        "\\",
        std::string(kB).substr(0, 5),
        "Content-Type: ",
        " ",
        "\t",
        ";",
        "=",
        std::string(1, '\0'),
        "%e2%82",
        "filename=\"",
    };
    static constexpr std::string_view kBytes = "\r\n-\"\\;= \t\0%*':aZ\x7f\xff";
    const std::size_t edits = 1 + rng.below(4);
    for (std::size_t e = 0; e < edits; ++e) {
        const std::size_t at = rng.below(body.size() + 1);
        switch (rng.below(7)) {
            case 0:
                if (at < body.size()) body[at] = static_cast<char>(rng());
                break;
            case 1:
                body.insert(at, 1, kBytes[rng.below(kBytes.size())]);
                break;
            case 2:
                body.insert(at, kTokens[rng.below(kTokens.size())]);
                break;
            case 3:
                body.erase(at, 1 + rng.below(8));
                break;
            case 4: {
                const std::string copy = body.substr(at, rng.below(48));
                body.insert(rng.below(body.size() + 1), copy);
                break;
            }
            case 5:
                body.resize(at);
                break;
            default:
                if (at < body.size()) body[at] = kBytes[rng.below(kBytes.size())];
                break;
        }
    }
    return body;
}

TEST(MultipartFuzz, MutatedBodiesNeverCrashAndIgnoreSplits) {
    const std::vector<std::string> seeds = {
        field("a", "1") + field("b", "two") + close_delimiter(),
        "preamble\r\n" +
            part(disposition("name=\"f\"; filename=\"x;y.bin\"") + "Content-Type: a/b\r\n",
                 "\r\n--" + std::string(kB).substr(0, 6) + "\0data"s) +
            close_delimiter() + "epilogue",
        part(disposition("name=\"f\"; filename*=UTF-8''%e2%82%ac.txt"), "") +
            part(disposition(R"(name="q\"q")"), "--" + std::string(kB)) + close_delimiter(),
        "--"s + std::string(kB) + " \r\n" + disposition("name=p") + "\r\nv\r\n--" +
            std::string(kB) + "--",
    };
    Rng rng{0x5eed'1234};
    std::size_t ok = 0;
    std::size_t failed = 0;
    for (int iter = 0; iter < 20'000; ++iter) {
        const std::string body = mutate(seeds[rng.below(seeds.size())], rng);
        MultipartLimits limits;
        if (iter % 4 == 0) {
            limits = {.max_parts = 2,
                      .max_head_bytes = 80,
                      .max_name_bytes = 3,
                      .max_filename_bytes = 12,
                      .max_total_bytes = 40 + rng.below(body.size() + 1)};
        }
        const Outcome whole = parse(body, limits);
        std::vector<std::string_view> chunks;
        const std::size_t max_chunk = 1 + rng.below(iter % 2 == 0 ? 8 : body.size() + 1);
        for (std::size_t at = 0; at < body.size();) {
            const std::size_t n = 1 + rng.below(max_chunk);
            chunks.push_back(std::string_view(body).substr(at, n));
            at += n;
        }
        const Outcome split = parse_chunks(chunks, limits);
        ASSERT_EQ(split, whole) << "iteration " << iter << ", body:\n" << body;
        (whole.ok ? ok : failed) += 1;
    }
    // The mutations must reach both sides, or the fuzz proves little.
    EXPECT_GT(ok, 1000u);
    EXPECT_GT(failed, 1000u);
    std::printf("fuzz: %zu accepted, %zu rejected\n", ok, failed);
}

// ---- speed ---------------------------------------------------------------------------------

class DiscardSink : public MultipartSink {
  public:
    std::uint64_t bytes = 0;
    Result<void> on_part_begin(const PartHead&) override { return {}; }
    Result<void> on_part_data(std::string_view data) override {
        bytes += data.size();
        return {};
    }
    Result<void> on_part_end() override { return {}; }
};

// Best of 5 runs of a 25 MiB single-file body in 64 KiB chunks; MB/s (10^6 bytes).
double throughput(const std::string& body, std::size_t expect_bytes) {
    double best = 0;
    for (int run = 0; run < 5; ++run) {
        DiscardSink sink;
        MultipartParser parser{std::string(kB), {}, sink};
        const auto start = std::chrono::steady_clock::now();
        for (std::size_t at = 0; at < body.size(); at += 65536) {
            if (!parser.feed(std::string_view(body).substr(at, 65536))) return 0;
        }
        if (!parser.finish()) return 0;
        const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
        EXPECT_EQ(sink.bytes, expect_bytes);
        best = std::max(best, static_cast<double>(body.size()) / took.count() / 1e6);
    }
    return best;
}

TEST(MultipartSpeed, TwentyFiveMegabyteFile) {
    const std::size_t size = 25 * 1024 * 1024;
    const std::string head = disposition("name=\"file\"; filename=\"big.bin\"");
    const double random = throughput(part(head, random_bytes(size, 7)) + close_delimiter(), size);
    // Hostile data: a near-delimiter every 20 bytes makes every CR a full comparison.
    std::string hostile;
    const std::string near = "\r\n--" + std::string(kB).substr(0, 10) + "#";
    while (hostile.size() < size) hostile += near + "abcde";
    hostile.resize(size);
    const double worst = throughput(part(head, hostile) + close_delimiter(), size);
    // Pathological: a CR at every byte, the most candidate positions data can have.
    const double all_cr = throughput(part(head, std::string(size, '\r')) + close_delimiter(), size);
    std::string crlf;
    while (crlf.size() < size) crlf += "\r\n--";
    crlf.resize(size);
    const double all_crlf = throughput(part(head, crlf) + close_delimiter(), size);
    std::printf(
        "multipart throughput: %.0f MB/s random data, %.0f MB/s near-delimiter data, "
        "%.0f MB/s all CR, %.0f MB/s CRLF-- repeated\n",
        random, worst, all_cr, all_crlf);
    RecordProperty("random_mb_per_s", static_cast<int>(random));
    RecordProperty("near_delimiter_mb_per_s", static_cast<int>(worst));
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
    // Far under what it does (several GB/s), so a busy machine does not fail it.
    EXPECT_GT(random, 500.0);
    EXPECT_GT(worst, 100.0);
#endif
}

}  // namespace
}  // namespace orchagent::api
