// libFuzzer target: what the origin parses from a request (core/origin): the path split and
// percent-decoding (request_path.h), Range, the conditional headers and HTTP dates
// (http_conditional.h). Never a crash, a hang or undefined behaviour, and:
// - a path accepted has a rel of "/seg" parts, none empty, hidden, "." or "..", no NUL or '\\';
// - a 206 range lies within the file and is never the whole file;
// - a parsed HTTP date formats back (IMF-fixdate) to the same second;
// - the query string, decoded by libsoup as the server decodes it (soup_form_decode): the LL-HLS
//   directives (parse_hls_query) are either refused with a reason, or well formed (_HLS_part only
//   with _HLS_msn, numbers the exact decimal value, _HLS_skip YES or v2); catch-up's `start` and
//   `end` (timeshift::parse_time_arg, check_range) give a time or a reason, and a range verdict
//   is one of its documented statuses.
// The input is split at '\n' into: path, Range, If-Match, If-None-Match, If-Modified-Since,
// If-Unmodified-Since, If-Range, query. Run by tests/fuzz/fuzz.sh.
#include <glib.h>
#include <libsoup/soup.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "origin/http_conditional.h"
#include "origin/request_path.h"
#include "timeshift/time_arg.h"

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

static bool decimal(const char *s, int64_t *out) {
  if (!s || !*s) return false;
  int64_t v = 0;
  for (const char *p = s; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    if (v > (INT64_MAX - (*p - '0')) / 10) return false;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return true;
}

static void check_query(const std::string &raw) {
  GHashTable *q = soup_form_decode(raw.c_str());
  if (!q) return;
  auto value = [&](const char *k) { return static_cast<const char *>(g_hash_table_lookup(q, k)); };
  HlsQuery h = parse_hls_query(value);
  if (h.bad) {
    std::string_view b = h.bad;
    check(b == "hls-msn" || b == "hls-part" || b == "hls-skip", "an unknown refusal reason");
  } else {
    int64_t v = 0;
    const char *msn = value("_HLS_msn"), *part = value("_HLS_part"), *skip = value("_HLS_skip");
    check(msn ? decimal(msn, &v) && v == h.msn : h.msn == -1, "_HLS_msn not its decimal value");
    check(part ? decimal(part, &v) && v == h.part : h.part == -1, "_HLS_part not its value");
    check(h.part < 0 || h.msn >= 0, "_HLS_part accepted without _HLS_msn");
    check(skip ? (h.skip == 1) == (std::string_view(skip) == "YES") && h.skip >= 1 : h.skip == 0,
          "_HLS_skip not YES or v2");
  }
  int64_t ms[2] = {0, 0};
  bool have[2] = {false, false};
  const char *names[2] = {"start", "end"};
  for (int i = 0; i < 2; ++i) {
    const char *t = value(names[i]);
    if (!t) continue;
    timeshift::TimeArg a = timeshift::parse_time_arg(t);
    int64_t secs = 0;
    if (decimal(t, &secs) && strlen(t) <= 12) {
      // Whole seconds are read exactly within the years 1970..9999, refused beyond.
      if (secs * 1000 < 253402300800000LL)
        check(a.ok() && a.unix_ms == secs * 1000, "whole unix seconds not read exactly");
      else
        check(!a.ok(), "a time past the year 9999 accepted");
    }
    have[i] = a.ok();
    ms[i] = a.unix_ms;
  }
  if (have[0]) {
    const int64_t now = 1796668159000;
    auto r = timeshift::check_range(ms[0], have[1] ? ms[1] : 0, now, now - 7 * 86400000LL,
                                    now - 86400000LL);
    check(r.status == 200 || r.status == 400 || r.status == 403 || r.status == 404,
          "a range verdict outside 200/400/403/404");
    check(r.status != 200 || !have[1] || ms[1] == 0 || ms[0] <= ms[1],
          "an inverted range accepted");
  }
  g_hash_table_destroy(q);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view in(reinterpret_cast<const char *>(data), size);
  std::vector<std::string> f;
  size_t at = 0;
  while (f.size() < 8) {
    size_t nl = in.find('\n', at);
    f.emplace_back(in.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at));
    if (nl == std::string_view::npos) break;
    at = nl + 1;
  }
  f.resize(8);

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
  check_query(f[7]);
  return 0;
}
