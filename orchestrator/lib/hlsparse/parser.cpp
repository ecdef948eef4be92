#include "hlsparse/parser.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace iptv::hlsparse {

const char *severity_name(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kInfo:
      return "info";
  }
  return "error";
}

namespace {

bool parse_u64(std::string_view s, uint64_t &out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool parse_int(std::string_view s, int64_t &out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// A decimal-floating-point (no sign, no exponent, no hex, no inf/nan).
bool parse_decimal(std::string_view s, double &out) {
  if (s.empty() || s.size() > 64) return false;
  bool dot = false, digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  if (!digit) return false;
  std::string copy(s);
  out = std::strtod(copy.c_str(), nullptr);
  return std::isfinite(out);
}

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool digits(std::string_view s, size_t pos, size_t n, int &out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// The tags this parser knows (RFC 8216 and its successor draft); others give tag-unknown.
const char *const kKnownTags[] = {
    "EXTM3U",
    "EXT-X-VERSION",
    "EXTINF",
    "EXT-X-BYTERANGE",
    "EXT-X-DISCONTINUITY",
    "EXT-X-KEY",
    "EXT-X-MAP",
    "EXT-X-PROGRAM-DATE-TIME",
    "EXT-X-DATERANGE",
    "EXT-X-GAP",
    "EXT-X-BITRATE",
    "EXT-X-PART",
    "EXT-X-TARGETDURATION",
    "EXT-X-MEDIA-SEQUENCE",
    "EXT-X-DISCONTINUITY-SEQUENCE",
    "EXT-X-ENDLIST",
    "EXT-X-PLAYLIST-TYPE",
    "EXT-X-I-FRAMES-ONLY",
    "EXT-X-PART-INF",
    "EXT-X-SERVER-CONTROL",
    "EXT-X-SKIP",
    "EXT-X-PRELOAD-HINT",
    "EXT-X-RENDITION-REPORT",
    "EXT-X-MEDIA",
    "EXT-X-STREAM-INF",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-SESSION-DATA",
    "EXT-X-SESSION-KEY",
    "EXT-X-CONTENT-STEERING",
    "EXT-X-INDEPENDENT-SEGMENTS",
    "EXT-X-START",
    "EXT-X-DEFINE",
    "EXT-X-ALLOW-CACHE",
    "EXT-X-CUE-OUT",
    "EXT-X-CUE-IN",
    "EXT-X-CUE-OUT-CONT",
};

bool known_tag(std::string_view name) {
  for (const char *t : kKnownTags) {
    if (name == t) return true;
  }
  return false;
}

class Parser {
 public:
  Parser(const std::string &url, std::vector<Finding> &findings) : findings_(findings) {
    pl_.url = url;
  }

  Playlist run(std::string_view text) {
    int line_no = 0;
    size_t pos = 0;
    bool any = false;
    while (pos <= text.size()) {
      size_t nl = text.find('\n', pos);
      std::string_view line =
          text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
      pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
      ++line_no;
      line = trim_ws(line);
      if (line_no == 1) {
        // A UTF-8 byte order mark is not allowed (RFC 8216 4.1), but say so precisely.
        if (line.substr(0, 3) == "\xEF\xBB\xBF") {
          add(Severity::kError, "playlist-header-missing", line_no,
              "the playlist starts with a byte order mark");
          line.remove_prefix(3);
        }
        if (line == "#EXTM3U") {
          pl_.has_header = true;
          continue;
        }
        add(Severity::kError, "playlist-header-missing", line_no, "the first line is not #EXTM3U");
      }
      if (line.empty()) continue;
      any = true;
      if (line.front() == '#') {
        if (line.substr(0, 4) == "#EXT") tag(line.substr(1), line_no);
        continue;  // a comment
      }
      uri(std::string(line), line_no);
    }
    finish(any);
    return std::move(pl_);
  }

 private:
  void add(Severity sev, const char *rule, int line, std::string msg) {
    Finding f;
    f.severity = sev;
    f.rule = rule;
    f.url = pl_.url;
    f.line = line;
    f.message = std::move(msg);
    findings_.push_back(std::move(f));
  }

  void malformed(std::string_view name, int line, std::string_view why) {
    add(Severity::kError, "tag-malformed", line, "#" + std::string(name) + ": " + std::string(why));
  }

  void media_tag_seen(int line) {
    if (!media_line_) media_line_ = line;
  }

  void variant_tag_seen(int line) {
    if (!variant_line_) variant_line_ = line;
  }

  // A playlist tag that must come before the first segment and appear once.
  bool header_tag(std::string_view name, int line, int &seen_line) {
    if (seen_line) {
      add(Severity::kError, "tag-duplicated", line,
          "#" + std::string(name) + " already on line " + std::to_string(seen_line));
      return false;
    }
    seen_line = line;
    if (!pl_.segments.empty() || have_pending_) {
      add(Severity::kWarning, "tag-misplaced", line,
          "#" + std::string(name) + " after the first segment");
    }
    return true;
  }

  void tag(std::string_view t, int line) {
    size_t colon = t.find(':');
    std::string_view name = t.substr(0, colon);
    std::string_view value =
        colon == std::string_view::npos ? std::string_view() : t.substr(colon + 1);
    bool has_value = colon != std::string_view::npos;

    if (name == "EXTM3U") {
      add(Severity::kWarning, "tag-misplaced", line, "#EXTM3U is only allowed on the first line");
    } else if (name == "EXT-X-VERSION") {
      int64_t v = 0;
      if (!parse_int(value, v) || v < 1 || v > 100) {
        malformed(name, line, "not a version number");
      } else {
        pl_.version = static_cast<int>(v);
      }
    } else if (!segment_tag(name, value, has_value, line) && !playlist_tag(name, value, line) &&
               !master_tag(name, value, line) && !known_tag(name)) {
      add(Severity::kInfo, "tag-unknown", line, "#" + std::string(name) + " is not an HLS tag");
    }
  }

  // Media segment tags (they apply to the next URI); false when `name` is not one.
  bool segment_tag(std::string_view name, std::string_view value, bool has_value, int line) {
    if (name == "EXTINF") {
      media_tag_seen(line);
      size_t comma = value.find(',');
      std::string_view d = trim_ws(value.substr(0, comma));
      double dur = 0;
      if (!has_value || !parse_decimal(d, dur)) {
        malformed(name, line, "duration '" + std::string(d) + "' is not a decimal number");
      }
      if (comma == std::string_view::npos && has_value) {
        // RFC 8216 requires the comma; many writers omit it, players accept it.
        add(Severity::kInfo, "tag-malformed", line, "#EXTINF without the comma before the title");
      }
      if (have_pending_ && pending_.line) {
        add(Severity::kError, "segment-uri-missing", pending_.line,
            "#EXTINF followed by another #EXTINF, no URI");
      }
      pending_.duration = dur;
      pending_.line = line;
      if (comma != std::string_view::npos) pending_.title = std::string(value.substr(comma + 1));
      have_pending_ = true;
    } else if (name == "EXT-X-BYTERANGE") {
      media_tag_seen(line);
      size_t at = value.find('@');
      uint64_t len = 0, off = 0;
      bool ok = parse_u64(value.substr(0, at), len);
      if (ok && at != std::string_view::npos) {
        ok = parse_u64(value.substr(at + 1), off);
      } else if (ok) {
        off = next_byte_;
        if (!have_range_) {
          add(Severity::kError, "tag-malformed", line,
              "#EXT-X-BYTERANGE without an offset and no previous sub-range");
        }
      }
      if (!ok) {
        malformed(name, line, "expected n[@o]");
      } else {
        pending_.byterange = ByteRange{len, off};
        next_byte_ = off + len;
        have_range_ = true;
      }
      have_pending_ = true;
    } else if (name == "EXT-X-DISCONTINUITY") {
      media_tag_seen(line);
      pending_.discontinuity = true;
      have_pending_ = true;
    } else if (name == "EXT-X-GAP") {
      media_tag_seen(line);
      pending_.gap = true;
      have_pending_ = true;
    } else if (name == "EXT-X-PROGRAM-DATE-TIME") {
      media_tag_seen(line);
      auto ms = parse_iso8601_ms(value);
      if (!ms) {
        malformed(name, line, "'" + std::string(value) + "' is not an ISO 8601 date-time");
      } else {
        pending_.pdt_ms = ms;
        pending_.pdt_line = line;
      }
      have_pending_ = true;
    } else {
      return false;
    }
    return true;
  }

  // Media playlist tags; false when `name` is not one.
  bool playlist_tag(std::string_view name, std::string_view value, int line) {
    if (name == "EXT-X-TARGETDURATION") {
      media_tag_seen(line);
      if (header_tag(name, line, target_line_)) {
        int64_t v = 0;
        if (!parse_int(value, v) || v < 0 || v > 1000000) {
          malformed(name, line, "'" + std::string(value) + "' is not a decimal integer");
        } else {
          pl_.target_duration = static_cast<int>(v);
          pl_.target_duration_line = line;
        }
      }
    } else if (name == "EXT-X-MEDIA-SEQUENCE") {
      media_tag_seen(line);
      if (header_tag(name, line, msn_line_)) {
        if (!parse_u64(value, pl_.media_sequence)) {
          malformed(name, line, "'" + std::string(value) + "' is not a decimal integer");
          pl_.media_sequence = 0;
        }
        pl_.media_sequence_line = line;
      }
    } else if (name == "EXT-X-DISCONTINUITY-SEQUENCE") {
      media_tag_seen(line);
      if (header_tag(name, line, dsn_line_)) {
        if (!parse_u64(value, pl_.discontinuity_sequence)) {
          malformed(name, line, "'" + std::string(value) + "' is not a decimal integer");
          pl_.discontinuity_sequence = 0;
        }
        pl_.discontinuity_sequence_line = line;
      }
    } else if (name == "EXT-X-ENDLIST") {
      media_tag_seen(line);
      pl_.endlist = true;
    } else if (name == "EXT-X-PLAYLIST-TYPE") {
      media_tag_seen(line);
      if (value != "EVENT" && value != "VOD") {
        malformed(name, line, "expected EVENT or VOD");
      } else {
        pl_.playlist_type = std::string(value);
      }
    } else if (name == "EXT-X-INDEPENDENT-SEGMENTS") {
      pl_.independent_segments = true;
    } else if (name == "EXT-X-MAP") {
      media_tag_seen(line);
      Attributes a;
      if (!parse_attributes(value, a) || a["URI"].empty()) {
        add(Severity::kError, "attribute-malformed", line, "#EXT-X-MAP needs a URI attribute");
      } else {
        map_uri_ = a["URI"];
      }
    } else if (name == "EXT-X-KEY" || name == "EXT-X-DATERANGE") {
      media_tag_seen(line);
      Attributes a;
      if (!parse_attributes(value, a)) {
        add(Severity::kError, "attribute-malformed", line,
            "#" + std::string(name) + ": malformed attribute list");
      }
    } else {
      return false;
    }
    return true;
  }

  // Multivariant (master) playlist tags; false when `name` is not one.
  bool master_tag(std::string_view name, std::string_view value, int line) {
    if (name == "EXT-X-STREAM-INF") {
      variant_tag_seen(line);
      Variant v;
      v.line = line;
      if (!parse_attributes(value, v.attrs)) {
        add(Severity::kError, "attribute-malformed", line,
            "#EXT-X-STREAM-INF: malformed attribute list");
      }
      auto bw = v.attrs.find("BANDWIDTH");
      if (bw != v.attrs.end() && !parse_u64(bw->second, v.bandwidth)) {
        add(Severity::kError, "attribute-malformed", line,
            "BANDWIDTH '" + bw->second + "' is not a decimal integer");
      }
      if (auto c = v.attrs.find("CODECS"); c != v.attrs.end()) v.codecs = c->second;
      if (auto a = v.attrs.find("AUDIO"); a != v.attrs.end()) v.audio_group = a->second;
      if (pending_variant_) {
        add(Severity::kError, "variant-uri-missing", pending_variant_->line,
            "#EXT-X-STREAM-INF followed by another tag, no URI");
      }
      pending_variant_ = std::move(v);
    } else if (name == "EXT-X-MEDIA") {
      variant_tag_seen(line);
      Rendition r;
      r.line = line;
      if (!parse_attributes(value, r.attrs)) {
        add(Severity::kError, "attribute-malformed", line,
            "#EXT-X-MEDIA: malformed attribute list");
      }
      r.type = r.attrs["TYPE"];
      r.group_id = r.attrs["GROUP-ID"];
      r.name = r.attrs["NAME"];
      if (auto u = r.attrs.find("URI"); u != r.attrs.end()) r.uri = u->second;
      for (const char *req : {"TYPE", "GROUP-ID", "NAME"}) {
        if (r.attrs[req].empty()) {
          add(Severity::kError, "variant-attribute-missing", line,
              std::string("#EXT-X-MEDIA without ") + req);
        }
      }
      for (auto it = r.attrs.begin(); it != r.attrs.end();) {
        it = it->second.empty() ? r.attrs.erase(it) : std::next(it);
      }
      pl_.renditions.push_back(std::move(r));
    } else if (name == "EXT-X-I-FRAME-STREAM-INF" || name == "EXT-X-SESSION-DATA" ||
               name == "EXT-X-SESSION-KEY" || name == "EXT-X-CONTENT-STEERING") {
      variant_tag_seen(line);
      Attributes a;
      if (!parse_attributes(value, a)) {
        add(Severity::kError, "attribute-malformed", line,
            "#" + std::string(name) + ": malformed attribute list");
      }
    } else {
      return false;
    }
    return true;
  }

  void uri(std::string u, int line) {
    if (pending_variant_) {
      pending_variant_->uri = std::move(u);
      pl_.variants.push_back(std::move(*pending_variant_));
      pending_variant_.reset();
      return;
    }
    if (!have_pending_ || !pending_.line) {
      add(Severity::kError, "segment-extinf-missing", line, "URI '" + u + "' without #EXTINF");
      if (!media_line_ && !variant_line_) media_line_ = line;
      pending_ = Segment();
      have_pending_ = false;
      return;
    }
    Segment s = std::move(pending_);
    pending_ = Segment();
    have_pending_ = false;
    s.uri = std::move(u);
    s.uri_line = line;
    s.map_uri = map_uri_;
    s.sequence = pl_.media_sequence + pl_.segments.size();
    if (s.discontinuity) ++discontinuities_;
    s.discontinuity_sequence = pl_.discontinuity_sequence + discontinuities_;
    pl_.segments.push_back(std::move(s));
  }

  void finish(bool any) {
    if (pending_variant_) {
      add(Severity::kError, "variant-uri-missing", pending_variant_->line,
          "#EXT-X-STREAM-INF without a URI");
    }
    if (have_pending_ && pending_.line) {
      add(Severity::kError, "segment-uri-missing", pending_.line, "#EXTINF without a URI");
    }
    pl_.multivariant = variant_line_ != 0 && (media_line_ == 0 || pl_.segments.empty());
    if (variant_line_ && media_line_) {
      add(Severity::kError, "playlist-mixed", std::max(variant_line_, media_line_),
          "both multivariant and media playlist tags");
    }
    if (!pl_.multivariant) {
      if (!any) {
        add(Severity::kError, "playlist-empty", 0, "no tags and no URIs");
      } else if (!pl_.target_duration && !target_line_) {
        add(Severity::kError, "targetduration-missing", 0,
            "a media playlist needs #EXT-X-TARGETDURATION");
      }
    }
    // Recompute sequence numbers: EXT-X-MEDIA-SEQUENCE may have come late (tag-misplaced).
    uint64_t disc = 0;
    for (size_t i = 0; i < pl_.segments.size(); ++i) {
      auto &s = pl_.segments[i];
      s.sequence = pl_.media_sequence + i;
      if (s.discontinuity) ++disc;
      s.discontinuity_sequence = pl_.discontinuity_sequence + disc;
    }
  }

  Playlist pl_;
  std::vector<Finding> &findings_;
  Segment pending_;
  bool have_pending_ = false;
  std::optional<Variant> pending_variant_;
  uint64_t discontinuities_ = 0;
  uint64_t next_byte_ = 0;
  bool have_range_ = false;
  std::string map_uri_;
  int media_line_ = 0, variant_line_ = 0;
  int target_line_ = 0, msn_line_ = 0, dsn_line_ = 0;
};

}  // namespace

bool parse_attributes(std::string_view s, Attributes &attrs) {
  size_t i = 0;
  bool ok = true;
  while (i < s.size()) {
    size_t eq = s.find('=', i);
    if (eq == std::string_view::npos || eq == i) return false;
    std::string name(s.substr(i, eq - i));
    for (char c : name) {
      if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
    }
    i = eq + 1;
    std::string value;
    if (i < s.size() && s[i] == '"') {
      size_t close = s.find('"', i + 1);
      if (close == std::string_view::npos) return false;
      value = std::string(s.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      size_t comma = s.find(',', i);
      if (comma == std::string_view::npos) comma = s.size();
      value = std::string(s.substr(i, comma - i));
      if (value.empty() || value.find('"') != std::string::npos) ok = false;
      i = comma;
    }
    if (!attrs.emplace(name, value).second) ok = false;  // duplicated attribute
    if (i < s.size()) {
      if (s[i] != ',') return false;
      ++i;
      if (i == s.size()) ok = false;  // trailing comma
    }
  }
  return ok;
}

std::optional<int64_t> parse_iso8601_ms(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t i = 19;
  int64_t ms = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    ++i;
    int64_t scale = 100;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ms += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
    }
    if (i == start) return std::nullopt;
  }
  int64_t offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    int oh, om = 0;
    if (!digits(s, i + 1, 2, oh)) return std::nullopt;
    i += 3;
    if (i < s.size() && s[i] == ':') ++i;
    if (i < s.size()) {
      if (!digits(s, i, 2, om)) return std::nullopt;
      i += 2;
    }
    if (oh > 23 || om > 59) return std::nullopt;
    offset_min = sign * (oh * 60 + om);
  } else {
    return std::nullopt;  // RFC 8216 requires a time zone
  }
  if (i != s.size()) return std::nullopt;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + ms;
}

Playlist parse(std::string_view text, const std::string &url, std::vector<Finding> &findings) {
  return Parser(url, findings).run(text);
}

}  // namespace iptv::hlsparse
