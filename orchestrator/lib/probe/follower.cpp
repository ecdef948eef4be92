#include "probe/follower.h"

#include <glib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>
#include <vector>

#include "probe/http_client.h"
#include "probe/cmaf_check.h"
#include "probe/ll_check.h"
#include "probe/ll_dynamic.h"
#include "probe/segment_inspect.h"

namespace iptv::probe {

namespace {

using hlsparse::Finding;
using hlsparse::Playlist;
using hlsparse::Segment;
using hlsparse::Severity;

std::string ms_text(double ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  return buf;
}

std::string http_why(const HttpResponse &r) {
  return r.status ? "HTTP " + std::to_string(r.status) : r.error;
}

// Sleeps until `until_ms` (monotonic), in short steps.
void sleep_until(int64_t until_ms) {
  for (;;) {
    int64_t left = until_ms - now_ms();
    if (left <= 0) return;
    g_usleep(static_cast<gulong>(std::min<int64_t>(left, 200)) * 1000);
  }
}

// Where a player starts: live, `n` segments from the end; otherwise at the beginning.
size_t start_index(const Playlist &pl, int n) {
  if (!pl.live() || pl.segments.size() <= static_cast<size_t>(n)) return 0;
  return pl.segments.size() - static_cast<size_t>(n);
}

// A server that ignores Range answers 200 with the whole resource: keep the sub-range.
bool cut_range(HttpResponse &r, const hlsparse::ByteRange &br) {
  if (br.offset >= r.body.size()) return false;
  r.body = r.body.substr(br.offset, br.length);
  return true;
}

}  // namespace

void Follower::add_parse_findings(std::vector<Finding> &fs, const std::string &rendition) {
  for (auto &f : fs) {
    f.rendition = rendition;
    checker_.add(std::move(f));
  }
  fs.clear();
}

void Follower::measure_startup(const std::string &media_url, int64_t t0_ms, double multivariant_ms,
                               FollowResult &res) {
  HttpClient http(opts_.timeout_s);
  HttpResponse m = http.get(media_url);
  if (!m.ok()) {
    res.startup_detail = "no start: media playlist " + http_why(m);
    return;
  }
  std::vector<Finding> ignored;
  Playlist pl = hlsparse::parse(m.body, media_url, ignored);
  if (pl.segments.empty()) {
    res.startup_detail = "no start: the media playlist lists no segment";
    return;
  }
  const Segment &s = pl.segments[start_index(pl, opts_.start_segments)];
  std::string seg_url = resolve_url(m.final_url.empty() ? media_url : m.final_url, s.uri);
  HttpResponse seg =
      s.byterange ? http.get(seg_url, s.byterange->offset, s.byterange->length) : http.get(seg_url);
  if (s.byterange && seg.status == 200) cut_range(seg, *s.byterange);
  if (!seg.ok()) {
    res.startup_detail = "no start: " + seg_url + " " + http_why(seg);
    return;
  }
  std::string init;
  if (!s.map_uri.empty()) {
    std::string map_url = resolve_url(seg_url, s.map_uri);
    HttpResponse ir = http.get(map_url);
    if (!ir.ok()) {
      res.startup_detail = "no start: EXT-X-MAP " + map_url + " " + http_why(ir);
      return;
    }
    init = std::move(ir.body);
  }
  std::string error;
  double dec = decode_first_frame_ms(init + seg.body, error);
  if (dec < 0) {
    res.startup_detail = "no start: " + seg_url + ": " + error;
    return;
  }
  res.startup_ms = static_cast<double>(now_ms() - t0_ms);
  res.startup_detail =
      (multivariant_ms >= 0 ? "multivariant " + ms_text(multivariant_ms) + ", " : std::string()) +
      "media playlist " + ms_text(m.elapsed_ms) + ", segment " + ms_text(seg.elapsed_ms) + " (" +
      std::to_string(seg.body.size()) + " bytes), first frame decoded " + ms_text(dec);
}

void Follower::inspect(const hlsparse::RenditionInfo &r, SegmentQueue &queue, int64_t deadline_ms,
                       const std::atomic<int64_t> &give_up_ms) {
  HttpClient http(opts_.timeout_s);
  Segment s;
  std::string seg_url;
  int skipped = 0;
  std::map<std::string, std::string> init_segments;  // EXT-X-MAP URL -> bytes
  CmafTrack track;                                   // fMP4: this rendition's timeline so far
  int64_t queued_ms = 0;
  while (queue.pop(s, seg_url, &queued_ms)) {
    if (now_ms() > give_up_ms) {
      // A segment that appeared within its own duration of the deadline is one a viewer who
      // stops watching now would not have seen yet: left out without a warning. Older ones
      // were left because inspection fell behind the stream: that is said.
      if (queued_ms + static_cast<int64_t>(s.duration * 1000) < deadline_ms) ++skipped;
      continue;
    }
    hlsparse::SegmentProbe p;
    HttpResponse sr = s.byterange ? http.get(seg_url, s.byterange->offset, s.byterange->length)
                                  : http.get(seg_url);
    if (s.byterange && sr.status == 200 && cut_range(sr, *s.byterange)) {
      std::lock_guard<std::mutex> lock(mutex_);
      checker_.add(Severity::kWarning, "byterange-not-honoured", seg_url, 0, r.name,
                   "a Range request for an EXT-X-BYTERANGE got the whole resource (200, not "
                   "206): every player downloads all of it for each sub-range");
    }
    p.http_status = sr.status;
    p.error = sr.error;
    p.fetched = sr.ok();
    p.bytes = sr.body.size();
    // fMP4: the media segment is readable only after its initialization section.
    const std::string *init = nullptr;
    std::string init_error;
    if (p.fetched && !s.map_uri.empty()) {
      std::string map_url = resolve_url(seg_url, s.map_uri);
      auto it = init_segments.find(map_url);
      if (it == init_segments.end()) {
        HttpResponse ir = http.get(map_url);
        if (ir.ok())
          it = init_segments.emplace(map_url, std::move(ir.body)).first;
        else
          init_error = "EXT-X-MAP " + map_url + ": " + http_why(ir);
      }
      if (it != init_segments.end()) init = &it->second;
    }
    if (init) {
      // The CMAF rules: one track, keyframe start, tfdt continuity; its start for alignment.
      double start = -1;
      auto bytes = [](const std::string &x) {
        return std::span<const uint8_t>(reinterpret_cast<const uint8_t *>(x.data()), x.size());
      };
      auto issues = check_cmaf_segment(bytes(*init), bytes(sr.body), s.sequence, s.discontinuity,
                                       track, &start);
      std::lock_guard<std::mutex> lock(mutex_);
      cmaf_seen_ = true;
      if (track.handler == "soun") audio_track_seen_ = true;
      if (track.handler == "vide" && start >= 0) starts_[r.name][s.sequence] = start;
      for (const auto &i : issues)
        checker_.add_seq(s.sequence, Severity::kError, i.rule, seg_url, s.uri_line, r.name,
                         i.message);
    }
    if (p.fetched && opts_.inspect) {
      p.error.clear();
      if (s.map_uri.empty())
        inspect_segment(sr.body, p);
      else if (init)
        inspect_segment(*init + sr.body, p);
      else
        p.error = init_error;
    }
    // Download-only mode (--no-inspect): inspected stays false with no error, so the segment
    // counts as fetched and the content rules are skipped.
    std::lock_guard<std::mutex> lock(mutex_);
    checker_.on_segment(r.name, s, seg_url, r.url, p);
  }
  if (skipped) {
    std::lock_guard<std::mutex> lock(mutex_);
    checker_.add(Severity::kWarning, "segments-not-inspected", r.url, 0, r.name,
                 std::to_string(skipped) +
                     " new segment(s) left uninspected: inspection fell behind the stream");
  }
}

void Follower::follow(const hlsparse::RenditionInfo &r, int64_t deadline_ms) {
  HttpClient http(opts_.timeout_s);
  bool first = true;
  // Segments are downloaded and inspected on their own thread, so a slow inspection never
  // delays the reloads (a player, too, downloads while it keeps reloading).
  SegmentQueue queue;
  // After the deadline, what is still queued gets a grace period; on a machine too slow to
  // inspect at the stream's pace the rest is left (and said so) rather than running on and on.
  // Live: a short grace (the segment in flight), so the probe ends close to --duration. A finished
  // playlist is queued at once: its inspection is the work, with the longer grace.
  std::atomic<int64_t> give_up_ms{deadline_ms + 300};
  std::thread inspector(
      [this, &r, &queue, deadline_ms, &give_up_ms] { inspect(r, queue, deadline_ms, give_up_ms); });
  std::optional<LlPlaylist> prev_ll;  // low latency: the previous fetch (preload hint rule)
  while (true) {
    int64_t load_ms = now_ms();
    HttpResponse resp = http.get(r.url);
    double wait_s = 1;
    if (!resp.ok()) {
      std::lock_guard<std::mutex> lock(mutex_);
      checker_.on_media_playlist_failed(r.name, r.url, "media playlist: " + http_why(resp));
    } else {
      std::string base = resp.final_url.empty() ? r.url : resp.final_url;
      std::vector<Finding> fs;
      Playlist pl = hlsparse::parse(resp.body, r.url, fs);
      std::vector<Segment> fresh;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        add_parse_findings(fs, r.name);
        if (pl.multivariant) {
          checker_.add(Severity::kError, "playlist-mixed", r.url, 0, r.name,
                       "a multivariant playlist where a media playlist was expected");
        }
        fresh = checker_.on_media_playlist(r.name, pl, resp.body, load_ms);
        ++loaded_;
      }
      // Low-latency HLS: the part rules on this fetch, the preload hint against the last one.
      LlPlaylist ll = parse_ll_playlist(resp.body);
      if (ll.low_latency()) {
        auto issues = check_ll_playlist(ll);
        if (prev_ll) {
          auto more = check_preload_hint(*prev_ll, ll);
          issues.insert(issues.end(), more.begin(), more.end());
        }
        prev_ll = ll;
        std::lock_guard<std::mutex> lock(mutex_);
        // A PDT off its EXTINF is a warning: a player may still play (hls.js stalled on it).
        for (const auto &i : issues)
          checker_.add_seq(i.sequence,
                           i.rule == "ll-pdt-extinf" ? Severity::kWarning : Severity::kError,
                           i.rule, r.url, 0, r.name, i.message);
      }
      if (first) {
        // A player joining a live stream starts a few segments from the end.
        size_t from = start_index(pl, opts_.start_segments);
        uint64_t from_seq = from < pl.segments.size() ? pl.segments[from].sequence : 0;
        fresh.erase(std::remove_if(fresh.begin(), fresh.end(),
                                   [&](const Segment &s) { return s.sequence < from_seq; }),
                    fresh.end());
        if (!pl.live()) {
          // A finished playlist: as much as a viewer would watch in the probe's duration.
          double total = 0;
          size_t keep = 0;
          while (keep < fresh.size() && total < opts_.duration_s) total += fresh[keep++].duration;
          fresh.resize(std::max<size_t>(keep, std::min<size_t>(fresh.size(), 1)));
        }
      }
      first = false;
      // A reload at the deadline checks the playlist still advances; its new segments come after
      // the followed time, as they would for a viewer who stops watching now.
      if (load_ms >= deadline_ms) fresh.clear();
      for (const auto &s : fresh) {
        if (s.gap) continue;  // EXT-X-GAP: the server says it is not there
        queue.push(s, resolve_url(base, s.uri));
      }
      if (!pl.live()) {  // ENDLIST or VOD: nothing more will come
        give_up_ms = deadline_ms + static_cast<int64_t>(std::max(20.0, opts_.duration_s) * 1000);
        break;
      }
      double target = pl.target_duration.value_or(1);
      if (target <= 0) target = 1;
      bool changed = !fresh.empty();
      // RFC 8216 6.3.4: reload after the target duration; after an unchanged reload, half.
      wait_s = changed ? target : target / 2;
    }
    // Follow for exactly the duration: the last reload happens at the deadline, not one target
    // duration before or after it.
    if (load_ms >= deadline_ms || now_ms() >= deadline_ms) break;
    int64_t next = std::min(load_ms + static_cast<int64_t>(wait_s * 1000), deadline_ms);
    sleep_until(next);
  }
  queue.close();
  inspector.join();
}

FollowResult Follower::run() {
  FollowResult res;
  int64_t t0 = now_ms();
  HttpClient http(opts_.timeout_s);
  HttpResponse top = http.get(url_);
  if (!top.ok()) {
    res.fatal = "GET " + url_ + ": " + http_why(top);
    return res;
  }
  std::string base = top.final_url.empty() ? url_ : top.final_url;
  std::vector<Finding> fs;
  Playlist pl = hlsparse::parse(top.body, url_, fs);
  bool hls = pl.has_header || !pl.variants.empty() || !pl.segments.empty();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    add_parse_findings(fs, "");
  }
  if (!hls) {
    res.fatal = url_ + " is not an HLS playlist";
    return res;
  }
  std::vector<hlsparse::RenditionInfo> renditions;
  if (pl.multivariant) {
    std::lock_guard<std::mutex> lock(mutex_);
    renditions = checker_.on_multivariant(pl);
    for (auto &r : renditions) {
      r.url = resolve_url(base, r.url);
      checker_.add_rendition(r);
    }
    if (renditions.empty()) {
      res.fatal = url_ + " lists no variant";
      return res;
    }
    measure_startup(renditions.front().url, t0, top.elapsed_ms, res);
  } else {
    hlsparse::RenditionInfo r;
    r.name = "main";
    r.url = url_;
    // A media playlist alone says nothing about its codecs: audio is checked when present.
    std::lock_guard<std::mutex> lock(mutex_);
    checker_.add_rendition(r);
    renditions.push_back(r);
  }
  if (!pl.multivariant) {
    // The startup of a media playlist URL: the media playlist is the first request.
    measure_startup(url_, t0, -1, res);
  }
  // --duration counts from the first request: the startup measurement is part of it.
  int64_t start = t0;
  int64_t deadline = start + static_cast<int64_t>(opts_.duration_s * 1000);
  std::vector<std::thread> threads;
  for (const auto &r : renditions)
    threads.emplace_back([this, r, deadline] { follow(r, deadline); });
  // Low-latency HLS: the dynamic rules (ll_dynamic.h) on the first rendition, meanwhile.
  threads.emplace_back([this, r = renditions.front(), deadline, &res] {
    LlDynamicOptions o;
    o.timeout_s = opts_.timeout_s;
    o.max_s = std::max<double>(1, (deadline - now_ms()) / 1000.0);
    LlDynamicResult ll = check_ll_dynamic(r.url, o);
    std::lock_guard<std::mutex> lock(mutex_);
    res.ll_blocking_lag_ms = ll.lag_ms;
    for (const Issue &i : ll.issues)
      checker_.add(Severity::kError, i.rule, r.url, 0, r.name, i.message);
  });
  for (auto &t : threads) t.join();
  res.followed_s = (now_ms() - start) / 1000.0;
  std::lock_guard<std::mutex> lock(mutex_);
  if (loaded_ == 0) {
    res.fatal = "no media playlist could be loaded";
    return res;
  }
  res.probed = true;
  if (cmaf_seen_) {
    // fMP4 renditions: the same sequence number starts at the same instant in every video
    // rendition, and some rendition carries the audio.
    for (const auto &i : check_alignment(starts_))
      checker_.add_seq(i.sequence, Severity::kError, i.rule, url_, 0, "", i.message);
    if (!audio_track_seen_)
      checker_.add(Severity::kWarning, "cmaf-no-audio", url_, 0, "",
                   "no fMP4 rendition carries an audio track (soun)");
  }
  return res;
}

}  // namespace iptv::probe
