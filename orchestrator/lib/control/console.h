// The operator console's server side, GStreamer- and SoupServer-free parts (unit-tested):
//
// - ConsoleSessions: API keys exchanged for browser sessions. POST /api/v1/console/login takes a
//   key once; the browser then holds only an HttpOnly, SameSite=Strict cookie naming a session
//   that lives in this process's memory (never on disk, never logged; kept by the SHA-256 of its
//   id, so a memory dump shows no usable cookie) until its absolute expiry. Each session has its
//   own CSRF token, which every mutating call made with the cookie must repeat in X-CSRF-Token.
//   A session follows its key: a revoked key ends its sessions at their next request.
// - static_file(): resolving a path under the console's folder (no traversal, no dot files,
//   no symlink out of the folder), with its content type and ETag.
// - logo_file() / logo_url(): a record's `epg.logo` naming a file beside the record, served at
//   /iptv/logos/<channel>.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "control/store.h"
#include "records/channel.h"

namespace iptv::control {

struct ConsoleSession {
  std::string key_id;  // the API key it was opened with
  Role role = Role::kRead;
  std::string csrf;        // 32 random bytes, hex
  int64_t created_at = 0;  // unix seconds
  int64_t expires_at = 0;
};

class ConsoleSessions {
 public:
  // Opens a session for `key`; returns its id (the cookie's value, 32 random bytes as hex).
  std::string open(const ApiKey &key, int64_t ttl_seconds, int64_t now, ConsoleSession *out);
  enum class Lookup { kOk, kUnknown, kExpired };
  // The session a cookie names. An expired one stays reported as kExpired until prune().
  Lookup find(const std::string &id, int64_t now, ConsoleSession *out);
  void close(const std::string &id);
  // Drops every session opened with `key_id` (a revoked key).
  void close_key(const std::string &key_id);
  size_t prune(int64_t now);
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ConsoleSession> by_hash_;  // sha256(id) -> session
};

// The value of cookie `name` in a Cookie header ("" when absent).
std::string cookie_value(const std::string &cookie_header, const std::string &name);
// Constant-time string comparison (lengths may differ).
bool same_secret(const std::string &a, const std::string &b);

struct StaticFile {
  std::string path;  // resolved, under the root
  std::string content_type;
  std::string etag;  // "\"<size>-<mtime sec>.<nsec>\""
  int64_t mtime = 0;
  int64_t size = 0;
};
enum class StaticError { kOk, kNotFound, kForbidden };
// `request_path` is the URL path ("/", "/app.js"); "/" is index.html. Only names of
// [A-Za-z0-9._-] per segment, none starting with '.', and the resolved file must stay under
// `root` (symlinks out are refused).
StaticError static_file(const std::string &root, const std::string &request_path, StaticFile *out);
// By extension: .html .js .mjs .css .svg .png .jpg .jpeg .webp .ico .json .map .txt.
std::string content_type_for(const std::string &path);

// The file a record's epg.logo names ("" when it is a URL or empty): relative to the record's
// folder. The loader has checked it exists (records/loader.cpp).
std::string logo_file(const ChannelRecord &r);
// What M3U tvg-logo, XMLTV <icon> and the console show: a URL logo as is, a file logo as
// <base>/iptv/logos/<channel_id>, "" when none.
std::string logo_url(const ChannelRecord &r, const std::string &base);

}  // namespace iptv::control
