#include "api/http/metrics.hpp"

#include <fmt/format.h>

#include <cmath>
#include <mutex>

namespace orchagent::http {

struct Metrics::Series {
    std::atomic<double> value{0};  // counter or gauge
    // Histograms: per-bucket (not cumulative) counts, the last one is +Inf.
    std::unique_ptr<std::array<std::atomic<uint64_t>, kDurationBuckets.size() + 1>> buckets;
    std::atomic<double> sum{0};
};

struct Metrics::Family {
    Kind kind = Kind::kUnset;
    std::string help;
    bool described = false;
    std::map<std::string, std::unique_ptr<Series>, std::less<>> series;
};

namespace {

bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
    }
    return true;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", v);
}

std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void add_relaxed(std::atomic<double>& a, double delta) {
    a.fetch_add(delta, std::memory_order_relaxed);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string label(std::string_view name, std::string_view value) {
    return fmt::format("{}=\"{}\"", name, escape_label_value(value));
}

std::string_view Metrics::kind_name(Kind kind) {
    switch (kind) {
        case Kind::kCounter:
            return "counter";
        case Kind::kGauge:
            return "gauge";
        case Kind::kHistogram:
            return "histogram";
        case Kind::kUnset:
            break;
    }
    return "untyped";
}

Metrics::Metrics() = default;
Metrics::~Metrics() = default;

Metrics::Series* Metrics::find_or_create(std::string_view name, std::string_view labels,
                                         Kind kind) {
    {
        std::shared_lock lock(mutex_);
        auto f = families_.find(name);
        if (f != families_.end()) {
            if (f->second->kind != kind) return nullptr;
            auto s = f->second->series.find(labels);
            if (s != f->second->series.end()) return s->second.get();
        }
    }
    if (!valid_name(name)) return nullptr;
    std::unique_lock lock(mutex_);
    auto& family = families_[std::string(name)];
    if (!family) family = std::make_unique<Family>();
    if (family->kind == Kind::kUnset) family->kind = kind;
    if (family->kind != kind) return nullptr;
    auto& series = family->series[std::string(labels)];
    if (!series) {
        series = std::make_unique<Series>();
        if (kind == Kind::kHistogram) {
            series->buckets =
                std::make_unique<std::array<std::atomic<uint64_t>, kDurationBuckets.size() + 1>>();
            for (auto& b : *series->buckets) b.store(0, std::memory_order_relaxed);
        }
    }
    return series.get();
}

void Metrics::inc(std::string_view name, std::string_view labels, double by) {
    if (!(by >= 0)) return;  // counters only go up (and NaN is no increment)
    if (auto* s = find_or_create(name, labels, Kind::kCounter)) add_relaxed(s->value, by);
}

void Metrics::set_gauge(std::string_view name, std::string_view labels, double value) {
    if (auto* s = find_or_create(name, labels, Kind::kGauge)) {
        s->value.store(value, std::memory_order_relaxed);
    }
}

void Metrics::add_gauge(std::string_view name, std::string_view labels, double delta) {
    if (auto* s = find_or_create(name, labels, Kind::kGauge)) add_relaxed(s->value, delta);
}

void Metrics::observe(std::string_view histogram, std::string_view labels, double seconds) {
    auto* s = find_or_create(histogram, labels, Kind::kHistogram);
    if (s == nullptr || std::isnan(seconds)) return;
    size_t i = 0;
    while (i < kDurationBuckets.size() && seconds > kDurationBuckets[i]) ++i;
    (*s->buckets)[i].fetch_add(1, std::memory_order_relaxed);
    add_relaxed(s->sum, seconds);
}

void Metrics::describe(std::string_view name, std::string_view type, std::string_view help) {
    Kind kind = type == "counter"     ? Kind::kCounter
                : type == "gauge"     ? Kind::kGauge
                : type == "histogram" ? Kind::kHistogram
                                      : Kind::kUnset;
    if (kind == Kind::kUnset || !valid_name(name)) return;
    std::unique_lock lock(mutex_);
    auto& family = families_[std::string(name)];
    if (!family) family = std::make_unique<Family>();
    if (family->kind != Kind::kUnset && family->kind != kind) return;
    family->kind = kind;
    family->help = std::string(help);
    family->described = true;
}

double Metrics::value(std::string_view name, std::string_view labels) const {
    std::shared_lock lock(mutex_);
    auto f = families_.find(name);
    if (f == families_.end()) return 0;
    auto s = f->second->series.find(labels);
    if (s == f->second->series.end()) return 0;
    return s->second->value.load(std::memory_order_relaxed);
}

std::string Metrics::render() const {
    std::string out;
    std::shared_lock lock(mutex_);
    for (const auto& [name, family] : families_) {
        if (family->described) {
            out += fmt::format("# HELP {} {}\n", name, escape_help(family->help));
        }
        out += fmt::format("# TYPE {} {}\n", name, kind_name(family->kind));
        for (const auto& [labels, series] : family->series) {
            if (family->kind != Kind::kHistogram) {
                const double v = series->value.load(std::memory_order_relaxed);
                if (labels.empty()) {
                    out += fmt::format("{} {}\n", name, format_value(v));
                } else {
                    out += fmt::format("{}{{{}}} {}\n", name, labels, format_value(v));
                }
                continue;
            }
            const std::string sep = labels.empty() ? "" : ",";
            uint64_t cumulative = 0;
            for (size_t i = 0; i <= kDurationBuckets.size(); ++i) {
                cumulative += (*series->buckets)[i].load(std::memory_order_relaxed);
                const std::string le =
                    i < kDurationBuckets.size() ? format_value(kDurationBuckets[i]) : "+Inf";
                out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, le,
                                   cumulative);
            }
            const std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
            out += fmt::format("{}_sum{} {}\n", name, braces,
                               format_value(series->sum.load(std::memory_order_relaxed)));
            out += fmt::format("{}_count{} {}\n", name, braces, cumulative);
        }
    }
    return out;
}

}  // namespace orchagent::http
