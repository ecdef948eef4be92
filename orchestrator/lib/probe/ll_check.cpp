#include "probe/ll_check.h"

#include <glib.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

namespace iptv::probe {

namespace {

bool starts(const std::string &s, const char *p) {
  return s.rfind(p, 0) == 0;
}

// An attribute's value: quoted or not.
std::string attr(const std::string &line, const std::string &name) {
  size_t at = 0;
  while ((at = line.find(name + "=", at)) != std::string::npos) {
    if (at == 0 || line[at - 1] == ':' || line[at - 1] == ',') break;
    at += name.size();
  }
  if (at == std::string::npos) return "";
  at += name.size() + 1;
  if (at < line.size() && line[at] == '"') {
    size_t end = line.find('"', at + 1);
    return line.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  }
  size_t end = line.find(',', at);
  return line.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

std::string fmt(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.5g", v);
  return b;
}

// Every part URI a playlist lists.
std::set<std::string> listed_parts(const LlPlaylist &pl) {
  std::set<std::string> out;
  for (const auto &s : pl.segments)
    for (const auto &p : s.parts) out.insert(p.uri);
  for (const auto &p : pl.open_parts) out.insert(p.uri);
  return out;
}

}  // namespace

LlPlaylist parse_ll_playlist(const std::string &text) {
  LlPlaylist pl;
  std::istringstream in(text);
  std::string line;
  uint64_t seq = 0;
  LlSegment cur;
  bool have_extinf = false;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (starts(line, "#EXT-X-MEDIA-SEQUENCE:")) {
      seq = std::strtoull(line.c_str() + 22, nullptr, 10);
    } else if (starts(line, "#EXT-X-PART-INF:")) {
      pl.part_target = std::atof(attr(line, "PART-TARGET").c_str());
    } else if (starts(line, "#EXT-X-PART:")) {
      LlPart p;
      p.duration = std::atof(attr(line, "DURATION").c_str());
      p.uri = attr(line, "URI");
      p.independent = attr(line, "INDEPENDENT") == "YES";
      cur.parts.push_back(p);
    } else if (starts(line, "#EXT-X-PRELOAD-HINT:")) {
      if (attr(line, "TYPE") == "PART") pl.preload_hint = attr(line, "URI");
    } else if (starts(line, "#EXTINF:")) {
      cur.duration = std::atof(line.c_str() + 8);
      have_extinf = true;
    } else if (starts(line, "#EXT-X-PROGRAM-DATE-TIME:")) {
      if (GDateTime *t = g_date_time_new_from_iso8601(line.c_str() + 25, nullptr)) {
        cur.pdt_ms = g_date_time_to_unix(t) * 1000 + g_date_time_get_microsecond(t) / 1000;
        g_date_time_unref(t);
      }
    } else if (line == "#EXT-X-DISCONTINUITY") {
      cur.discontinuity = true;
    } else if (line == "#EXT-X-ENDLIST") {
      pl.ended = true;
    } else if (!line.empty() && line[0] != '#' && have_extinf) {
      cur.uri = line;
      cur.sequence = seq + pl.segments.size();
      pl.segments.push_back(cur);
      cur = LlSegment();
      have_extinf = false;
    }
  }
  pl.open_parts = cur.parts;
  pl.open_sequence = seq + pl.segments.size();
  return pl;
}

std::vector<Issue> check_ll_playlist(const LlPlaylist &pl, double tolerance_s) {
  std::vector<Issue> out;
  bool any_parts = !pl.open_parts.empty();
  for (const auto &s : pl.segments) any_parts |= !s.parts.empty();
  if (any_parts && pl.part_target <= 0)
    out.push_back({"ll-part-inf-missing", "EXT-X-PART lines but no EXT-X-PART-INF:PART-TARGET", 0});
  auto check_parts = [&](const std::vector<LlPart> &parts, uint64_t seq) {
    if (pl.part_target <= 0) return;
    for (const auto &p : parts)
      if (p.duration > pl.part_target + 1e-6)
        out.push_back({"ll-part-duration",
                       p.uri + " lasts " + fmt(p.duration) + " s, above PART-TARGET " +
                           fmt(pl.part_target) + " s",
                       seq});
  };
  for (const auto &s : pl.segments) {
    check_parts(s.parts, s.sequence);
    if (s.parts.empty()) continue;
    double sum = 0;
    for (const auto &p : s.parts) sum += p.duration;
    // Each printed duration is rounded: allow the tolerance per part.
    if (std::fabs(sum - s.duration) > tolerance_s * std::max<size_t>(1, s.parts.size()))
      out.push_back({"ll-parts-sum",
                     "the " + std::to_string(s.parts.size()) + " parts of " + s.uri +
                         " add up to " + fmt(sum) + " s, its EXTINF is " + fmt(s.duration) + " s",
                     s.sequence});
  }
  check_parts(pl.open_parts, pl.open_sequence);
  for (size_t i = 1; i < pl.segments.size(); i++) {
    const auto &a = pl.segments[i - 1], &b = pl.segments[i];
    if (a.pdt_ms < 0 || b.pdt_ms < 0 || b.discontinuity) continue;
    double off_ms = (double)(b.pdt_ms - a.pdt_ms) - a.duration * 1000.0;
    if (std::fabs(off_ms) > tolerance_s * 1000.0 + 1e-6)
      out.push_back({"ll-pdt-extinf",
                     a.uri + ": PROGRAM-DATE-TIME + EXTINF " + fmt(a.duration) + " s is " +
                         fmt(off_ms) + " ms from the next segment's PROGRAM-DATE-TIME (a " +
                         (off_ms > 0 ? "hole" : "overlap") +
                         " for a player that aligns renditions by PDT)",
                     b.sequence});
  }
  if (!pl.preload_hint.empty() && listed_parts(pl).count(pl.preload_hint))
    out.push_back({"ll-preload-hint-listed",
                   "EXT-X-PRELOAD-HINT names " + pl.preload_hint + ", which the playlist lists",
                   pl.open_sequence});
  return out;
}

std::vector<Issue> check_preload_hint(const LlPlaylist &before, const LlPlaylist &after) {
  std::vector<Issue> out;
  if (before.preload_hint.empty() || after.ended) return out;
  auto a = listed_parts(before), b = listed_parts(after);
  bool published = false;
  for (const auto &u : b) published |= !a.count(u);
  published |= !after.segments.empty() && !before.segments.empty() &&
               after.segments.back().sequence > before.segments.back().sequence;
  if (published && after.preload_hint == before.preload_hint)
    out.push_back(
        {"ll-preload-hint-stuck",
         "new parts were published but EXT-X-PRELOAD-HINT still names " + after.preload_hint,
         after.open_sequence});
  return out;
}

}  // namespace iptv::probe
