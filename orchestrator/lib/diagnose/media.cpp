// Steps 5, 6 and 7 of the diagnosis (diagnose.h): the channel's output fetched as a viewer
// fetches it, through the origin (and an edge) with a freshly minted short token, checked by the
// probe's engine (lib/probe Follower, lib/hlsparse Checker), and decoded per rendition. The
// three run in parallel; tokens never appear in what they report.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include "diagnose/diagnose.h"
#include "hlsparse/checker.h"
#include "hlsparse/parser.h"
#include "probe/follower.h"
#include "probe/http_client.h"
#include "probe/segment_inspect.h"

namespace iptv::diagnose {

using nlohmann::json;

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// The multivariant URL's token segment replaced by "<token>".
struct Redactor {
  std::string token;
  std::string operator()(std::string s) const {
    if (token.empty()) return s;
    for (size_t at; (at = s.find(token)) != std::string::npos;)
      s.replace(at, token.size(), "<token>");
    return s;
  }
};

std::string token_of(const std::string &url) {
  // http://host/hls/<channel>/<token>/index.m3u8: the segment before the file, when it is one.
  size_t end = url.rfind('/');
  if (end == std::string::npos) return "";
  size_t start = url.rfind('/', end - 1);
  std::string seg = url.substr(start + 1, end - start - 1);
  return seg.find('=') != std::string::npos || seg.rfind("s-", 0) == 0 ? seg : "";
}

struct Followed {
  hlsparse::Checker checker;
  probe::FollowResult result;
};

void follow(const EngineConfig &cfg, const std::string &url, Followed &out) {
  probe::FollowOptions o;
  o.duration_s = cfg.follow_seconds;
  o.timeout_s = cfg.http_timeout_s;
  o.start_segments = 2;
  probe::Follower f(url, o, out.checker);
  out.result = f.run();
  out.checker.finish();
}

struct Playback {
  std::string rendition, error;
  double startup_ms = -1, decode_ms = -1;
  uint64_t sequence = 0;
  int segments = 0;           // fetched for the decoded span
  int frames = 0;             // decoded in the span
  double decoded_s = 0;       // media time decoded (from the first frame)
  double span_decode_ms = 0;  // wall time of that decode
  std::string stream;         // video | audio
};

// Step 7: each rendition played like a player starting live: from three segments from the end,
// the segments that make up the first `play_seconds` are fetched (with the init segment for
// fMP4); the first frame gives the startup time, and every frame of those seconds is decoded.
std::vector<Playback> reference_playback(const EngineConfig &cfg, const std::string &url,
                                         std::string *fatal) {
  auto t0 = std::chrono::steady_clock::now();
  probe::HttpClient http(cfg.http_timeout_s);
  auto mv = http.get(url);
  if (!mv.ok()) {
    *fatal = mv.status ? "multivariant playlist: HTTP " + std::to_string(mv.status)
                       : "multivariant playlist: " + mv.error;
    return {};
  }
  std::vector<hlsparse::Finding> ignored;
  auto pl = hlsparse::parse(mv.body, url, ignored);
  std::vector<std::string> uris;
  for (const auto &v : pl.variants) uris.push_back(v.uri);
  if (!pl.multivariant) uris = {""};  // a media playlist itself
  double mv_ms = ms_since(t0);
  std::vector<Playback> out(uris.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < uris.size(); ++i)
    threads.emplace_back([&, i] {
      Playback &p = out[i];
      auto t1 = std::chrono::steady_clock::now();
      std::string media_url = uris[i].empty() ? url : probe::resolve_url(url, uris[i]);
      p.rendition = uris[i].empty() ? "main" : uris[i].substr(0, uris[i].find('/'));
      probe::HttpClient h(cfg.http_timeout_s);
      auto m = h.get(media_url);
      if (!m.ok()) {
        p.error = "media playlist: " + (m.status ? "HTTP " + std::to_string(m.status) : m.error);
        return;
      }
      std::vector<hlsparse::Finding> f;
      auto mp = hlsparse::parse(m.body, media_url, f);
      if (mp.segments.empty()) {
        p.error = "the media playlist lists no segment";
        return;
      }
      // A live start: three segments from the end (RFC 8216 6.3.3), or the first.
      size_t first = mp.segments.size() >= 3 ? mp.segments.size() - 3 : 0;
      const auto &seg = mp.segments[first];
      p.sequence = seg.sequence;
      std::string init;
      if (!seg.map_uri.empty()) {
        auto in = h.get(probe::resolve_url(media_url, seg.map_uri));
        if (!in.ok()) {
          p.error = "init segment " + seg.map_uri + ": " +
                    (in.status ? "HTTP " + std::to_string(in.status) : in.error);
          return;
        }
        init = in.body;
      }
      auto s = h.get(probe::resolve_url(media_url, seg.uri));
      if (!s.ok()) {
        p.error = "segment " + std::to_string(seg.sequence) + ": " +
                  (s.status ? "HTTP " + std::to_string(s.status) : s.error);
        return;
      }
      std::string err;
      std::string bytes = init + s.body;
      p.decode_ms = probe::decode_first_frame_ms(bytes, err);
      if (p.decode_ms < 0) {
        p.error = "segment " + std::to_string(seg.sequence) + " does not decode: " + err;
        return;
      }
      p.startup_ms = mv_ms + ms_since(t1);
      p.segments = 1;
      // The rest of the first play_seconds: the following segments (same init segment).
      double listed = seg.duration;
      for (size_t k = first + 1; k < mp.segments.size() && listed < cfg.play_seconds - 0.01; ++k) {
        const auto &next = mp.segments[k];
        if (next.map_uri != seg.map_uri) break;
        auto n = h.get(probe::resolve_url(media_url, next.uri));
        if (!n.ok()) {
          p.error = "segment " + std::to_string(next.sequence) + ": " +
                    (n.status ? "HTTP " + std::to_string(n.status) : n.error);
          return;
        }
        bytes += n.body;
        listed += next.duration;
        p.segments++;
      }
      auto span = probe::decode_span(bytes, cfg.play_seconds, err);
      p.frames = span.frames;
      p.decoded_s = span.seconds;
      p.span_decode_ms = span.decode_ms;
      p.stream = span.stream;
      if (span.frames == 0) {
        p.error = "the first " + std::to_string((int)cfg.play_seconds) + " s do not decode: " + err;
        return;
      }
      // Short of what the playlist promised for those seconds (less a frame's worth): a
      // segment that is cut off or partly undecodable.
      double want = std::min(cfg.play_seconds, listed) - 0.1;
      if (p.decoded_s < want) {
        char b[160];
        std::snprintf(b, sizeof b,
                      "only %.2f s of %.2f s decode (%d frames from seq %llu, %d segment(s))",
                      p.decoded_s, std::min(cfg.play_seconds, listed), p.frames,
                      (unsigned long long)p.sequence, p.segments);
        p.error = b;
      }
    });
  for (auto &t : threads) t.join();
  return out;
}

// Rules about the prober rather than the stream (it fell behind on a loaded machine).
bool about_the_prober(const std::string &rule) {
  return rule == "segments-not-inspected";
}

// Freshness rules a caching edge breaks within what the origin's max-age allows it (media
// playlists may be cached for half a target duration): at the edge the lag decides instead.
bool edge_timing_rule(const std::string &rule) {
  return rule == "stale-playlist" || rule == "compare-stale-copy" || rule == "compare-lagging";
}

// The checker's findings as evidence; errors fail the step, warnings make it WARN when
// `warnings_count` (the edge's own content checks repeat the origin's: there only the
// comparison and errors count).
void report_findings(const hlsparse::Checker &ch, const Redactor &red, Step &s,
                     bool warnings_count = true, bool edge = false, int max = 6) {
  int shown = 0;
  json arr = json::array();
  for (const auto &f : ch.findings()) {
    if (f.severity == hlsparse::Severity::kInfo) continue;
    bool err = f.severity == hlsparse::Severity::kError;
    bool counts = (err && !(edge && edge_timing_rule(f.rule))) ||
                  (warnings_count && !err && !about_the_prober(f.rule));
    std::string line = std::string(err ? "error " : "warning ") + f.rule + " " +
                       (f.rendition.empty() ? "" : "[" + f.rendition + "] ") + red(f.message);
    arr.push_back({{"severity", err ? "error" : "warning"},
                   {"rule", f.rule},
                   {"rendition", f.rendition},
                   {"message", red(f.message)}});
    if (shown++ < max) s.evidence.push_back(line);
    if (!counts) continue;
    if (err) {
      if (s.status != Status::kFail)
        s.summary = "[" + f.rendition + "] " + f.rule + ": " + red(f.message);
      s.status = Status::kFail;
    } else if (s.status == Status::kPass) {
      s.status = Status::kWarn;
    }
  }
  s.data["findings"] = arr;
}

void origin_step(const Context &c, const Followed &o, const Redactor &red, Step &s) {
  const std::string &id = c.record.channel_id;
  if (!o.result.probed) {
    s.fail("the origin does not serve the channel: " + red(o.result.fatal));
    s.summary = "origin: " + red(o.result.fatal);
    s.remedy = "restart the channel (its playlists are not served)";
    s.command = command_for("restart", id);
    return;
  }
  json rends = json::array();
  for (const auto &name : o.checker.order()) {
    const auto &r = o.checker.renditions().at(name);
    rends.push_back({{"name", name},
                     {"last_sequence", r.last_sequence ? json(*r.last_sequence) : json(nullptr)},
                     {"segments_fetched", r.segments_fetched},
                     {"segments_failed", r.segments_failed},
                     {"codecs", r.measured_codecs},
                     {"max_stale_seconds", r.max_stale_s}});
    s.evidence.push_back(name + ": newest seq " +
                         (r.last_sequence ? std::to_string(*r.last_sequence) : std::string("-")) +
                         ", " + std::to_string(r.segments_fetched) + " segments fetched (" +
                         std::to_string(r.segments_failed) + " failed), codecs " +
                         (r.measured_codecs.empty() ? "-" : r.measured_codecs));
    // The origin's copy behind what the worker reported: a stale serving path.
    for (const auto &dr : c.detail.renditions)
      if (r.info.url.find("/" + dr.name + "/") != std::string::npos && r.last_sequence &&
          dr.media_sequence > (int64_t)*r.last_sequence + 2)
        s.fail("the origin serves " + dr.name + " up to seq " + std::to_string(*r.last_sequence) +
               " while the worker wrote " + std::to_string(dr.media_sequence));
  }
  s.data["renditions"] = rends;
  report_findings(o.checker, red, s);
  if (s.status == Status::kFail) {
    // The broken rendition, when the findings name one the daemon knows.
    std::string broken;
    for (const auto &f : o.checker.findings())
      if (f.severity == hlsparse::Severity::kError && !f.rendition.empty() && broken.empty())
        for (const auto &dr : c.detail.renditions)
          if (o.checker.renditions().count(f.rendition) &&
              o.checker.renditions().at(f.rendition).info.url.find("/" + dr.name + "/") !=
                  std::string::npos)
            broken = dr.name;
    if (!broken.empty() && c.detail.renditions.size() > 1) {
      s.remedy = "disable the broken rendition " + broken + " (players switch to the others)";
      s.command = command_for("disable-rendition", id, broken);
    } else {
      s.remedy = "restart the channel";
      s.command = command_for("restart", id);
    }
  } else {
    s.summary = "fresh, continuous and aligned: " + std::to_string(o.checker.order().size()) +
                " playlist(s) followed for " + std::to_string(o.result.followed_s).substr(0, 3) +
                " s";
  }
}

void edge_step(const Context &c, const Followed &o, const Followed &e, const std::string &edge_url,
               const std::string &origin_url, const Redactor &red, Step &s) {
  const std::string &id = c.record.channel_id;
  double seg_s = std::max(0.5, c.record.hls.segment_seconds);
  s.remedy = "purge the channel's manifests (edges revalidate) and clear the edge's cache";
  s.command = command_for("purge", id);
  if (!e.result.probed) {
    s.fail("the edge does not serve the channel: " + red(e.result.fatal));
    s.summary = "edge: " + red(e.result.fatal);
    s.remedy = "check the edge (is it up? does it reach the origin?)";
    s.command = "curl -sI " + red(edge_url.substr(0, edge_url.find("/hls/")) + "/");
    return;
  }
  report_findings(e.checker, red, s, false, true);
  if (!o.result.probed) {
    s.warn("no origin copy to compare with");
    return;
  }
  auto cmp = hlsparse::compare(o.checker, origin_url, e.checker, edge_url);
  json rends = json::array();
  for (const auto &r : cmp.renditions) {
    rends.push_back({{"name", r.name},
                     {"lag_segments", r.lag_segments},
                     {"max_lag_segments", r.max_lag_segments},
                     {"lag_seconds", r.lag_s},
                     {"edge_stale", r.b_stale}});
    s.evidence.push_back(r.name + ": the edge is " + std::to_string(r.lag_segments) +
                         " segment(s) behind the origin" + (r.b_stale ? " and stale" : ""));
    // An edge honouring the origin's max-age (half a target duration) trails by a segment or
    // two; more than max(2, 3 s worth) at the end is a stale copy.
    int64_t allowed = std::max<int64_t>(2, (int64_t)std::ceil(3.0 / seg_s));
    if (r.lag_segments > allowed) {
      std::string why = "the edge serves a stale copy of " + r.name + ": " +
                        std::to_string(r.lag_segments) + " segments behind the origin";
      if (s.status != Status::kFail) s.summary = why;
      s.status = Status::kFail;
    }
  }
  s.data["comparison"] = rends;
  for (const auto &f : cmp.findings) {
    if (f.severity != hlsparse::Severity::kError) continue;
    s.evidence.push_back("error " + f.rule + " " + red(f.message));
    // Timing seen while the edge's cache filled or within its allowed max-age is not a stale
    // edge: the lag at the end decides (above).
    if (edge_timing_rule(f.rule)) continue;
    if (s.status != Status::kFail) s.summary = f.rule + ": " + red(f.message);
    s.status = Status::kFail;
  }
  if (s.status != Status::kFail) {
    s.summary = "the edge serves the same playlists as the origin";
    s.remedy.clear();
    s.command.clear();
  }
}

}  // namespace

void steps_media(const EngineConfig &cfg, const Context &c, const MediaUrls &urls, Step &origin,
                 Step &edge, Step &playback) {
  Redactor red{token_of(urls.origin)};
  Followed o, e;
  std::vector<Playback> plays;
  std::string play_fatal;
  double o_ms = 0, e_ms = 0, p_ms = 0;
  std::thread te, tp;
  if (!urls.edge.empty())
    te = std::thread([&] {
      auto t0 = std::chrono::steady_clock::now();
      follow(cfg, urls.edge, e);
      e_ms = ms_since(t0);
    });
  tp = std::thread([&] {
    auto t0 = std::chrono::steady_clock::now();
    plays = reference_playback(cfg, urls.origin, &play_fatal);
    p_ms = ms_since(t0);
  });
  auto t0 = std::chrono::steady_clock::now();
  follow(cfg, urls.origin, o);
  o_ms = ms_since(t0);
  if (te.joinable()) te.join();
  tp.join();
  origin.elapsed_ms = o_ms;
  origin.data["url"] = red(urls.origin);
  origin_step(c, o, red, origin);
  edge.elapsed_ms = e_ms;
  if (urls.edge.empty()) {
    edge.status = Status::kSkip;
    edge.summary = "no --edge given";
  } else {
    edge.data["url"] = red(urls.edge);
    edge_step(c, o, e, urls.edge, urls.origin, red, edge);
  }
  // 7. reference playback
  playback.elapsed_ms = p_ms;
  json arr = json::array();
  if (!play_fatal.empty()) {
    playback.fail("nothing to play: " + play_fatal);
    playback.remedy = "restart the channel";
    playback.command = command_for("restart", c.record.channel_id);
  }
  double worst = 0;
  for (const auto &p : plays) {
    arr.push_back({{"rendition", p.rendition},
                   {"ok", p.error.empty()},
                   {"startup_ms", p.startup_ms < 0 ? json(nullptr) : json(p.startup_ms)},
                   {"decode_ms", p.decode_ms < 0 ? json(nullptr) : json(p.decode_ms)},
                   {"decoded_seconds", p.decoded_s},
                   {"frames", p.frames},
                   {"segments", p.segments},
                   {"stream", p.stream},
                   {"sequence", p.sequence},
                   {"error", p.error}});
    if (!p.error.empty()) {
      playback.fail(p.rendition + ": " + p.error);
      if (playback.command.empty() && plays.size() > 1) {
        playback.remedy = "disable the rendition that does not play";
        playback.command = command_for("disable-rendition", c.record.channel_id, p.rendition);
      }
      continue;
    }
    worst = std::max(worst, p.startup_ms);
    char b[256];
    std::snprintf(b, sizeof b,
                  "%s: first frame after %.0f ms (decode %.0f ms, seq %llu); %.2f s decoded "
                  "(%d %s frames, %d segment(s), %.0f ms)",
                  p.rendition.c_str(), p.startup_ms, p.decode_ms, (unsigned long long)p.sequence,
                  p.decoded_s, p.frames, p.stream.c_str(), p.segments, p.span_decode_ms);
    playback.evidence.push_back(b);
  }
  playback.data = {{"renditions", arr}};
  if (playback.status == Status::kPass) {
    char b[128];
    std::snprintf(b, sizeof b,
                  "%zu rendition(s) decode their first %.0f s; slowest startup %.0f ms",
                  plays.size(), cfg.play_seconds, worst);
    playback.summary = b;
    if (worst > cfg.startup_warn_s * 1000)
      playback.warn("startup over " + std::to_string((int)cfg.startup_warn_s) + " s");
  }
}

}  // namespace iptv::diagnose
