// Small crypto helpers of the control plane (GLib's checksums, the kernel's random numbers) and
// URI redaction. Nothing here logs anything.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/strutil.h"

namespace iptv::control {

// `n` random bytes from getrandom(2), as lowercase hex (2n characters).
std::string random_hex(size_t n);
// Lowercase hex SHA-256.
std::string sha256_hex(std::string_view data);
// Lowercase hex HMAC-SHA256.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

// A URI with user info, passwords, query strings ("passphrase=", "streamid=", keys) and the last
// path segment of rtmp:// URIs (the stream key) replaced by "***", for display.
std::string redact_uri(const std::string &uri);

// Subjects, channel ids, rendition names and key ids: [A-Za-z0-9._@:-]{1,128}, not "." or "..".
bool valid_name(std::string_view s);

// The current time (unix seconds / milliseconds).
int64_t now_unix();
int64_t now_ms();
// "2026-11-29T18:27:53Z" (or with milliseconds when `ms`).
inline std::string iso8601_utc(int64_t unix_ms, bool ms = false) {
  return iptv::iso8601_utc(unix_ms, ms);
}

}  // namespace iptv::control
