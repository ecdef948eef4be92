// The origin's request-path rules, pure (GLib only, no libsoup): /hls/<channel>/[<token>/]<file...>
// split on '/', each segment percent-decoded. Unit-tested and fuzzed alone (tests/fuzz/).
#pragma once

#include <cstdint>
#include <functional>
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

// A media playlist request's LL-HLS directives (RFC 8216bis 6.2.5), from its decoded query:
// `value(name)` is the query's value for `name`, or null when absent. `_HLS_msn` and `_HLS_part`
// are decimal integers (digits only), `_HLS_skip` is YES or v2, and `_HLS_part` needs `_HLS_msn`.
struct HlsQuery {
  int64_t msn = -1;   // _HLS_msn, -1: none
  int64_t part = -1;  // _HLS_part, -1: none
  int skip = 0;       // 0 none, 1 YES, 2 v2 (Playlist Delta Update)
  // The refusal reason of the (last) malformed directive: "hls-msn", "hls-part", "hls-skip";
  // nullptr when every directive is well formed.
  const char *bad = nullptr;
};
HlsQuery parse_hls_query(const std::function<const char *(const char *)> &value);

}  // namespace iptv
