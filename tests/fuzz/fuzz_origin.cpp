// libFuzzer target: what the origin parses from a request (core/origin): the path split and
// percent-decoding (request_path.h), Range, the conditional headers and HTTP dates
// (http_conditional.h). Never a crash, a hang or undefined behaviour, and:
// - a path accepted has a rel of "/seg" parts, none empty, hidden, "." or "..", no NUL or '\\';
// - a 206 range lies within the file and is never the whole file;
// - a parsed HTTP date formats back (IMF-fixdate) to the same second.
// The input is split at '\n' into: path, Range, If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, If-Range. Run by tests/fuzz/fuzz.sh.
#include <glib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "origin/http_conditional.h"
#include "origin/request_path.h"

using namespace iptv;

static void check(bool ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "invariant failed: %s\n", what);
    abort();
  }
}

static void check_date(const std::string &s) {
  int64_t t = parse_http_date(s);
  if (t < 0) return;
  GDateTime *dt = g_date_time_new_from_unix_utc(t);
  if (!dt) return;  // beyond year 9999
  gchar *f = g_date_time_format(dt, "%a, %d %b %Y %H:%M:%S GMT");
  g_date_time_unref(dt);
  if (!f) return;
  int64_t back = parse_http_date(f);
  g_free(f);
  check(back == t, "an HTTP date does not survive formatting");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in(reinterpret_cast<const char *>(data), size);
  std::vector<std::string> f;
  size_t at = 0;
  while (f.size() < 7) {
    size_t nl = in.find('\n', at);
    f.emplace_back(in.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  f.resize(7);

  for (bool token : {false, true}) {
    MediaPath mp;
    MediaPathError e = parse_media_path(f[0], token, &mp);
    if (e != MediaPathError::kOk) continue;
    check(!mp.rel.empty() && mp.rel[0] == '/', "rel does not start with '/'");
    check(token || mp.token_segment.empty(), "a token segment without tokens");
    check(mp.rel.find('\0') == std::string::npos && mp.rel.find('\\') == std::string::npos,
          "rel holds NUL or a backslash");
    check(mp.rel.find("//") == std::string::npos && mp.rel.find("/.") == std::string::npos,
          "rel holds an empty, hidden or dot segment");
    check(mp.rel.back() != '/', "rel ends with '/'");
  }

  // The file length from the path's first bytes, so both small and huge files are tried.
  uint64_t len = 0;
  for (size_t i = 0; i < f[0].size() && i < 8; ++i) len = (len << 8) | (unsigned char)f[0][i];
  for (uint64_t l : {len, len % 5000, uint64_t(0), uint64_t(1)}) {
    ByteRange r{7, 9};
    RangeDecision d = decide_range(f[1], l, &r);
    if (d == RangeDecision::kPartial) {
      check(l > 0 && r.first <= r.last && r.last < l, "a 206 range outside the file");
      check(!(r.first == 0 && r.last == l - 1), "a 206 range covering the whole file");
    }
  }

  Validators v;
  v.etag = "\"1234-1700000000.5\"";
  v.last_modified = 1700000000;
  ConditionalHeaders h;
  const char *p[5];
  for (int i = 0; i < 5; ++i) p[i] = f[2 + i].empty() ? nullptr : f[2 + i].c_str();
  h.if_match = p[0];
  h.if_none_match = p[1];
  h.if_modified_since = p[2];
  h.if_unmodified_since = p[3];
  h.if_range = p[4];
  (void)evaluate_preconditions(h, v);
  (void)if_range_allows(h.if_range, v);
  (void)etag_list_matches(f[2], v.etag, false);
  (void)etag_list_matches(f[3], v.etag, true);
  for (int i = 4; i < 7; ++i) check_date(f[i]);
  return 0;
}
