#include "control/console.h"

#include <glib.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "control/secrets.h"
#include "util/strutil.h"

namespace iptv::control {

std::string ConsoleSessions::open(const ApiKey &key, int64_t ttl_seconds, int64_t now,
                                  ConsoleSession *out) {
  std::string id = random_hex(32);
  ConsoleSession s;
  s.key_id = key.id;
  s.role = key.role;
  s.csrf = random_hex(32);
  s.created_at = now;
  s.expires_at = now + std::max<int64_t>(1, ttl_seconds);
  std::lock_guard lk(mu_);
  by_hash_[sha256_hex(id)] = s;
  if (out) *out = s;
  return id;
}

ConsoleSessions::Lookup ConsoleSessions::find(const std::string &id, int64_t now,
                                              ConsoleSession *out) {
  if (id.empty() || id.size() > 128) return Lookup::kUnknown;
  std::lock_guard lk(mu_);
  auto it = by_hash_.find(sha256_hex(id));
  if (it == by_hash_.end()) return Lookup::kUnknown;
  // Kept until prune(), so every request with it hears "expired", not "unknown".
  if (it->second.expires_at <= now) return Lookup::kExpired;
  if (out) *out = it->second;
  return Lookup::kOk;
}

void ConsoleSessions::close(const std::string &id) {
  std::lock_guard lk(mu_);
  by_hash_.erase(sha256_hex(id));
}

void ConsoleSessions::close_key(const std::string &key_id) {
  std::lock_guard lk(mu_);
  for (auto it = by_hash_.begin(); it != by_hash_.end();)
    it = it->second.key_id == key_id ? by_hash_.erase(it) : std::next(it);
}

size_t ConsoleSessions::prune(int64_t now) {
  std::lock_guard lk(mu_);
  size_t n = 0;
  for (auto it = by_hash_.begin(); it != by_hash_.end();) {
    if (it->second.expires_at <= now) {
      it = by_hash_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  return n;
}

size_t ConsoleSessions::size() const {
  std::lock_guard lk(mu_);
  return by_hash_.size();
}

std::string cookie_value(const std::string &header, const std::string &name) {
  for (const auto &part : split(header, ';')) {
    std::string p = trim(part);
    auto eq = p.find('=');
    if (eq == std::string::npos) continue;
    if (trim(p.substr(0, eq)) == name) return trim(p.substr(eq + 1));
  }
  return "";
}

bool same_secret(const std::string &a, const std::string &b) {
  unsigned char diff = a.size() != b.size();
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

std::string content_type_for(const std::string &path) {
  static const std::map<std::string, std::string> kTypes = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"}};
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash))
    return "application/octet-stream";
  std::string ext = path.substr(dot);
  for (auto &ch : ext) ch = static_cast<char>(g_ascii_tolower(ch));
  auto it = kTypes.find(ext);
  return it == kTypes.end() ? "application/octet-stream" : it->second;
}

StaticError static_file(const std::string &root, const std::string &request_path, StaticFile *out) {
  if (root.empty() || request_path.empty() || request_path[0] != '/') return StaticError::kNotFound;
  std::string rel = request_path == "/" ? "/index.html" : request_path;
  if (ends_with(rel, "/")) return StaticError::kNotFound;
  for (const auto &seg : split(rel.substr(1), '/', false)) {
    if (seg.empty() || seg[0] == '.') return StaticError::kForbidden;
    for (char ch : seg) {
      bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '.' || ch == '_' || ch == '-';
      if (!ok) return StaticError::kForbidden;
    }
  }
  char root_real[PATH_MAX], file_real[PATH_MAX];
  if (!realpath(root.c_str(), root_real)) return StaticError::kNotFound;
  std::string full = std::string(root_real) + rel;
  if (!realpath(full.c_str(), file_real)) return StaticError::kNotFound;
  if (!starts_with(file_real, std::string(root_real) + "/")) return StaticError::kForbidden;
  struct stat st;
  if (stat(file_real, &st) != 0 || !S_ISREG(st.st_mode)) return StaticError::kNotFound;
  out->path = file_real;
  out->content_type = content_type_for(rel);
  out->size = st.st_size;
  out->mtime = st.st_mtim.tv_sec;
  out->etag = "\"" + std::to_string((long long)st.st_size) + "-" +
              std::to_string((long long)st.st_mtim.tv_sec) + "." +
              std::to_string((long long)st.st_mtim.tv_nsec) + "\"";
  return StaticError::kOk;
}

static bool is_url(const std::string &s) {
  return s.find("://") != std::string::npos || starts_with(s, "data:");
}

std::string logo_file(const ChannelRecord &r) {
  if (r.epg.logo.empty() || is_url(r.epg.logo)) return "";
  std::filesystem::path p = r.epg.logo;
  if (p.is_relative() && !r.file.empty()) p = std::filesystem::path(r.file).parent_path() / p;
  return p.lexically_normal().string();
}

std::string logo_url(const ChannelRecord &r, const std::string &base) {
  if (r.epg.logo.empty()) return "";
  if (is_url(r.epg.logo)) return r.epg.logo;
  return base + "/iptv/logos/" + r.channel_id;
}

}  // namespace iptv::control
