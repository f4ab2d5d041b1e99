// One client connection's state, shared by its reactor thread (bytes in) and the worker that
// answers its current request (bytes out). Everything below `mutex` is guarded by it.
//
// Reading turns the byte stream into Items in arrival order: a request for a handler, or a
// ready-made answer (an error found while reading). Requests may arrive back to back in one
// read, or a head may trickle in a byte at a time; the reader keeps its place across reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/http/router.hpp"
#include "api/http/types.hpp"
#include "api/http/wire.hpp"

namespace Pistache::Tcp {
class Transport;
}

namespace orchagent::http {

class Metrics;

using SteadyTime = std::chrono::steady_clock::time_point;

// A request read off the connection, waiting for (or being given) its answer.
struct Item {
    Request request;
    const Route* route = nullptr;    // run this handler on a worker...
    std::optional<Response> answer;  // ...or send this (errors found while reading)
    bool head_only = false;          // HEAD: no body in the answer
    bool keep_alive = true;          // the client's wish (HTTP version + Connection header)
    bool http10 = false;
    bool close_after = false;  // the connection closes after this answer (e.g. after a 413)
    SteadyTime received{};     // when the head was complete
    std::string_view metric_route = "unmatched";
};

// What the reader needs from the server.
struct ReadContext {
    const Router& router;
    uint64_t max_body_cap;
    bool draining;  // new requests get 503 and the connection closes
    Metrics& metrics;
    const std::string& spool_dir;  // ServerOptions::spool_dir
    uint64_t spool_threshold;      // ServerOptions::spool_threshold
};

inline constexpr size_t kMaxPipeline = 8;       // parsed requests waiting per connection
inline constexpr size_t kMaxStash = 64 * 1024;  // unparsed bytes held past that depth
// A spooled body is written to its file in pieces of about this size (fewer write(2)s than
// one per 4 KiB read, and a bounded buffer).
inline constexpr size_t kSpoolFlush = 64 * 1024;

// An anonymous file for a spooled body in `dir` ("" is /tmp): O_TMPFILE, or, on a file
// system without it, a mkostemp() file unlinked at once. Errors are SERVICE_UNAVAILABLE.
Result<UniqueFd> open_spool_file(const std::string& dir);

struct Conn {
    // Set before the connection is shared, then read-only.
    Pistache::Tcp::Transport* transport = nullptr;
    int fd = -1;
    std::string peer;

    std::mutex mutex;
    // Pistache has removed (or is removing) the peer: fd may already be another socket's.
    bool closed = false;
    // An answer with "Connection: close" is queued: further input is dropped, and the
    // socket is shut once that answer is written (or after a linger, by the reaper).
    bool closing = false;
    bool aborted = false;  // shutdown(SHUT_RDWR) was called
    SteadyTime closing_since{};
    bool drain_close = false;  // server draining: close after the answers in progress

    enum class Phase { kIdle, kHead, kBody, kDiscard };
    Phase phase = Phase::kIdle;
    SteadyTime phase_since{};  // connect, first head byte, head complete, or last answer
    std::string head;          // head bytes so far
    Item current;              // the request whose body is being read
    uint64_t body_left = 0;    // Content-Length framing
    std::optional<wire::ChunkedDecoder> chunked;
    bool keep_body = false;  // false: the body is read and dropped (404, 405)
    // A spooling route's body past the threshold: its file (size = bytes written so far);
    // current.request.body then holds only the bytes not yet written (< ~kSpoolFlush).
    std::shared_ptr<BodyFile> spool;
    bool continue_owed = false;  // "Expect: 100-continue" to answer when this request is next
    uint64_t requests = 0;       // heads read on this connection
    uint64_t open_requests = 0;  // counted in the in-flight gauge, not answered yet

    std::deque<Item> ready;  // read, not yet answered, in order
    bool running = false;    // ready's former front is on a worker
    std::string stash;       // bytes that arrived while `ready` was full
    uint32_t unflushed = 0;  // answers queued on Pistache, not yet written

    // True when no request is in progress in either direction.
    bool idle() const {
        return phase == Phase::kIdle && head.empty() && ready.empty() && !running && unflushed == 0;
    }
};

// Reads `data` into conn.ready (conn.mutex held). Stops early, stashing the rest, when
// kMaxPipeline requests wait; returns false when even the stash is full (the caller then
// drops the connection).
bool read_input(Conn& conn, std::string_view data, const ReadContext& context);

// Forgets the requests read but not yet answered (the connection is going away) and
// returns how many were dropped.
uint64_t drop_unanswered(Conn& conn);

inline constexpr std::string_view kRequestsTotal = "orchagent_http_requests_total";
inline constexpr std::string_view kRequestDuration = "orchagent_http_request_duration_seconds";
inline constexpr std::string_view kInFlight = "orchagent_http_requests_in_flight";

}  // namespace orchagent::http
