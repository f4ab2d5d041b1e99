// Upload types sniffed from bytes and checked against an agent's accept list.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/ids.hpp"
#include "runtime/file_types.hpp"

namespace orchagent::runtime {
namespace {

namespace fs = std::filesystem;

const std::string kPng = std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0", 29);
const std::string kPdf = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

std::string write_temp(const std::string& bytes) {
    const fs::path p = fs::temp_directory_path() / ("sniff-" + random_hex(6));
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
}

TEST(FileTypes, SniffsFromBytesNotNames) {
    const std::string png = write_temp(kPng), pdf = write_temp(kPdf), text = write_temp("a,b\n1,2\n"),
                      empty = write_temp("");
    EXPECT_EQ(*sniff_file(png), "image/png");
    EXPECT_EQ(*sniff_file(pdf), "application/pdf");
    EXPECT_TRUE(sniff_file(text)->starts_with("text/"));
    EXPECT_EQ(*sniff_file(empty), "application/x-empty");
    EXPECT_FALSE(sniff_file("/nonexistent/file"));
    for (const auto& p : {png, pdf, text, empty}) fs::remove(p);
}

TEST(FileTypes, AcceptListsOfTypesWildcardsAndExtensions) {
    EXPECT_TRUE(accepts({"image/*"}, "image/png", "x.png"));
    EXPECT_FALSE(accepts({"image/*"}, "application/pdf", "x.png"));
    EXPECT_TRUE(accepts({"application/pdf"}, "application/pdf", "anything"));
    EXPECT_TRUE(accepts({".pdf"}, "application/pdf", "Invoice.PDF"));
    // A PNG renamed .pdf is still a PNG.
    EXPECT_FALSE(accepts({".pdf"}, "image/png", "fake.pdf"));
    EXPECT_FALSE(accepts({".pdf"}, "application/pdf", "doc.txt"));
    // Text formats cannot be told apart by bytes.
    EXPECT_TRUE(accepts({"text/csv"}, "text/plain", "a.csv"));
    EXPECT_TRUE(accepts({".csv"}, "text/plain", "a.csv"));
    EXPECT_TRUE(accepts({"application/json"}, "text/plain", "a.json"));
    EXPECT_FALSE(accepts({"text/csv"}, "image/png", "a.csv"));
    EXPECT_TRUE(accepts({"*/*"}, "application/octet-stream", "x"));
    EXPECT_TRUE(accepts({".weird"}, "application/octet-stream", "a.weird"));
    EXPECT_FALSE(accepts({}, "image/png", "x.png"));
}

}  // namespace
}  // namespace orchagent::runtime
