// Atomic file replacement: readers see either the old or the new file, never a torn one.
#pragma once

#include <string>
#include <string_view>

namespace iptv {

// Writes `data` to a temporary file beside `path`, fsyncs it (when `durable`), and renames it over
// `path`. Returns an empty string on success, or an error message naming the path.
std::string write_file_atomic(const std::string &path, std::string_view data, bool durable = false);

// Reads a whole file. Returns false and sets `error` (naming the path) on failure.
bool read_file(const std::string &path, std::string &out, std::string *error = nullptr);

}  // namespace iptv
