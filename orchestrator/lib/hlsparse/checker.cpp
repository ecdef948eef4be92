#include "hlsparse/checker.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include "hlsparse/checker_codecs.h"

namespace iptv::hlsparse {

namespace {

using detail::parse_codecs;

std::string fmt(const char *f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string secs(double v) {
  return fmt("%.3f s", v);
}

int worse(Severity a, Severity b) {
  auto rank = [](Severity s) {
    return s == Severity::kError ? 2 : s == Severity::kWarning ? 1 : 0;
  };
  return std::max(rank(a), rank(b));
}

}  // namespace

void Checker::add(Finding f) {
  for (auto &e : findings_) {
    if (e.rule == f.rule && e.url == f.url && e.line == f.line && e.rendition == f.rendition &&
        e.sequence == f.sequence) {
      e.count += f.count;
      e.message = f.message;
      int w = worse(e.severity, f.severity);
      e.severity = w == 2 ? Severity::kError : w == 1 ? Severity::kWarning : Severity::kInfo;
      return;
    }
  }
  findings_.push_back(std::move(f));
}

void Checker::add(Severity sev, const std::string &rule, const std::string &url, int line,
                  const std::string &rendition, const std::string &message) {
  Finding f;
  f.severity = sev;
  f.rule = rule;
  f.url = url;
  f.line = line;
  f.rendition = rendition;
  f.message = message;
  add(std::move(f));
}

void Checker::add_seq(uint64_t sequence, Severity sev, const std::string &rule,
                      const std::string &url, int line, const std::string &rendition,
                      const std::string &message) {
  Finding f;
  f.severity = sev;
  f.rule = rule;
  f.url = url;
  f.line = line;
  f.rendition = rendition;
  f.message = message;
  f.sequence = static_cast<int64_t>(sequence);
  add(std::move(f));
}

int Checker::errors() const {
  int n = 0;
  for (const auto &f : findings_) n += f.severity == Severity::kError;
  return n;
}

void Checker::add_rendition(const RenditionInfo &info) {
  if (!summaries_.count(info.name)) order_.push_back(info.name);
  summaries_[info.name].info = info;
  state_[info.name];
}

// Rule variant-attribute-missing: BANDWIDTH is required (error); CODECS should be there (RFC 8216
// 4.3.4.2 SHOULD: warning), and RESOLUTION for video variants (warning). A variant whose AUDIO
// group names no EXT-X-MEDIA is an error too.
std::vector<RenditionInfo> Checker::on_multivariant(const Playlist &pl) {
  multivariant_url_ = pl.url;
  std::vector<RenditionInfo> out;
  std::set<std::string> audio_groups;
  for (const auto &r : pl.renditions) {
    if (r.type == "AUDIO") audio_groups.insert(r.group_id);
  }
  int index = 0;
  for (const auto &v : pl.variants) {
    ++index;
    if (!v.attrs.count("BANDWIDTH")) {
      add(Severity::kError, "variant-attribute-missing", pl.url, v.line, "",
          "#EXT-X-STREAM-INF without BANDWIDTH");
    }
    if (v.codecs.empty()) {
      add(Severity::kWarning, "variant-attribute-missing", pl.url, v.line, "",
          "#EXT-X-STREAM-INF without CODECS");
    }
    auto codecs = parse_codecs(v.codecs);
    bool video = v.codecs.empty(), audio = false;
    for (const auto &c : codecs) {
      video |= c.kind == "video";
      audio |= c.kind == "audio";
    }
    if (video && !v.attrs.count("RESOLUTION") && !v.codecs.empty()) {
      add(Severity::kWarning, "variant-attribute-missing", pl.url, v.line, "",
          "video #EXT-X-STREAM-INF without RESOLUTION");
    }
    if (!v.audio_group.empty() && !audio_groups.count(v.audio_group)) {
      add(Severity::kError, "variant-attribute-missing", pl.url, v.line, "",
          "AUDIO=\"" + v.audio_group + "\" names no #EXT-X-MEDIA TYPE=AUDIO group");
    }
    RenditionInfo info;
    // Name: the RESOLUTION height if unique, else the index.
    info.name = (video ? "v" : "audio-v") + std::to_string(index);
    if (auto res = v.attrs.find("RESOLUTION"); res != v.attrs.end()) {
      auto x = res->second.find('x');
      if (x != std::string::npos) info.name = res->second.substr(x + 1) + "p";
    }
    for (const auto &o : out) {
      if (o.name == info.name) info.name += "-" + std::to_string(index);
    }
    info.url = v.uri;
    info.line = v.line;
    info.declared_codecs = v.codecs;
    info.bandwidth = v.bandwidth;
    info.expects_video = video;
    // Audio in the variant's own segments unless an audio group carries it.
    info.expects_audio = audio && v.audio_group.empty();
    out.push_back(info);
  }
  std::set<std::string> uris;
  for (const auto &o : out) uris.insert(o.url);
  for (const auto &r : pl.renditions) {
    if (r.type != "AUDIO" || r.uri.empty() || uris.count(r.uri)) continue;
    uris.insert(r.uri);
    RenditionInfo info;
    info.name = "audio-" + (r.name.empty() ? r.group_id : r.name);
    info.url = r.uri;
    info.line = r.line;
    info.audio_only = true;
    info.expects_audio = true;
    info.expects_video = false;
    out.push_back(info);
  }
  return out;
}

// Rule targetduration-exceeded: every EXTINF rounded to the nearest integer must be at most
// EXT-X-TARGETDURATION (RFC 8216 4.3.3.1).
void Checker::rule_targetduration(const std::string &r, const Playlist &pl) {
  if (!pl.target_duration) return;
  for (const auto &s : pl.segments) {
    long rounded = std::lround(s.duration);
    if (rounded > *pl.target_duration) {
      add(Severity::kError, "targetduration-exceeded", pl.url, s.line, r,
          "EXTINF " + fmt("%.3f", s.duration) + " rounds to " + std::to_string(rounded) +
              " s, above EXT-X-TARGETDURATION " + std::to_string(*pl.target_duration) + " s");
    }
  }
}

// Rules pdt-not-monotonic and pdt-disagrees-with-durations, between consecutive segments of one
// playlist that both carry EXT-X-PROGRAM-DATE-TIME and no EXT-X-DISCONTINUITY between them.
void Checker::rule_pdt(const std::string &r, const Playlist &pl) {
  for (size_t i = 1; i < pl.segments.size(); ++i) {
    const auto &a = pl.segments[i - 1];
    const auto &b = pl.segments[i];
    if (!a.pdt_ms || !b.pdt_ms || b.discontinuity) continue;
    double step = (*b.pdt_ms - *a.pdt_ms) / 1000.0;
    if (step <= 0) {
      add(Severity::kError, "pdt-not-monotonic", pl.url, b.pdt_line, r,
          "PROGRAM-DATE-TIME goes " + secs(-step) + " backwards (or stands) from line " +
              std::to_string(a.pdt_line));
    } else if (std::fabs(step - a.duration) > cfg_.pdt_tolerance_s) {
      add(Severity::kWarning, "pdt-disagrees-with-durations", pl.url, b.pdt_line, r,
          "PROGRAM-DATE-TIME advances " + secs(step) + " but the previous EXTINF is " +
              secs(a.duration));
    }
  }
}

// Reload rules: media-sequence-regressed, segment-rewritten, discontinuity-sequence-inconsistent,
// stale-playlist, playlist-window-skipped.
void Checker::rule_reload(const std::string &r, State &st, const Playlist &pl, int64_t now_ms,
                          bool changed) {
  auto &sum = summaries_[r];
  uint64_t last = pl.segments.empty() ? pl.media_sequence : pl.segments.back().sequence;
  if (st.have_prev) {
    if (pl.media_sequence < st.prev_msn) {
      add(Severity::kError, "media-sequence-regressed", pl.url, pl.media_sequence_line, r,
          "EXT-X-MEDIA-SEQUENCE went from " + std::to_string(st.prev_msn) + " back to " +
              std::to_string(pl.media_sequence));
    } else if (!pl.segments.empty() && last < st.prev_last) {
      add(Severity::kError, "media-sequence-regressed", pl.url, pl.segments.back().line, r,
          "the newest segment went from " + std::to_string(st.prev_last) + " back to " +
              std::to_string(last));
    }
    if (pl.discontinuity_sequence < st.prev_dsn) {
      add(Severity::kError, "discontinuity-sequence-inconsistent", pl.url,
          pl.discontinuity_sequence_line, r,
          "EXT-X-DISCONTINUITY-SEQUENCE went from " + std::to_string(st.prev_dsn) + " back to " +
              std::to_string(pl.discontinuity_sequence));
    }
    if (!pl.segments.empty() && pl.media_sequence > st.prev_last + 1 && !pl.endlist) {
      add(Severity::kWarning, "playlist-window-skipped", pl.url, pl.media_sequence_line, r,
          "segments " + std::to_string(st.prev_last + 1) + ".." +
              std::to_string(pl.media_sequence - 1) +
              " left the window between two reloads (window shorter than the reload pace)");
    }
  }
  for (const auto &s : pl.segments) {
    auto it = st.seen.find(s.sequence);
    if (it == st.seen.end()) continue;
    const Seen &old = it->second;
    if (old.uri != s.uri || std::fabs(old.duration - s.duration) > 0.0005) {
      add_seq(s.sequence, Severity::kError, "segment-rewritten", pl.url, s.line, r,
              "sequence " + std::to_string(s.sequence) + " was " + old.uri + " (" +
                  fmt("%.3f", old.duration) + " s), now " + s.uri + " (" + fmt("%.3f", s.duration) +
                  " s)");
    } else if (old.discontinuity_sequence != s.discontinuity_sequence) {
      add_seq(s.sequence, Severity::kError, "discontinuity-sequence-inconsistent", pl.url, s.line,
              r,
              "sequence " + std::to_string(s.sequence) + " was in discontinuity sequence " +
                  std::to_string(old.discontinuity_sequence) + ", now " +
                  std::to_string(s.discontinuity_sequence));
    }
  }
  // Freshness (RFC 8216 6.2.1: the server must change a live playlist within 1.5 x target).
  if (changed || !st.have_prev) st.last_change_ms = now_ms;
  if (pl.live() && pl.target_duration && *pl.target_duration > 0) {
    double age = (now_ms - st.last_change_ms) / 1000.0;
    double limit = cfg_.stale_factor * *pl.target_duration;
    if (age > sum.max_stale_s) sum.max_stale_s = age;
    if (age > limit) {
      add(Severity::kError, "stale-playlist", pl.url, 0, r,
          "unchanged for " + fmt("%.1f", sum.max_stale_s) + " s, more than " + fmt("%.1f", limit) +
              " s (1.5 x target duration)");
    }
  }
  st.have_prev = true;
  st.prev_msn = pl.media_sequence;
  st.prev_last = last;
  st.prev_dsn = pl.discontinuity_sequence;
}

bool Checker::stale_now(const std::string &rendition, int64_t now_ms) const {
  auto st = state_.find(rendition);
  auto sum = summaries_.find(rendition);
  if (st == state_.end() || sum == summaries_.end() || !sum->second.target_duration) return false;
  return (now_ms - st->second.last_change_ms) / 1000.0 >
         cfg_.stale_factor * *sum->second.target_duration;
}

// Rule renditions-not-advancing-together: the newest sequence numbers of two live renditions
// (each at its latest reload) are `advance_spread_segments` or more apart, beyond what the time
// between those two reloads explains (one segment per mean segment duration).
void Checker::rule_advancing_together(const std::string &r) {
  const auto &me = summaries_[r];
  const auto &my_state = state_[r];
  if (!me.last_sequence || me.ended || me.info.audio_only) return;
  for (const auto &[name, other] : summaries_) {
    if (name == r || !other.last_sequence || other.ended || other.info.audio_only) continue;
    const auto &other_state = state_[name];
    int64_t a = static_cast<int64_t>(*me.last_sequence);
    int64_t b = static_cast<int64_t>(*other.last_sequence);
    int64_t spread = a > b ? a - b : b - a;
    // Segments appear once per segment duration (the mean EXTINF; the target is only an upper
    // bound: 1 s segments under a 2 s target advance twice per target).
    double seg_s = my_state.mean_segment_s > 0 ? my_state.mean_segment_s
                                               : std::max(1, me.target_duration.value_or(1));
    int64_t dt_ms = my_state.last_reload_ms - other_state.last_reload_ms;
    // Only the rendition reloaded earlier can have fallen behind because of when it was read.
    bool older_is_behind = (a < b) == (dt_ms < 0);
    int64_t explained =
        older_is_behind ? static_cast<int64_t>(std::fabs(dt_ms / 1000.0) / seg_s) : 0;
    if (spread >= static_cast<int64_t>(cfg_.advance_spread_segments) + explained) {
      const std::string &behind = a < b ? r : name;
      const std::string &ahead = a < b ? name : r;
      add(Severity::kWarning, "renditions-not-advancing-together", summaries_[behind].info.url, 0,
          behind,
          behind + " lists up to " + std::to_string(std::min(a, b)) + ", " + ahead + " up to " +
              std::to_string(std::max(a, b)) + " (" + std::to_string(spread) + " segments apart)");
    }
  }
}

std::vector<Segment> Checker::on_media_playlist(const std::string &r, const Playlist &pl,
                                                const std::string &text, int64_t now_ms) {
  if (!summaries_.count(r)) {
    RenditionInfo info;
    info.name = r;
    info.url = pl.url;
    add_rendition(info);
  }
  auto &st = state_[r];
  auto &sum = summaries_[r];
  st.last_reload_ms = now_ms;
  if (!pl.segments.empty()) {
    double total = 0;
    for (const auto &seg : pl.segments) total += seg.duration;
    st.mean_segment_s = total / pl.segments.size();
  }
  size_t hash = std::hash<std::string>{}(text);
  bool changed = !st.have_prev || hash != st.prev_hash;
  st.prev_hash = hash;
  ++sum.reloads;
  if (changed && st.have_prev) ++sum.changes;
  sum.target_duration = pl.target_duration;
  sum.discontinuity_sequence = pl.discontinuity_sequence;
  sum.ended = pl.endlist;

  if (changed) {
    rule_targetduration(r, pl);
    rule_pdt(r, pl);
  }
  rule_reload(r, st, pl, now_ms, changed);

  std::vector<Segment> fresh;
  for (const auto &s : pl.segments) {
    if (st.seen.count(s.sequence)) continue;
    st.seen[s.sequence] = Seen{s.uri, s.duration, s.discontinuity_sequence, s.discontinuity};
    sum.first_seen_ms[s.sequence] = now_ms;
    fresh.push_back(s);
  }
  while (st.seen.size() > 4096) st.seen.erase(st.seen.begin());
  if (!pl.segments.empty()) {
    if (!sum.first_sequence) sum.first_sequence = pl.segments.back().sequence;
    sum.last_sequence = pl.segments.back().sequence;
  }
  rule_advancing_together(r);
  return fresh;
}

void Checker::on_media_playlist_failed(const std::string &r, const std::string &url,
                                       const std::string &why) {
  add(Severity::kError, "playlist-unavailable", url, 0, r, why);
}

// Rule renditions-misaligned: segments with the same sequence number start at the same video PTS
// on every rendition (an aligned ladder lets a player switch at any boundary).
void Checker::rule_alignment(const std::string &r, uint64_t seq, const std::string &seg_url,
                             double pts) {
  auto &m = video_start_[seq];
  for (const auto &[other, opts] : m) {
    if (other == r) continue;
    double d = pts - opts;
    if (std::fabs(d) > cfg_.align_tolerance_s) {
      add_seq(seq, Severity::kError, "renditions-misaligned", seg_url, 0, r,
              "segment " + std::to_string(seq) + " starts at PTS " + fmt("%.3f", pts) +
                  " here and " + fmt("%.3f", opts) + " on " + other + " (" + fmt("%+.3f", d) +
                  " s)");
      break;
    }
  }
  m[r] = pts;
  while (video_start_.size() > 1024) video_start_.erase(video_start_.begin());
}

void Checker::on_segment(const std::string &r, const Segment &seg, const std::string &seg_url,
                         const std::string &playlist_url, const SegmentProbe &p) {
  auto &st = state_[r];
  auto &sum = summaries_[r];
  // Rule segment-missing: every listed segment downloads.
  if (!p.fetched) {
    ++sum.segments_failed;
    std::string why = p.http_status ? "HTTP " + std::to_string(p.http_status) : p.error;
    add_seq(seg.sequence, Severity::kError, "segment-missing", playlist_url, seg.line, r,
            "sequence " + std::to_string(seg.sequence) + " " + seg_url + ": " + why);
    return;
  }
  ++sum.segments_fetched;
  sum.segment_seconds += seg.duration;
  if (!p.inspected) {
    // Not inspected: unreadable when the tools failed, else inspection was not asked for.
    if (!p.error.empty()) {
      add_seq(seg.sequence, Severity::kError, "segment-unreadable", seg_url, 0, r,
              "sequence " + std::to_string(seg.sequence) + ": " + p.error);
    }
    return;
  }
  std::string mc = measured_codecs(p);
  if (!mc.empty()) sum.measured_codecs = mc;
  rule_codecs(r, seg_url, p);
  rule_ts_continuity(r, st, seg, playlist_url, p);

  // Rule segment-duration-mismatch.
  double tol = std::max(cfg_.duration_tolerance_s, 0.1 * seg.duration);
  if (std::fabs(p.duration - seg.duration) > tol) {
    add_seq(seg.sequence, Severity::kError, "segment-duration-mismatch", playlist_url, seg.line, r,
            "sequence " + std::to_string(seg.sequence) + " lasts " + secs(p.duration) +
                ", its EXTINF says " + secs(seg.duration));
  }
  // Rule segment-not-keyframe-start.
  if (p.has_video && !p.first_video_keyframe) {
    add_seq(seg.sequence, Severity::kError, "segment-not-keyframe-start", playlist_url, seg.line, r,
            "sequence " + std::to_string(seg.sequence) + " does not start with a keyframe");
  }
  // Rules audio-missing and audio-silent.
  if (sum.info.expects_audio && !p.has_audio) {
    add_seq(seg.sequence, Severity::kError, "audio-missing", playlist_url, seg.line, r,
            "sequence " + std::to_string(seg.sequence) + " has no audio stream; CODECS \"" +
                sum.info.declared_codecs + "\" says it should");
  }
  if (p.has_audio && p.audio_max_db) {
    if (*p.audio_max_db <= cfg_.silence_db) {
      ++st.silent_run;
      // One silent segment can be content; two in a row is a silent track.
      add(st.silent_run >= 2 ? Severity::kError : Severity::kWarning, "audio-silent", playlist_url,
          0, r,
          std::to_string(st.silent_run) + " segment(s) in a row up to sequence " +
              std::to_string(seg.sequence) + " with audio peaking at " +
              (*p.audio_max_db <= -999 ? std::string("-inf") : fmt("%.1f", *p.audio_max_db)) +
              " dB");
    } else {
      st.silent_run = 0;
    }
  }
  // Rule timestamp-jump: the first PTS follows the previous segment's end.
  if (p.first_pts) {
    Probed cur{*p.first_pts, p.duration, true};
    auto prev = st.probed.find(seg.sequence - 1);
    if (seg.sequence > 0 && prev != st.probed.end() && prev->second.valid && !seg.discontinuity) {
      double expected = prev->second.first_pts + prev->second.duration;
      double d = *p.first_pts - expected;
      if (std::fabs(d) > cfg_.timestamp_tolerance_s) {
        add_seq(seg.sequence, Severity::kError, "timestamp-jump", playlist_url, seg.line, r,
                "sequence " + std::to_string(seg.sequence) + " starts at PTS " +
                    fmt("%.3f", *p.first_pts) + ", the previous one ended at " +
                    fmt("%.3f", expected) + " (" + fmt("%+.3f", d) +
                    " s) with no EXT-X-DISCONTINUITY");
      }
    }
    st.probed[seg.sequence] = cur;
    while (st.probed.size() > 1024) st.probed.erase(st.probed.begin());
    if (p.has_video) rule_alignment(r, seg.sequence, seg_url, *p.first_pts);
  }
}

TsCounters scan_ts_counters(const std::string &bytes) {
  TsCounters t;
  constexpr size_t kP = 188;
  if (bytes.empty() || bytes.size() % kP != 0) return t;
  const auto *b = reinterpret_cast<const unsigned char *>(bytes.data());
  for (size_t off = 0; off < bytes.size(); off += kP) {
    if (b[off] != 0x47) return TsCounters{};
  }
  t.valid = true;
  for (size_t off = 0; off < bytes.size(); off += kP) {
    const unsigned char *p = b + off;
    unsigned pid = ((p[1] & 0x1fu) << 8) | p[2];
    if (pid == 0x1fff) continue;
    bool payload = p[3] & 0x10;
    bool adaptation = p[3] & 0x20;
    bool disc = adaptation && p[4] > 0 && (p[5] & 0x80);
    int cc = p[3] & 0x0f;
    auto [it, fresh] = t.pids.try_emplace(pid);
    TsPidCounters &c = it->second;
    if (fresh) {
      c.first_cc = cc;
      c.first_payload = payload;
      c.first_discontinuity = disc;
    } else if (!disc) {
      int want = payload ? (c.last_cc + 1) & 0x0f : c.last_cc;
      if (cc != want && ++t.errors_inside == 1)
        t.first_inside = "PID " + std::to_string(pid) + ": expected " + std::to_string(want) +
                         ", got " + std::to_string(cc);
    }
    c.last_cc = cc;
  }
  return t;
}

// Rule ts-continuity-error: each PID's continuity counter steps by one from packet to packet,
// inside a segment and from the previous segment into this one (no EXT-X-DISCONTINUITY between),
// as a demuxer reading the segments one after another expects (VLC logs "TS discontinuity",
// FFmpeg "Continuity check failed", and may drop the packet).
void Checker::rule_ts_continuity(const std::string &r, State &st, const Segment &seg,
                                 const std::string &playlist_url, const SegmentProbe &p) {
  if (!p.ts.valid) return;
  std::string what;
  int errors = p.ts.errors_inside;
  if (errors) what = "inside the segment (" + p.ts.first_inside + ")";
  if (st.ts_prev.valid && seg.sequence > 0 && st.ts_seq == seg.sequence - 1 && !seg.discontinuity) {
    std::string across;
    for (const auto &[pid, c] : p.ts.pids) {
      auto prev = st.ts_prev.pids.find(pid);
      if (prev == st.ts_prev.pids.end() || c.first_discontinuity) continue;
      int want = c.first_payload ? (prev->second.last_cc + 1) & 0x0f : prev->second.last_cc;
      if (c.first_cc == want) continue;
      ++errors;
      if (!across.empty()) across += ", ";
      across += "PID " + std::to_string(pid) + ": expected " + std::to_string(want) + ", got " +
                std::to_string(c.first_cc);
    }
    if (!across.empty())
      what += (what.empty() ? "" : "; ") + std::string("from sequence ") +
              std::to_string(seg.sequence - 1) + " (" + across + ")";
  }
  if (errors) {
    add_seq(seg.sequence, Severity::kWarning, "ts-continuity-error", playlist_url, seg.line, r,
            "sequence " + std::to_string(seg.sequence) + ": " + std::to_string(errors) +
                " continuity counter error(s) " + what);
  }
  st.ts_prev = p.ts;
  st.ts_seq = seg.sequence;
}

void Checker::finish() {
  std::stable_sort(findings_.begin(), findings_.end(), [](const Finding &a, const Finding &b) {
    auto rank = [](Severity s) {
      return s == Severity::kError ? 0 : s == Severity::kWarning ? 1 : 2;
    };
    return rank(a.severity) < rank(b.severity);
  });
}

namespace {

// The newest sequence number listed at time t (-1 before the first listing).
int64_t newest_at(const std::map<uint64_t, int64_t> &first_seen, int64_t t) {
  int64_t best = -1;
  for (const auto &[seq, ms] : first_seen) {
    if (ms <= t) best = std::max(best, static_cast<int64_t>(seq));
  }
  return best;
}

}  // namespace

CompareResult compare(const Checker &a, const std::string &a_url, const Checker &b,
                      const std::string &b_url) {
  CompareResult res;
  auto add = [&res](Severity sev, const char *rule, const std::string &url,
                    const std::string &rendition, const std::string &msg) {
    Finding f;
    f.severity = sev;
    f.rule = rule;
    f.url = url;
    f.rendition = rendition;
    f.message = msg;
    res.findings.push_back(std::move(f));
  };
  if (a.order().size() != b.order().size()) {
    add(Severity::kError, "compare-renditions-differ", b_url, "",
        "A (" + a_url + ") lists " + std::to_string(a.order().size()) + " renditions, B " +
            std::to_string(b.order().size()));
  }
  size_t n = std::min(a.order().size(), b.order().size());
  for (size_t i = 0; i < n; ++i) {
    const auto &sa = a.renditions().at(a.order()[i]);
    const auto &sb = b.renditions().at(b.order()[i]);
    CompareRendition cr;
    cr.name = sa.info.name;
    double target = sa.target_duration.value_or(sb.target_duration.value_or(1));
    if (target <= 0) target = 1;
    double limit = 1.5 * target;
    cr.a_stale = sa.max_stale_s > limit;
    cr.b_stale = sb.max_stale_s > limit;
    // Only numbers first seen after both initial loads count as arrivals.
    std::vector<double> arrivals;
    int64_t start = std::max(sa.first_seen_ms.empty() ? 0 : sa.first_seen_ms.begin()->second,
                             sb.first_seen_ms.empty() ? 0 : sb.first_seen_ms.begin()->second);
    for (const auto &[seq, ta] : sa.first_seen_ms) {
      auto it = sb.first_seen_ms.find(seq);
      if (it == sb.first_seen_ms.end() || ta <= start || it->second <= start) continue;
      arrivals.push_back((it->second - ta) / 1000.0);
    }
    if (!arrivals.empty()) {
      std::sort(arrivals.begin(), arrivals.end());
      cr.lag_s = arrivals[arrivals.size() / 2];
    }
    // Newest-number difference sampled at every listing time of either side.
    std::set<int64_t> times;
    for (const auto &[seq, t] : sa.first_seen_ms) times.insert(t);
    for (const auto &[seq, t] : sb.first_seen_ms) times.insert(t);
    for (int64_t t : times) {
      if (t < start) continue;
      int64_t na = newest_at(sa.first_seen_ms, t), nb = newest_at(sb.first_seen_ms, t);
      if (na < 0 || nb < 0) continue;
      int64_t d = na - nb;
      if (std::llabs(d) > std::llabs(cr.max_lag_segments)) cr.max_lag_segments = d;
    }
    if (sa.last_sequence && sb.last_sequence) {
      cr.lag_segments =
          static_cast<int64_t>(*sa.last_sequence) - static_cast<int64_t>(*sb.last_sequence);
    }
    int64_t worst = std::llabs(cr.lag_segments) > std::llabs(cr.max_lag_segments)
                        ? cr.lag_segments
                        : cr.max_lag_segments;
    // One segment apart happens between two reloads; two or more is a lagging copy.
    if (std::llabs(worst) >= 2 || std::fabs(cr.lag_s) > limit) {
      bool b_lags = worst > 0 || (worst == 0 && cr.lag_s > 0);
      add(std::llabs(worst) >= 3 ? Severity::kError : Severity::kWarning, "compare-lagging",
          b_lags ? sb.info.url : sa.info.url, cr.name,
          std::string(b_lags ? "B" : "A") + " lags by up to " + std::to_string(std::llabs(worst)) +
              " segment(s) (median arrival " + fmt("%+.1f", cr.lag_s) + " s, B minus A); " +
              std::to_string(std::llabs(cr.lag_segments)) + " at the end");
    }
    if (cr.a_stale != cr.b_stale) {
      add(Severity::kError, "compare-stale-copy", cr.b_stale ? sb.info.url : sa.info.url, cr.name,
          std::string(cr.b_stale ? "B" : "A") + " stayed unchanged for " +
              fmt("%.1f", cr.b_stale ? sb.max_stale_s : sa.max_stale_s) +
              " s while the other side advanced");
    }
    res.renditions.push_back(cr);
  }
  return res;
}

}  // namespace iptv::hlsparse
