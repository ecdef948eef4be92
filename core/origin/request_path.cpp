#include "origin/request_path.h"

#include <glib.h>

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

}  // namespace iptv
