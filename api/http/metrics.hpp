// Counters, gauges and histograms rendered in the Prometheus text exposition format 0.0.4.
// Thread-safe: a series is found under a shared lock and updated with atomics, so the hot
// path (an existing series) never takes an exclusive lock.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>

namespace orchagent::http {

// Histogram bucket upper bounds in seconds: 0.1 ms .. 60 s (plus +Inf).
inline constexpr std::array<double, 18> kDurationBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0,  60.0};

// A label value escaped per the exposition format: backslash, double quote and newline.
std::string escape_label_value(std::string_view value);
// name="escaped value"
std::string label(std::string_view name, std::string_view value);

class Metrics {
  public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // labels: already formatted, e.g. route="/x",status="200" (build values with label()),
    // or "" for none. A name is [a-zA-Z_:][a-zA-Z0-9_:]*; a bad name or a name used as another
    // type is ignored. A counter ignores negative increments.
    void inc(std::string_view name, std::string_view labels, double by = 1);
    void set_gauge(std::string_view name, std::string_view labels, double value);
    void add_gauge(std::string_view name, std::string_view labels, double delta);
    void observe(std::string_view histogram, std::string_view labels, double seconds);
    // type: counter | gauge | histogram. HELP text may hold anything (it is escaped).
    void describe(std::string_view name, std::string_view type, std::string_view help);

    std::string render() const;

    // The current value of a counter or gauge series (for tests and /health).
    double value(std::string_view name, std::string_view labels) const;

  private:
    enum class Kind { kUnset, kCounter, kGauge, kHistogram };
    struct Series;
    struct Family;
    static std::string_view kind_name(Kind kind);

    // The series of `name{labels}`, created on first use; null if `name` is bad or is of
    // another kind.
    Series* find_or_create(std::string_view name, std::string_view labels, Kind kind);

    mutable std::shared_mutex mutex_;
    std::map<std::string, std::unique_ptr<Family>, std::less<>> families_;
};

}  // namespace orchagent::http
