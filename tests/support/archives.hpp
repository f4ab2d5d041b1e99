// Archives for tests, made with libarchive's writer: zip, tar or tar.gz holding exactly the
// entries asked for, hostile ones included (used by the unpack and bundle tests).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace orchagent::testing {

namespace fs = std::filesystem;

enum class Format { kZip, kTar, kTarGz };

struct Entry {
    std::string name;
    mode_t type = AE_IFREG;
    std::string data;
    mode_t perm = 0644;
    std::string symlink;   // AE_IFLNK
    std::string hardlink;  // set: a hardlink entry to this name
};

inline Entry file(std::string name, std::string data, mode_t perm = 0644) {
    return {.name = std::move(name), .data = std::move(data), .perm = perm};
}
inline Entry dir(std::string name, mode_t perm = 0755) {
    return {.name = std::move(name), .type = AE_IFDIR, .perm = perm};
}
inline Entry link(std::string name, std::string target) {
    return {.name = std::move(name), .type = AE_IFLNK, .perm = 0777, .symlink = std::move(target)};
}

inline la_ssize_t append_cb(archive*, void* data, const void* buf, size_t len) {
    static_cast<std::string*>(data)->append(static_cast<const char*>(buf), len);
    return static_cast<la_ssize_t>(len);
}

// An archive made with libarchive's writer.
inline std::string make_archive(Format format, const std::vector<Entry>& entries) {
    std::string out;
    archive* a = archive_write_new();
    if (format == Format::kZip) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_pax_restricted(a);
        if (format == Format::kTarGz) archive_write_add_filter_gzip(a);
    }
    archive_write_set_bytes_in_last_block(a, 1);
    EXPECT_EQ(archive_write_open2(a, &out, nullptr, append_cb, nullptr, nullptr), ARCHIVE_OK);
    for (const auto& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.name.c_str());
        archive_entry_set_mtime(ae, 1'700'000'000, 0);
        if (!e.hardlink.empty()) {
            archive_entry_set_filetype(ae, AE_IFREG);
            archive_entry_set_hardlink(ae, e.hardlink.c_str());
            archive_entry_set_size(ae, 0);
        } else {
            archive_entry_set_filetype(ae, e.type);
            if (e.type == AE_IFLNK) archive_entry_set_symlink(ae, e.symlink.c_str());
            if (e.type == AE_IFCHR) archive_entry_set_rdev(ae, makedev(1, 3));
            archive_entry_set_size(ae,
                                   e.type == AE_IFREG ? static_cast<la_int64_t>(e.data.size()) : 0);
        }
        archive_entry_set_perm(ae, e.perm);
        EXPECT_GE(archive_write_header(a, ae), ARCHIVE_WARN) << archive_error_string(a);
        if (e.type == AE_IFREG && !e.data.empty()) {
            EXPECT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                      static_cast<la_ssize_t>(e.data.size()));
        }
        archive_entry_free(ae);
    }
    EXPECT_EQ(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    return out;
}

inline std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace orchagent::testing
