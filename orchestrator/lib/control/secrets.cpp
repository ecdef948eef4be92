#include "control/secrets.h"

#include <glib.h>
#include <sys/random.h>

#include <cerrno>
#include <chrono>
#include <stdexcept>

namespace iptv::control {

std::string random_hex(size_t n) {
  std::string raw(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(raw.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("getrandom failed");
    }
    got += static_cast<size_t>(r);
  }
  static const char *hex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * n);
  for (unsigned char c : raw) {
    out.push_back(hex[c >> 4]);
    out.push_back(hex[c & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  gchar *s = g_compute_checksum_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(data.data()), data.size());
  std::string out = s;
  g_free(s);
  return out;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  gchar *s = g_compute_hmac_for_data(G_CHECKSUM_SHA256,
                                     reinterpret_cast<const guchar *>(key.data()), key.size(),
                                     reinterpret_cast<const guchar *>(data.data()), data.size());
  std::string out = s;
  g_free(s);
  return out;
}

std::string redact_uri(const std::string &uri) {
  std::string out = uri;
  size_t scheme = out.find("://");
  if (scheme == std::string::npos) return out;
  size_t host_start = scheme + 3;
  size_t path_start = out.find('/', host_start);
  size_t at = out.find('@', host_start);
  if (at != std::string::npos && (path_start == std::string::npos || at < path_start)) {
    out = out.substr(0, host_start) + "***@" + out.substr(at + 1);
    path_start = out.find('/', host_start);
  }
  size_t q = out.find('?');
  if (q != std::string::npos) out = out.substr(0, q) + "?***";
  if (out.rfind("rtmp", 0) == 0 && path_start != std::string::npos) {
    size_t end = out.find('?', path_start);
    std::string path =
        out.substr(path_start, end == std::string::npos ? std::string::npos : end - path_start);
    size_t last = path.rfind('/');
    if (last != std::string::npos && last > 0 && last + 1 < path.size())
      out = out.substr(0, path_start) + path.substr(0, last + 1) + "***" +
            (end == std::string::npos ? "" : out.substr(end));
  }
  return out;
}

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 128 || s == "." || s == "..") return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t now_unix() {
  return now_ms() / 1000;
}

}  // namespace iptv::control
