// File types of uploads, sniffed from their bytes (libmagic), and the check against what an
// agent accepts: `input_schema.accept`, a list of MIME types ("application/pdf"), wildcards
// ("image/*") or extensions (".csv").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace orchagent::runtime {

// The MIME type of a file's first bytes ("application/pdf"), or "application/octet-stream"
// when libmagic cannot tell. Thread-safe (one libmagic handle, used under a mutex).
Result<std::string> sniff_file(const std::string& path);

// True when a file whose bytes are `sniffed` and whose name is `name` matches one of
// `accept`. An extension entry needs the name to end with it and the bytes to be of a type
// that extension may hold (a ".pdf" that is a PNG does not pass).
bool accepts(const std::vector<std::string>& accept, std::string_view sniffed,
             std::string_view name);

}  // namespace orchagent::runtime
