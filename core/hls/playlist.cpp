#include "hls/playlist.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <vector>

#include "util/strutil.h"

namespace iptv::hls {

void MediaPlaylist::restart_window_on_gap(uint64_t sequence) {
  // A live playlist numbers its segments implicitly (EXT-X-MEDIA-SEQUENCE, then +1 each): a
  // sequence that skips numbers (epoch numbering after a restart that took longer than a
  // segment) cannot follow the listed ones without every later segment's implied number
  // differing from its own (its file name, mfhd, DASH $Number$, _HLS_msn). The window restarts
  // at the new number, as the DASH SegmentTimeline does; the old segments go to the caller
  // (through add()) to be retired like any other that left the window.
  if (type_ != PlaylistType::kLive || segments_.empty() || sequence <= next_sequence_) return;
  for (auto &s : segments_) {
    if (s.discontinuity) discontinuity_sequence_++;
    gap_removed_.push_back(std::move(s));
  }
  segments_.clear();
  max_rounded_ = 0;
}

void MediaPlaylist::open_segment(uint64_t sequence, bool discontinuity, int64_t pdt_ms,
                                 const std::string &map_uri) {
  restart_window_on_gap(sequence);
  open_ = Segment();
  open_.sequence = sequence;
  open_.discontinuity = discontinuity;
  open_.pdt_ms = pdt_ms;
  open_.map_uri = map_uri;
  have_open_ = true;
}

void MediaPlaylist::add_part(const Part &p) {
  if (have_open_) open_.parts.push_back(p);
}

RenditionReport MediaPlaylist::report(const std::string &uri) const {
  RenditionReport r;
  r.uri = uri;
  if (have_open_ && !open_.parts.empty()) {
    r.last_msn = open_.sequence;
    r.last_part = (int64_t)open_.parts.size() - 1;
  } else if (!segments_.empty()) {
    r.last_msn = segments_.back().sequence;
    r.last_part = segments_.back().parts.empty() ? -1 : (int64_t)segments_.back().parts.size() - 1;
  } else {
    r.last_msn = next_sequence_;
  }
  return r;
}

std::vector<Segment> MediaPlaylist::add(const Segment &in) {
  Segment s = in;
  if (have_open_ && open_.sequence == in.sequence && s.parts.empty()) s.parts = open_.parts;
  have_open_ = false;
  open_ = Segment();
  if (s.sequence < next_sequence_) s.sequence = next_sequence_;
  restart_window_on_gap(s.sequence);
  std::vector<Segment> removed = std::move(gap_removed_);
  gap_removed_.clear();
  if (!removed.empty()) s.discontinuity = true;
  next_sequence_ = s.sequence + 1;
  max_rounded_ = std::max(max_rounded_, (int)std::lround(s.duration));
  segments_.push_back(s);
  if (type_ != PlaylistType::kLive) return removed;
  // Live: keep the last `window_` segments, or more to cover the DVR window.
  auto total = [&] {
    double t = 0;
    for (const auto &x : segments_) t += x.duration;
    return t;
  };
  while ((int)segments_.size() > std::max(window_, 1)) {
    if (dvr_ > 0 && total() - segments_.front().duration < dvr_) break;
    const Segment &f = segments_.front();
    // RFC 8216 6.2.2: removing a segment that carries EXT-X-DISCONTINUITY increments
    // EXT-X-DISCONTINUITY-SEQUENCE.
    if (f.discontinuity) discontinuity_sequence_++;
    removed.push_back(f);
    segments_.pop_front();
  }
  return removed;
}

int MediaPlaylist::target_duration() const {
  return std::max({(int)std::ceil(target_ - 1e-9), max_rounded_, 1});
}

std::string format_pdt(int64_t ms) {
  return iso8601_utc(ms, true);
}

namespace {
std::string seconds(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.5f", v);
  return b;
}
// Shortest decimal for an attribute (0.5, 1.5, 12).
std::string decimal(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", v);
  std::string s = b;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}
void render_parts(std::ostringstream &o, const std::vector<Part> &parts) {
  for (const auto &p : parts) {
    o << "#EXT-X-PART:DURATION=" << seconds(p.duration) << ",URI=\"" << p.uri << "\"";
    if (p.independent) o << ",INDEPENDENT=YES";
    o << "\n";
  }
}
}  // namespace

std::string MediaPlaylist::render() const {
  std::ostringstream o;
  const bool ll = part_target_ > 0;
  // fMP4 playlists (EXT-X-MAP before the segments of each init segment) say version 7; low
  // latency says 9 (the origin's delta updates, EXT-X-SKIP, need it: RFC 8216bis 8).
  bool fmp4 = (!segments_.empty() && !segments_.front().map_uri.empty()) ||
              (segments_.empty() && have_open_ && !open_.map_uri.empty());
  o << "#EXTM3U\n#EXT-X-VERSION:" << (ll ? 9 : fmp4 ? 7 : 6) << "\n";
  o << "#EXT-X-TARGETDURATION:" << target_duration() << "\n";
  if (ll) {
    o << "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL="
      << decimal(6.0 * target_duration()) << ",PART-HOLD-BACK=" << decimal(3 * part_target_)
      << "\n";
    o << "#EXT-X-PART-INF:PART-TARGET=" << decimal(part_target_) << "\n";
  }
  o << "#EXT-X-MEDIA-SEQUENCE:" << media_sequence() << "\n";
  o << "#EXT-X-DISCONTINUITY-SEQUENCE:" << discontinuity_sequence_ << "\n";
  if (type_ == PlaylistType::kEvent || (type_ == PlaylistType::kVod && !ended_))
    o << "#EXT-X-PLAYLIST-TYPE:EVENT\n";
  else if (type_ == PlaylistType::kVod)
    o << "#EXT-X-PLAYLIST-TYPE:VOD\n";
  o << "#EXT-X-INDEPENDENT-SEGMENTS\n";
  // Parts are listed for the segments that start within the last 3 target durations
  // (RFC 8216bis 6.2.2: older parts are removed).
  double end = 0;
  for (const auto &s : segments_) end += s.duration;
  if (ll && have_open_)
    for (const auto &p : open_.parts) end += p.duration;
  const double parts_from = end - 3.0 * target_duration() - 1e-6;
  double at = 0;
  std::string map, key;
  for (const auto &s : segments_) {
    if (s.discontinuity) o << "#EXT-X-DISCONTINUITY\n";
    if (s.map_uri != map) {
      map = s.map_uri;
      // The init segment stays clear: an EXT-X-MAP under an AES-128 EXT-X-KEY is one that key
      // encrypts (RFC 8216 4.3.2.5; hls.js and ffmpeg decrypt it then), so the key is lifted
      // before a map and set again after it.
      if (!map.empty() && !key.empty()) {
        o << "#EXT-X-KEY:METHOD=NONE\n";
        key.clear();
      }
      if (!map.empty()) o << "#EXT-X-MAP:URI=\"" << map << "\"\n";
    }
    if (s.key != key) {
      key = s.key;
      o << "#EXT-X-KEY:" << (key.empty() ? std::string("METHOD=NONE") : key) << "\n";
    }
    if (s.pdt_ms > 0) o << "#EXT-X-PROGRAM-DATE-TIME:" << format_pdt(s.pdt_ms) << "\n";
    if (ll && at >= parts_from) render_parts(o, s.parts);
    at += s.duration;
    o << "#EXTINF:" << seconds(s.duration) << ",\n" << s.uri << "\n";
  }
  if (ll && have_open_ && !ended_ && !open_.parts.empty()) {
    if (open_.discontinuity) o << "#EXT-X-DISCONTINUITY\n";
    if (open_.map_uri != map && !open_.map_uri.empty())
      o << "#EXT-X-MAP:URI=\"" << open_.map_uri << "\"\n";
    if (open_.pdt_ms > 0) o << "#EXT-X-PROGRAM-DATE-TIME:" << format_pdt(open_.pdt_ms) << "\n";
    render_parts(o, open_.parts);
  }
  if (ll && !ended_ && !preload_hint_.empty())
    o << "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"" << preload_hint_ << "\"\n";
  if (ll)
    for (const auto &r : reports_) {
      o << "#EXT-X-RENDITION-REPORT:URI=\"" << r.uri << "\",LAST-MSN=" << r.last_msn;
      if (r.last_part >= 0) o << ",LAST-PART=" << r.last_part;
      o << "\n";
    }
  if (ended_) o << "#EXT-X-ENDLIST\n";
  return o.str();
}

bool MediaPlaylist::restore(const std::string &text) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || trim(line) != "#EXTM3U") return false;
  std::deque<Segment> segs;
  uint64_t seq = 0, dseq = 0;
  bool have_seq = false;
  Segment cur;
  std::string map, key;
  bool pending = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty()) continue;
    if (starts_with(line, "#EXT-X-MEDIA-SEQUENCE:")) {
      seq = std::stoull(line.substr(22));
      have_seq = true;
    } else if (starts_with(line, "#EXT-X-DISCONTINUITY-SEQUENCE:")) {
      dseq = std::stoull(line.substr(30));
    } else if (line == "#EXT-X-DISCONTINUITY") {
      cur.discontinuity = true;
    } else if (starts_with(line, "#EXT-X-KEY:")) {
      key = line.substr(11);
      if (key == "METHOD=NONE") key.clear();
    } else if (starts_with(line, "#EXT-X-MAP:URI=\"")) {
      map = line.substr(16, line.find('"', 16) - 16);
    } else if (starts_with(line, "#EXT-X-PROGRAM-DATE-TIME:")) {
      // Restored only for continuity of the window; parse YYYY-MM-DDTHH:MM:SS.mmmZ.
      int y, mo, d, h, mi, sec, ms = 0;
      if (std::sscanf(line.c_str() + 25, "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &sec,
                      &ms) >= 6) {
        struct tm tm = {};
        tm.tm_year = y - 1900;
        tm.tm_mon = mo - 1;
        tm.tm_mday = d;
        tm.tm_hour = h;
        tm.tm_min = mi;
        tm.tm_sec = sec;
        cur.pdt_ms = (int64_t)timegm(&tm) * 1000 + ms;
      }
    } else if (starts_with(line, "#EXT-X-PART:")) {
      // Our own EXT-X-PART lines: DURATION=<s>,URI="<uri>"[,INDEPENDENT=YES].
      Part part;
      size_t d = line.find("DURATION="), u = line.find("URI=\"");
      if (d != std::string::npos) part.duration = std::atof(line.c_str() + d + 9);
      if (u != std::string::npos) part.uri = line.substr(u + 5, line.find('"', u + 5) - (u + 5));
      part.independent = line.find("INDEPENDENT=YES") != std::string::npos;
      if (!part.uri.empty()) cur.parts.push_back(part);
    } else if (starts_with(line, "#EXTINF:")) {
      cur.duration = std::atof(line.c_str() + 8);
      pending = true;
    } else if (line[0] != '#' && pending) {
      cur.uri = line;
      cur.map_uri = map;
      cur.key = key;
      segs.push_back(cur);
      cur = Segment();
      pending = false;
    } else if (line == "#EXT-X-ENDLIST") {
      ended_ = true;
    }
  }
  if (!have_seq) return false;
  orphans_ = cur.parts;  // parts of a segment the previous run never completed
  have_open_ = false;
  for (size_t i = 0; i < segs.size(); ++i) segs[i].sequence = seq + i;
  segments_ = segs;
  discontinuity_sequence_ = dseq;
  next_sequence_ = seq + segs.size();
  max_rounded_ = 0;
  for (const auto &s : segments_)
    max_rounded_ = std::max(max_rounded_, (int)std::lround(s.duration));
  ended_ = false;  // a restarted stream continues
  return true;
}

void MediaPlaylist::drop_window() {
  for (const auto &s : segments_)
    if (s.discontinuity) discontinuity_sequence_++;
  segments_.clear();
  max_rounded_ = 0;
}

void MediaPlaylist::resume_at(uint64_t sequence) {
  next_sequence_ = std::max(next_sequence_, sequence);
}

std::string render_multivariant(std::vector<Variant> variants,
                                const std::vector<AudioMedia> &audio) {
  std::stable_sort(variants.begin(), variants.end(),
                   [](const Variant &a, const Variant &b) { return a.bandwidth < b.bandwidth; });
  std::ostringstream o;
  o << "#EXTM3U\n#EXT-X-VERSION:" << (audio.empty() ? 6 : 7) << "\n#EXT-X-INDEPENDENT-SEGMENTS\n";
  for (size_t i = 0; i < audio.size(); i++) {
    const auto &a = audio[i];
    o << "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"" << a.group_id << "\",NAME=\"" << a.name << "\"";
    if (!a.language.empty()) o << ",LANGUAGE=\"" << a.language << "\"";
    o << ",DEFAULT=" << (i == 0 ? "YES" : "NO") << ",AUTOSELECT=YES,URI=\"" << a.uri << "\"\n";
  }
  for (const auto &v : variants) {
    o << "#EXT-X-STREAM-INF:BANDWIDTH=" << v.bandwidth;
    if (v.average_bandwidth) o << ",AVERAGE-BANDWIDTH=" << v.average_bandwidth;
    if (v.width > 0 && v.height > 0) o << ",RESOLUTION=" << v.width << "x" << v.height;
    if (v.frame_rate > 0) {
      char fr[32];
      std::snprintf(fr, sizeof fr, "%.3f", v.frame_rate);
      o << ",FRAME-RATE=" << fr;
    }
    if (!v.codecs.empty()) o << ",CODECS=\"" << v.codecs << "\"";
    if (!v.audio_group.empty()) o << ",AUDIO=\"" << v.audio_group << "\"";
    o << "\n" << v.uri << "\n";
  }
  return o.str();
}

std::string avc1_codec_from_annexb(const uint8_t *d, size_t n) {
  for (size_t i = 0; i + 4 < n; ++i) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
      size_t h = i + 3;
      if (h + 3 < n && (d[h] & 0x1f) == 7) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "avc1.%02x%02x%02x", d[h + 1], d[h + 2], d[h + 3]);
        return buf;
      }
      i += 2;
    }
  }
  return {};
}

std::string hvc1_codec_from_annexb(const uint8_t *d, size_t n) {
  for (size_t i = 0; i + 3 < n; ++i) {
    if (!(d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1)) continue;
    size_t h = i + 3;
    if (h + 2 >= n || ((d[h] >> 1) & 0x3f) != 33) {  // 33: SPS
      i += 2;
      continue;
    }
    // RBSP after the 2-byte NAL header, without emulation-prevention bytes, enough for
    // sps_video_parameter_set_id..general_level_idc (1 + 12 bytes).
    std::vector<uint8_t> rbsp;
    int zeros = 0;
    for (size_t k = h + 2; k < n && rbsp.size() < 13; ++k) {
      if (zeros >= 2 && d[k] == 3) {
        zeros = 0;
        continue;
      }
      zeros = d[k] == 0 ? zeros + 1 : 0;
      rbsp.push_back(d[k]);
    }
    if (rbsp.size() < 13) return {};
    const uint8_t *ptl = rbsp.data() + 1;  // profile_tier_level(1, ...)
    int space = ptl[0] >> 6, tier = (ptl[0] >> 5) & 1, profile = ptl[0] & 0x1f;
    uint32_t compat =
        (uint32_t)ptl[1] << 24 | (uint32_t)ptl[2] << 16 | (uint32_t)ptl[3] << 8 | ptl[4];
    uint32_t reversed = 0;
    for (int b = 0; b < 32; ++b)
      if (compat & (1u << b)) reversed |= 1u << (31 - b);
    char buf[64];
    std::string out = "hvc1.";
    if (space) out += (char)('A' + space - 1);
    std::snprintf(buf, sizeof buf, "%d.%X.%c%d", profile, reversed, tier ? 'H' : 'L', ptl[11]);
    out += buf;
    int last = 5;  // drop trailing zero constraint bytes
    while (last >= 0 && ptl[5 + last] == 0) --last;
    for (int b = 0; b <= last; ++b) {
      std::snprintf(buf, sizeof buf, ".%X", ptl[5 + b]);
      out += buf;
    }
    return out;
  }
  return {};
}

std::string mp4a_codec_from_asc(const uint8_t *d, size_t n) {
  if (n < 1) return "mp4a.40.2";
  int aot = d[0] >> 3;
  if (aot == 31 && n >= 2) aot = 32 + (((d[0] & 7) << 3) | (d[1] >> 5));
  if (aot == 0) aot = 2;
  return "mp4a.40." + std::to_string(aot);
}

}  // namespace iptv::hls
