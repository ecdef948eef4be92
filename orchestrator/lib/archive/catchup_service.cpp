#include "archive/catchup_service.h"

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "timeshift/catchup.h"
#include "timeshift/time_arg.h"
#include "util/strutil.h"

namespace iptv::archive {
namespace {

CatchupAnswer refuse(int status, std::string reason, std::string text = "") {
  CatchupAnswer a;
  a.status = status;
  a.reason = std::move(reason);
  a.content_type = "text/plain";
  a.body = text.empty() ? a.reason + "\n" : text + "\n";
  a.max_age = 1;
  return a;
}

// One query argument, percent-decoded; nullopt when absent.
std::optional<std::string> query_arg(const std::string &query, const std::string &name) {
  for (const auto &kv : split(query, '&')) {
    size_t eq = kv.find('=');
    std::string k = kv.substr(0, eq);
    if (k != name) continue;
    std::string v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    char *d = g_uri_unescape_string(v.c_str(), nullptr);
    if (!d) return std::string("\x01");  // an invalid escape: never a time
    std::string out = d;
    g_free(d);
    return out;
  }
  return std::nullopt;
}

bool all_digits(const std::string &s) {
  if (s.empty() || s.size() > 18) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// The SegmentTimeline durations of archived segments: each S lasts until the next one starts.
// A rendition's start_ms is its segment's PROGRAM-DATE-TIME, which the packager gives every
// rendition of a segment alike (the video's), while duration_ms is the rendition's own: an AAC
// segment holds whole 1024-sample frames (1003 or 981 ms for a 1 s segment at 48 kHz), so
// start + duration overlaps the next segment or falls short of it. A timeline with such holes
// stalls dash.js: it asks for the segment at (last start + last d + 10 ms), which lies in the
// 19 ms hole after a 981 ms audio segment, and it finds none there for good. The media itself is
// continuous, so the timeline is too; a real gap (the next segment starts more than half a
// duration late, e.g. one was lost) stays a gap.
std::vector<int64_t> timeline_durations(const std::vector<Entry> &rows) {
  std::vector<int64_t> d(rows.size());
  for (size_t i = 0; i < rows.size(); i++) {
    d[i] = rows[i].duration_ms;
    if (i + 1 == rows.size()) break;
    int64_t to_next = rows[i + 1].start_ms - rows[i].start_ms;
    if (to_next > 0 && to_next <= rows[i].duration_ms + rows[i].duration_ms / 2) d[i] = to_next;
  }
  return d;
}

}  // namespace

std::string ranged_multivariant(const std::string &text, const std::string &range_query) {
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  auto with_query = [&](const std::string &uri) {
    return uri + (uri.find('?') == std::string::npos ? "?" : "&") + range_query;
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty() && line[0] != '#') {
      out << with_query(line) << "\n";
      continue;
    }
    size_t u = line.find("URI=\"");
    if (line[0] == '#' && u != std::string::npos) {
      size_t end = line.find('"', u + 5);
      if (end != std::string::npos) {
        line =
            line.substr(0, u + 5) + with_query(line.substr(u + 5, end - u - 5)) + line.substr(end);
      }
    }
    out << line << "\n";
  }
  return out.str();
}

CatchupService::CatchupService(ArchiveIndex &index, RulesFn rules, ClockFn now)
    : index_(index), rules_(std::move(rules)), now_(std::move(now)) {
  if (!now_)
    now_ = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
}

bool CatchupService::wants(const std::string &rel, const std::string &query) {
  if (rel.find("/archive/") != std::string::npos) return true;
  if (!ends_with(rel, ".m3u8") && !ends_with(rel, ".mpd")) return false;
  return query_arg(query, "start").has_value() || query_arg(query, "end").has_value();
}

CatchupAnswer CatchupService::answer(const std::string &channel, const std::string &rel,
                                     const std::string &query) {
  auto rules = rules_(channel);
  if (!rules || rules->catchup_days <= 0)
    return refuse(404, "no_catchup", "this channel keeps no programme for catch-up");
  if (rel.find("/archive/") != std::string::npos) return segment(channel, rel);
  auto s = query_arg(query, "start");
  auto e = query_arg(query, "end");
  if (!s) return refuse(400, "malformed", "end= needs start=");
  timeshift::TimeArg start = timeshift::parse_time_arg(*s);
  if (!start.ok()) return refuse(400, "malformed", "start: " + start.error);
  timeshift::TimeArg end;
  if (e) {
    end = timeshift::parse_time_arg(*e);
    if (!end.ok()) return refuse(400, "malformed", "end: " + end.error);
  }
  int64_t now = now_();
  int64_t rights_days_ms = static_cast<int64_t>(rules->rights_days * 86400000.0);
  int64_t keep_ms = static_cast<int64_t>(rules->catchup_days * 86400000.0);
  auto x = index_.extent(channel);
  // What is kept: the retention (catchup.days) bounds it as much as what is on disk.
  int64_t kept_oldest = x.segments ? std::max(x.oldest_ms, now - keep_ms) : 0;
  timeshift::RangeCheck rc = timeshift::check_range(start.unix_ms, e ? end.unix_ms : 0, now,
                                                    now - rights_days_ms, kept_oldest);
  if (rc.status != 200) return refuse(rc.status, rc.reason);
  // The range the URIs carry: canonical unix seconds (whatever form was asked).
  std::string range = "start=" + std::to_string(start.unix_ms / 1000);
  if (start.unix_ms % 1000) range = "start=" + std::to_string(start.unix_ms / 1000.0);
  if (e) range += "&end=" + std::to_string((end.unix_ms + 999) / 1000);
  if (ends_with(rel, ".mpd")) return mpd(channel, *rules, rel, start.unix_ms, e ? end.unix_ms : 0);
  return playlist(channel, *rules, rel, start.unix_ms, e ? end.unix_ms : 0, range);
}

// An MPD over the archived fMP4 segments from start_ms, built from the channel's live
// manifest.mpd (written by iptvhlssink through core/cmaf/mpd.cpp, one element per line): its
// AdaptationSets and Representations (codecs, bandwidth, size, audio) are kept, each
// Representation's SegmentTemplate is replaced by the archive's segments with a SegmentTimeline
// in milliseconds (media time is UTC).
// - A closed range [start_ms, end_ms): a static MPD with a SegmentList of the archive URIs.
// - An open one (end_ms 0): a dynamic MPD from that past point to the live edge, as the HLS EVENT
//   playlist of index.m3u8?start=T: availabilityStartTime is the first segment's start (so the
//   presentation's clock is UTC), timeShiftBufferDepth reaches back to it, a SegmentTemplate
//   ($Time$: the archive URI's start_ms) lists what is archived so far, and players reload it
//   every target duration (minimumUpdatePeriod) as the live edge moves on.
CatchupAnswer CatchupService::mpd(const std::string &channel, const CatchupRules &rules,
                                  const std::string &rel, int64_t start_ms, int64_t end_ms) {
  const bool dynamic = end_ms == 0;
  auto parts = split(rel, '/');
  if (parts.size() != 1 || parts[0] != "manifest.mpd") return refuse(404, "path");
  std::ifstream in(rules.hot_dir + "/manifest.mpd", std::ios::binary);
  if (!in) return refuse(404, "no_dash", "the channel has no DASH manifest");
  std::istringstream live(std::string((std::istreambuf_iterator<char>(in)), {}));
  std::ostringstream body;
  std::string line, rep;
  bool skipping = false, any = false;
  int64_t first_ms = -1, last_end_ms = 0;
  std::string utc_timing;
  auto attr = [](const std::string &l, const std::string &name) {
    size_t a = l.find(" " + name + "=\"");
    if (a == std::string::npos) return std::string();
    a += name.size() + 3;
    return l.substr(a, l.find('"', a) - a);
  };
  std::ostringstream reps;
  while (std::getline(live, line)) {
    std::string t = trim(line);
    if (starts_with(t, "<UTCTiming")) utc_timing = line + "\n";  // kept when dynamic
    if (starts_with(t, "<MPD ") || starts_with(t, "<Period ") || starts_with(t, "<UTCTiming"))
      continue;  // replaced below
    if (starts_with(t, "<SegmentTemplate")) skipping = true;
    if (skipping) {
      if (starts_with(t, "</SegmentTemplate>")) skipping = false;
      continue;
    }
    if (starts_with(t, "<Representation ")) rep = attr(t, "id");
    if (starts_with(t, "</Representation>")) {
      std::vector<Entry> rows = index_.range(channel, rep, start_ms, end_ms);
      std::vector<int64_t> dur = timeline_durations(rows);
      // Dynamic: the newest archived segment is listed once its successor is, so that its
      // duration (up to the successor's start) is final: an S never changes between reloads.
      if (dynamic && rows.size() > 1) {
        rows.pop_back();
        dur.pop_back();
      }
      if (rows.empty()) return refuse(404, "not_retained", "nothing kept of " + rep + " then");
      if (first_ms < 0) {
        first_ms = rows.front().start_ms;
        last_end_ms = rows.back().start_ms + dur.back();
      }
      std::string base = rep + "/archive/";
      // Dynamic: the Period's media time 0 is the availability start (the first rendition's
      // first segment) for every rendition; static: each rendition's own first segment.
      int64_t pto = dynamic ? first_ms : rows.front().start_ms;
      if (dynamic) {
        reps << "        <SegmentTemplate timescale=\"1000\" presentationTimeOffset=\"" << pto
             << "\" initialization=\"" << base << "init-" << rows.front().start_ms
             << ".mp4\" media=\"" << base << "$Time$.m4s\">\n          <SegmentTimeline>\n";
        for (size_t i = 0; i < rows.size(); i++)
          reps << "            <S t=\"" << rows[i].start_ms << "\" d=\"" << dur[i] << "\"/>\n";
        reps << "          </SegmentTimeline>\n        </SegmentTemplate>\n";
        last_end_ms = std::max(last_end_ms, rows.back().start_ms + dur.back());
      } else {
        reps << "        <SegmentList timescale=\"1000\" presentationTimeOffset=\"" << pto
             << "\">\n          <Initialization sourceURL=\"" << base << "init-"
             << rows.front().start_ms << ".mp4\"/>\n          <SegmentTimeline>\n";
        for (size_t i = 0; i < rows.size(); i++)
          reps << "            <S t=\"" << rows[i].start_ms << "\" d=\"" << dur[i] << "\"/>\n";
        reps << "          </SegmentTimeline>\n";
        for (const Entry &r : rows)
          reps << "          <SegmentURL media=\"" << base << r.start_ms << ".m4s\"/>\n";
        reps << "        </SegmentList>\n";
      }
      any = true;
    }
    if (starts_with(t, "</MPD>")) continue;
    reps << line << "\n";
  }
  if (!any) return refuse(404, "not_retained", "nothing kept in that range");
  char dur[48];
  std::snprintf(dur, sizeof dur, "PT%.3fS", (last_end_ms - first_ms) / 1000.0);
  std::string text = reps.str();
  size_t xml_end = text.find("?>\n");
  std::string head = xml_end == std::string::npos ? "" : text.substr(0, xml_end + 3);
  if (xml_end != std::string::npos) text = text.substr(xml_end + 3);
  int target = std::max(1, (int)std::ceil(rules.target_seconds));
  body << head << "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" ";
  if (dynamic) {
    // The live edge is now: the buffer reaches back to the first segment (and a little more).
    // Players stay 10 s (4 segments at least) behind it: a segment reaches the archive a moment
    // after it is published, and a catch-up viewer gains nothing from a low latency.
    char depth[48];
    std::snprintf(depth, sizeof depth, "PT%.3fS", (now_() - first_ms) / 1000.0 + 2 * target);
    body << "profiles=\"urn:mpeg:dash:profile:isoff-live:2011\" type=\"dynamic\" "
            "availabilityStartTime=\""
         << iso8601_utc(first_ms, true) << "\" publishTime=\"" << iso8601_utc(now_(), true)
         << "\" minimumUpdatePeriod=\"PT" << target << "S\" timeShiftBufferDepth=\"" << depth
         << "\" suggestedPresentationDelay=\"PT" << std::max(10, 4 * target)
         << "S\" maxSegmentDuration=\"PT" << 2 * target << "S\" minBufferTime=\"PT" << target
         << "S\">\n";
  } else {
    body << "profiles=\"urn:mpeg:dash:profile:full:2011\" type=\"static\" "
            "mediaPresentationDuration=\""
         << dur << "\" minBufferTime=\"PT" << target << "S\">\n";
  }
  body << "  <Period id=\"0\" start=\"PT0S\">\n" << text;
  if (dynamic) body << utc_timing;
  body << "</MPD>\n";
  CatchupAnswer a;
  a.content_type = "application/dash+xml";
  a.body = body.str();
  a.max_age = dynamic ? std::max(1, target / 2) : last_end_ms <= end_ms ? 60 : 1;
  return a;
}

CatchupAnswer CatchupService::playlist(const std::string &channel, const CatchupRules &rules,
                                       const std::string &rel, int64_t start_ms, int64_t end_ms,
                                       const std::string &range_query) {
  auto parts = split(rel, '/');
  CatchupAnswer a;
  a.content_type = "application/vnd.apple.mpegurl";
  if (parts.size() == 1 && parts[0] == "index.m3u8") {
    std::ifstream in(rules.hot_dir + "/index.m3u8", std::ios::binary);
    if (!in) return refuse(404, "not_retained", "the channel has no multivariant playlist now");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    a.body = ranged_multivariant(text, range_query);
    a.max_age = 2;
    return a;
  }
  if (parts.size() != 2 || parts[1] != "index.m3u8") return refuse(404, "path");
  const std::string &rendition = parts[0];
  std::vector<Entry> rows = index_.range(channel, rendition, start_ms, end_ms);
  std::vector<timeshift::ArchivedSegment> segs;
  segs.reserve(rows.size());
  std::string last_key_id, last_key_line;
  for (const Entry &r : rows) {
    timeshift::ArchivedSegment s = r.segment();
    if (!r.init_path.empty()) s.map_uri = "archive/init-" + std::to_string(r.start_ms) + ".mp4";
    if (!r.key_id.empty() && rules.key_line) {
      // One lookup per key period, not per segment.
      if (r.key_id != last_key_id) last_key_line = rules.key_line(r.key_id);
      last_key_id = r.key_id;
      s.key = last_key_line;
    }
    segs.push_back(s);
  }
  // The extension of the rendition's files (a row moved to the object tier has no warm path).
  std::string ext = "ts";
  for (const Entry &r : rows) {
    size_t dot = r.path.rfind('.');
    if (dot != std::string::npos) {
      ext = r.path.substr(dot + 1);
      break;
    }
    if (!r.init_path.empty()) ext = "m4s";
  }
  timeshift::CatchupRequest req;
  req.start_ms = start_ms;
  req.end_ms = end_ms;
  req.target_seconds = rules.target_seconds;
  req.end_pending =
      end_ms != 0 && (rows.empty() || rows.back().start_ms + rows.back().duration_ms < end_ms);
  req.uri_for = [&](const timeshift::ArchivedSegment &s) {
    return "archive/" + std::to_string(s.start_ms) + "." + ext;
  };
  timeshift::CatchupPlaylist pl = timeshift::render_catchup(segs, req);
  if (pl.segments == 0) return refuse(404, "not_retained", "nothing kept in that range");
  a.body = pl.text;
  // A closed range entirely in the past never changes; an open one grows like a live playlist.
  a.max_age = end_ms != 0 && !req.end_pending
                  ? 60
                  : std::max(1, static_cast<int>(rules.target_seconds / 2));
  return a;
}

CatchupAnswer CatchupService::segment(const std::string &channel, const std::string &rel) {
  // "/<rendition>/archive/<start_ms>.<ext>" or ".../archive/init-<start_ms>.mp4"
  auto parts = split(rel, '/');
  if (parts.size() != 3 || parts[1] != "archive") return refuse(404, "path");
  std::string file = parts[2];
  bool init = starts_with(file, "init-");
  if (init) file = file.substr(5);
  size_t dot = file.find('.');
  std::string digits = file.substr(0, dot);
  if (dot == std::string::npos || !all_digits(digits)) return refuse(404, "path");
  Entry e;
  if (!index_.find(channel, parts[0], std::stoll(digits), &e))
    return refuse(404, "not_retained", "no such archived segment");
  CatchupAnswer a;
  a.file = init ? e.init_path : e.path;
  if (local_file_) {
    // The warm file, or the archive tier's object through its local cache.
    a.file = local_file_(e, init);
    if (a.file.empty() && (init ? !e.init_path.empty() : true))
      return refuse(503, "archive_unavailable", "the archived segment cannot be read now");
  }
  if (a.file.empty()) return refuse(404, "path");
  a.content_type =
      init || ends_with(a.file, ".m4s") || ends_with(e.path, ".m4s") || ends_with(a.file, ".mp4")
          ? "video/mp4"
          : "video/mp2t";
  a.max_age = 31536000;
  return a;
}

}  // namespace iptv::archive
