// The origin's request-path rules, pure (GLib only, no libsoup): /hls/<channel>/[<token>/]<file...>
// split on '/', each segment percent-decoded. Unit-tested and fuzzed alone (tests/fuzz/).
#pragma once

#include <string>
#include <string_view>

namespace iptv {

// One percent-decoded path segment; an invalid escape or an encoded NUL or '/' decodes to a
// string holding '\x01' (g_uri_unescape_string refuses them), which parse_media_path rejects.
std::string decode_path_segment(const std::string &seg);

enum class MediaPathError {
  kOk,
  kNotHls,        // not /hls/<channel>/<file...>: 404 "path"
  kMissingToken,  // tokens on and no token segment: 403 "missing"
  kBadSegment,    // a file segment empty, ".", "..", hidden, or holding '/', '\\', NUL: 403 "path"
};

struct MediaPath {
  std::string channel;        // decoded
  std::string token_segment;  // raw (still percent-encoded); empty when tokens are off
  std::string rel;            // "/<seg>/<seg>...": every segment decoded and checked
};

// `raw_path` is the request path as received (percent-encoded).
MediaPathError parse_media_path(std::string_view raw_path, bool token_required, MediaPath *out);

}  // namespace iptv
