#include "origin/request_path.h"

#include <glib.h>

#include <cerrno>
#include <string_view>
#include <vector>

#include "util/strutil.h"

namespace iptv {

std::string decode_path_segment(const std::string &seg) {
  gchar *u = g_uri_unescape_string(seg.c_str(), nullptr);
  std::string out = u ? u : "\x01";  // invalid escapes: reject below
  g_free(u);
  return out;
}

MediaPathError parse_media_path(std::string_view raw_path, bool token_required, MediaPath *out) {
  auto parts = split(raw_path, '/', false);
  if (parts.size() < 4 || !parts[0].empty() || parts[1] != "hls") return MediaPathError::kNotHls;
  out->channel = decode_path_segment(parts[2]);
  size_t first_file = 3;
  if (token_required) {
    if (parts.size() < 5) return MediaPathError::kMissingToken;
    first_file = 4;
    out->token_segment = parts[3];
  }
  // The file path: every segment decoded, none empty, "." or "..", none hidden or with a '/'.
  out->rel.clear();
  for (size_t i = first_file; i < parts.size(); ++i) {
    std::string seg = decode_path_segment(parts[i]);
    if (seg.empty() || seg[0] == '.' || seg.find('/') != std::string::npos ||
        seg.find('\\') != std::string::npos || seg.find('\x01') != std::string::npos ||
        seg.find('\0') != std::string::npos)
      return MediaPathError::kBadSegment;
    out->rel += "/" + seg;
  }
  return MediaPathError::kOk;
}

HlsQuery parse_hls_query(const std::function<const char *(const char *)> &value) {
  HlsQuery q;
  auto number = [&](const char *key, int64_t *out) {
    const char *m = value(key);
    if (!m) return true;
    char *end = nullptr;
    errno = 0;
    *out = g_ascii_strtoll(m, &end, 10);
    bool ok = *m && g_ascii_isdigit(*m) && end && !*end && errno == 0;
    if (!ok) *out = -1;
    return ok;
  };
  if (!number("_HLS_msn", &q.msn)) q.bad = "hls-msn";
  if (!number("_HLS_part", &q.part)) q.bad = "hls-part";
  // _HLS_part means nothing without _HLS_msn (RFC 8216bis 6.2.5.2).
  if (q.part >= 0 && q.msn < 0 && !q.bad) q.bad = "hls-part";
  if (const char *k = value("_HLS_skip")) {
    if (std::string_view(k) == "YES")
      q.skip = 1;
    else if (std::string_view(k) == "v2")
      q.skip = 2;
    else
      q.bad = "hls-skip";
  }
  return q;
}

}  // namespace iptv
