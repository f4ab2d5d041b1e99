// The Prometheus text exposition (format 0.0.4) of counters, gauges and histograms.
#include "api/http/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace orchagent::http {
namespace {

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

TEST(Metrics, CountersAndGaugesRender) {
    Metrics m;
    m.describe("jobs_total", "counter", "Jobs done.");
    m.inc("jobs_total", R"(kind="a")");
    m.inc("jobs_total", R"(kind="a")", 2);
    m.inc("jobs_total", "");
    m.inc("jobs_total", R"(kind="a")", -5);  // counters never go down
    m.set_gauge("queue_depth", "", 7);
    m.add_gauge("queue_depth", "", -2.5);
    const std::string text = m.render();
    EXPECT_TRUE(contains(text, "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\n"))
        << text;
    EXPECT_TRUE(contains(text, "jobs_total 1\n")) << text;
    EXPECT_TRUE(contains(text, "jobs_total{kind=\"a\"} 3\n")) << text;
    EXPECT_TRUE(contains(text, "# TYPE queue_depth gauge\nqueue_depth 4.5\n")) << text;
    EXPECT_EQ(m.value("jobs_total", R"(kind="a")"), 3);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    Metrics m;
    m.describe("lat_seconds", "histogram", "Latency.");
    m.observe("lat_seconds", R"(route="/x")", 0.00005);  // first bucket
    m.observe("lat_seconds", R"(route="/x")", 0.003);    // le 0.005
    m.observe("lat_seconds", R"(route="/x")", 100);      // only +Inf
    const std::string text = m.render();
    EXPECT_TRUE(contains(text, "# TYPE lat_seconds histogram\n"));
    EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/x\",le=\"0.0001\"} 1\n")) << text;
    EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/x\",le=\"0.0025\"} 1\n")) << text;
    EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/x\",le=\"0.005\"} 2\n")) << text;
    EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/x\",le=\"60\"} 2\n")) << text;
    EXPECT_TRUE(contains(text, "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n")) << text;
    EXPECT_TRUE(contains(text, "lat_seconds_count{route=\"/x\"} 3\n")) << text;
    EXPECT_TRUE(contains(text, "lat_seconds_sum{route=\"/x\"} 100.00305")) << text;

    Metrics bare;
    bare.observe("plain_seconds", "", 1);
    EXPECT_TRUE(contains(bare.render(), "plain_seconds_bucket{le=\"1\"} 1\n"));
    EXPECT_TRUE(contains(bare.render(), "plain_seconds_count 1\n"));
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    EXPECT_EQ(label("route", "/x/\"{id}\""), "route=\"/x/\\\"{id}\\\"\"");
    Metrics m;
    m.describe("odd_total", "counter", "Back\\slash and\nnewline.");
    m.inc("odd_total", label("path", "a\"b"));
    const std::string text = m.render();
    EXPECT_TRUE(contains(text, "# HELP odd_total Back\\\\slash and\\nnewline.\n")) << text;
    EXPECT_TRUE(contains(text, "odd_total{path=\"a\\\"b\"} 1\n")) << text;
}

TEST(Metrics, BadNamesAndKindClashesAreIgnored) {
    Metrics m;
    m.inc("9starts_with_digit", "");
    m.inc("has space", "");
    m.inc("jobs_total", "");
    m.observe("jobs_total", "", 1);  // a counter is not a histogram
    m.set_gauge("jobs_total", "", 5);
    m.describe("jobs_total", "gauge", "no");
    const std::string text = m.render();
    EXPECT_FALSE(contains(text, "9starts")) << text;
    EXPECT_FALSE(contains(text, "has space")) << text;
    EXPECT_TRUE(contains(text, "# TYPE jobs_total counter\njobs_total 1\n")) << text;
}

TEST(Metrics, ConcurrentUpdatesAddUp) {
    Metrics m;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&m, t] {
            for (int i = 0; i < 10000; ++i) {
                m.inc("hits_total", i % 2 ? R"(k="odd")" : R"(k="even")");
                m.add_gauge("level", "", t % 2 ? 1 : -1);
                m.observe("t_seconds", "", 0.001);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(m.value("hits_total", R"(k="odd")"), 20000);
    EXPECT_EQ(m.value("hits_total", R"(k="even")"), 20000);
    EXPECT_EQ(m.value("level", ""), 0);
    EXPECT_TRUE(contains(m.render(), "t_seconds_count 40000\n"));
}

}  // namespace
}  // namespace orchagent::http
