#include "origin/http_conditional.h"

#include <glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <vector>

namespace iptv {

namespace {

constexpr uint64_t kHuge = uint64_t(1) << 62;  // saturation: larger than any file

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// 1*DIGIT, saturating at kHuge. False if empty or not all digits.
bool parse_digits(std::string_view s, uint64_t *out) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v >= kHuge ? kHuge : std::min(kHuge, v * 10 + uint64_t(c - '0'));
  }
  *out = v;
  return true;
}

// The entity-tags of a list (`W/"a", "b"`); false on a syntax error.
struct Tag {
  bool weak;
  std::string_view opaque;  // with its quotes
};
bool parse_tags(std::string_view s, std::vector<Tag> *out) {
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (is_ows(s[i]) || s[i] == ',')) ++i;
    if (i >= s.size()) break;
    bool weak = false;
    if (s.compare(i, 2, "W/") == 0) {
      weak = true;
      i += 2;
    }
    if (i >= s.size() || s[i] != '"') return false;
    size_t end = s.find('"', i + 1);
    if (end == std::string_view::npos) return false;
    out->push_back({weak, s.substr(i, end - i + 1)});
    i = end + 1;
    while (i < s.size() && is_ows(s[i])) ++i;
    if (i < s.size() && s[i] != ',') return false;
  }
  return true;
}

}  // namespace

RangeDecision decide_range(std::string_view header, uint64_t len, ByteRange *range) {
  std::string_view h = trim_ows(header);
  if (h.size() < 6 || g_ascii_strncasecmp(h.data(), "bytes=", 6) != 0) return RangeDecision::kWhole;
  h.remove_prefix(6);
  std::vector<ByteRange> sat;
  int specs = 0;
  size_t pos = 0;
  while (pos <= h.size()) {
    size_t comma = h.find(',', pos);
    std::string_view spec = trim_ows(
        h.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    pos = comma == std::string_view::npos ? h.size() + 1 : comma + 1;
    if (spec.empty()) continue;  // "bytes=0-1,,2-3": empty list elements are allowed
    if (++specs > kMaxRangeSpecs) return RangeDecision::kWhole;
    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return RangeDecision::kWhole;
    std::string_view a = spec.substr(0, dash), b = spec.substr(dash + 1);
    uint64_t first = 0, last = 0;
    if (a.empty()) {  // suffix: the last N bytes
      if (!parse_digits(b, &last)) return RangeDecision::kWhole;
      if (last == 0 || len == 0) continue;  // unsatisfiable
      sat.push_back({last >= len ? 0 : len - last, len - 1});
      continue;
    }
    if (!parse_digits(a, &first)) return RangeDecision::kWhole;
    if (b.empty()) {
      last = kHuge;
    } else {
      if (!parse_digits(b, &last) || last < first) return RangeDecision::kWhole;
    }
    if (first >= len) continue;  // unsatisfiable
    sat.push_back({first, std::min(last, len - 1)});
  }
  if (specs == 0) return RangeDecision::kWhole;
  if (sat.empty()) return RangeDecision::kUnsatisfiable;
  std::sort(sat.begin(), sat.end(),
            [](const ByteRange &x, const ByteRange &y) { return x.first < y.first; });
  ByteRange merged = sat[0];
  for (size_t i = 1; i < sat.size(); ++i) {
    if (sat[i].first > merged.last + 1) return RangeDecision::kWhole;  // disjoint: no multipart
    merged.last = std::max(merged.last, sat[i].last);
  }
  // A range covering the whole file is the file: 200 (RFC 9110 lets a server ignore Range).
  if (merged.first == 0 && merged.last == len - 1) return RangeDecision::kWhole;
  *range = merged;
  return RangeDecision::kPartial;
}

bool etag_list_matches(std::string_view header, std::string_view etag, bool weak) {
  std::string_view h = trim_ows(header);
  if (h == "*") return true;
  std::vector<Tag> tags;
  if (!parse_tags(h, &tags)) return false;
  std::string_view mine = etag;
  bool mine_weak = false;
  if (mine.substr(0, 2) == "W/") {
    mine_weak = true;
    mine.remove_prefix(2);
  }
  for (const auto &t : tags) {
    if (t.opaque != mine) continue;
    if (weak || (!t.weak && !mine_weak)) return true;
  }
  return false;
}

int64_t parse_http_date(std::string_view s) {
  std::string str(trim_ows(s));
  GDateTime *dt = soup_date_time_new_from_http_string(str.c_str());
  if (!dt) return -1;
  int64_t t = g_date_time_to_unix(dt);
  g_date_time_unref(dt);
  return t;
}

Precondition evaluate_preconditions(const ConditionalHeaders &h, const Validators &v) {
  // 1. If-Match, else 2. If-Unmodified-Since.
  if (h.if_match) {
    if (!etag_list_matches(h.if_match, v.etag, false)) return Precondition::kFailed;
  } else if (h.if_unmodified_since) {
    int64_t t = parse_http_date(h.if_unmodified_since);
    if (t >= 0 && v.last_modified > t) return Precondition::kFailed;
  }
  // 3. If-None-Match, else 4. If-Modified-Since (GET and HEAD only: the origin's methods).
  if (h.if_none_match) {
    if (etag_list_matches(h.if_none_match, v.etag, true)) return Precondition::kNotModified;
  } else if (h.if_modified_since) {
    int64_t t = parse_http_date(h.if_modified_since);
    if (t >= 0 && v.last_modified <= t) return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

bool if_range_allows(const char *if_range, const Validators &v) {
  if (!if_range) return true;
  std::string_view s = trim_ows(if_range);
  if (s.empty()) return false;
  // An entity-tag is compared strongly: a weak tag never matches.
  if (s[0] == '"' || s.substr(0, 2) == "W/") return s == v.etag;
  int64_t t = parse_http_date(s);
  return t >= 0 && t == static_cast<int64_t>(v.last_modified);
}

}  // namespace iptv
