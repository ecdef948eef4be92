#include "probe/ll_dynamic.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "origin/ll_playlist.h"

namespace iptv::probe {

namespace {

struct Seg {
  std::string duration, uri;
  bool operator==(const Seg &o) const { return duration == o.duration && uri == o.uri; }
};

struct Listed {
  std::vector<Seg> segments;
  int64_t skipped = -1;  // EXT-X-SKIP:SKIPPED-SEGMENTS, -1: none
};

Listed listed(const std::string &text) {
  Listed out;
  std::istringstream in(text);
  std::string line, extinf;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("#EXTINF:", 0) == 0) {
      extinf = line.substr(
          8, line.find(',') == std::string::npos ? std::string::npos : line.find(',') - 8);
    } else if (line.rfind("#EXT-X-SKIP:", 0) == 0) {
      auto n = hls_attribute(line, "SKIPPED-SEGMENTS");
      out.skipped = n ? std::atoll(n->c_str()) : 0;
    } else if (!line.empty() && line[0] != '#' && !extinf.empty()) {
      out.segments.push_back({extinf, line});
      extinf.clear();
    }
  }
  return out;
}

Issue issue(const std::string &rule, const std::string &message) {
  return Issue{rule, message, 0};
}

}  // namespace

std::string with_query(const std::string &url, const std::string &query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::vector<Issue> check_delta(const std::string &full, const std::string &delta) {
  std::vector<Issue> out;
  MediaPlaylistInfo f = scan_media_playlist(full), d = scan_media_playlist(delta);
  Listed lf = listed(full), ld = listed(delta);
  double total = 0;
  for (const Seg &s : lf.segments) total += std::atof(s.duration.c_str());
  if (ld.skipped < 0) {
    // No EXT-X-SKIP: then it must be the full playlist, and nothing may have been old enough.
    if (f.can_skip_until > 0 && lf.segments.size() > 1 &&
        total - std::atof(lf.segments[0].duration.c_str()) + 1e-3 >= f.can_skip_until)
      out.push_back(issue("ll-delta-boundary",
                          "_HLS_skip=YES answered without EXT-X-SKIP although the first segment "
                          "ends more than CAN-SKIP-UNTIL before the end"));
    if (ld.segments != lf.segments)
      out.push_back(issue("ll-delta-mismatch",
                          "_HLS_skip=YES answered without EXT-X-SKIP lists other segments than "
                          "the full playlist"));
    return out;
  }
  if (f.can_skip_until <= 0)
    out.push_back(issue("ll-delta-boundary",
                        "EXT-X-SKIP in a playlist without CAN-SKIP-UNTIL (delta not offered)"));
  if (d.media_sequence != f.media_sequence)
    out.push_back(issue("ll-delta-mismatch", "delta EXT-X-MEDIA-SEQUENCE " +
                                                 std::to_string(d.media_sequence) + ", full " +
                                                 std::to_string(f.media_sequence)));
  size_t n = static_cast<size_t>(ld.skipped);
  if (n > lf.segments.size() ||
      !std::equal(ld.segments.begin(), ld.segments.end(),
                  lf.segments.begin() + std::min(n, lf.segments.size()), lf.segments.end())) {
    out.push_back(issue("ll-delta-mismatch",
                        "the segments after EXT-X-SKIP:SKIPPED-SEGMENTS=" + std::to_string(n) +
                            " (" + std::to_string(ld.segments.size()) +
                            ") are not the full playlist's from segment " + std::to_string(n) +
                            " on (" + std::to_string(lf.segments.size()) + " listed)"));
  } else if (n + ld.segments.size() != lf.segments.size()) {
    out.push_back(issue("ll-delta-mismatch", "skipped + listed segments (" +
                                                 std::to_string(n + ld.segments.size()) +
                                                 ") differ from the full playlist's (" +
                                                 std::to_string(lf.segments.size()) + ")"));
  } else {
    double remaining = 0;
    for (const Seg &s : ld.segments) remaining += std::atof(s.duration.c_str());
    if (f.can_skip_until > 0 && remaining + 1e-3 < f.can_skip_until)
      out.push_back(issue(
          "ll-delta-boundary",
          "the delta skips segments inside CAN-SKIP-UNTIL: " + std::to_string(remaining) +
              " s left after EXT-X-SKIP, " + std::to_string(f.can_skip_until) + " s required"));
  }
  bool parts_suffix = d.part_uris.size() <= f.part_uris.size() &&
                      std::equal(d.part_uris.rbegin(), d.part_uris.rend(), f.part_uris.rbegin());
  if (!parts_suffix || d.parts_pending != f.parts_pending || d.preload_part != f.preload_part)
    out.push_back(issue("ll-delta-mismatch",
                        "the delta's parts or preload hint differ from the full playlist's"));
  if (d.version < 9)
    out.push_back(issue(
        "ll-delta-mismatch",
        "EXT-X-SKIP needs EXT-X-VERSION 9 or more, the delta says " + std::to_string(d.version)));
  return out;
}

std::optional<Issue> judge_blocking(double answered_ms, std::optional<double> seen_ms,
                                    double part_target_s) {
  if (!seen_ms) return std::nullopt;
  double lag = answered_ms - *seen_ms;
  if (lag <= part_target_s * 1000) return std::nullopt;
  char b[200];
  std::snprintf(b, sizeof b,
                "a blocking reload was answered %.0f ms after its part was published (a "
                "non-blocking reload listed it), more than PART-TARGET %.3f s",
                lag, part_target_s);
  return issue("ll-blocking-late", b);
}

// Delta updates: the same version asked both ways (retried when a publish came between).
static void check_delta_live(HttpClient &http, const std::string &url, int64_t give_up,
                             LlDynamicResult &res) {
  for (int attempt = 0; attempt < 5 && now_ms() < give_up; ++attempt) {
    HttpResponse full = http.get(url);
    if (!full.ok()) break;
    MediaPlaylistInfo f = scan_media_playlist(full.body);
    std::string q = "_HLS_msn=" + std::to_string(f.last_msn);
    if (f.parts_pending > 0)
      q = "_HLS_msn=" + std::to_string(f.last_msn + 1) +
          "&_HLS_part=" + std::to_string(f.parts_pending - 1);
    HttpResponse delta = http.get(with_query(url, q + "&_HLS_skip=YES"));
    if (!delta.ok()) {
      res.issues.push_back(
          issue("ll-delta-mismatch", "_HLS_skip=YES answered " + std::to_string(delta.status)));
      break;
    }
    MediaPlaylistInfo d = scan_media_playlist(delta.body);
    Listed ld = listed(delta.body);
    int64_t d_last = d.media_sequence + std::max<int64_t>(0, ld.skipped) +
                     static_cast<int64_t>(ld.segments.size()) - 1;
    if (d_last != f.last_msn || d.parts_pending != f.parts_pending) continue;  // newer version
    for (Issue &i : check_delta(full.body, delta.body)) res.issues.push_back(std::move(i));
    res.deltas_checked++;
    break;
  }
}

LlDynamicResult check_ll_dynamic(const std::string &url, const LlDynamicOptions &opts) {
  LlDynamicResult res;
  HttpClient http(opts.timeout_s);
  HttpResponse first = http.get(url);
  if (!first.ok()) return res;
  MediaPlaylistInfo info = scan_media_playlist(first.body);
  if (info.part_target <= 0) return res;
  res.low_latency = true;
  int64_t give_up = now_ms() + static_cast<int64_t>(opts.max_s * 1000);

  if (info.can_skip_until > 0) check_delta_live(http, url, give_up, res);
  if (!info.can_block_reload) return res;

  // Blocking reloads against a poller that notices each publication.
  std::mutex mu;
  int64_t want_msn = -1, want_part = -1;
  std::optional<double> seen;
  std::atomic<bool> stop{false};
  double poll_ms = std::clamp(info.part_target * 100.0, 10.0, 50.0);
  std::thread poller([&] {
    HttpClient poll(opts.timeout_s);
    while (!stop) {
      HttpResponse r = poll.get(url);
      double t = static_cast<double>(now_ms());
      if (r.ok()) {
        MediaPlaylistInfo p = scan_media_playlist(r.body);
        std::lock_guard<std::mutex> lock(mu);
        if (want_msn >= 0 && !seen && block_verdict(p, want_msn, want_part) == BlockVerdict::kReady)
          seen = t;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(poll_ms)));
    }
  });
  int measured = 0;
  while (measured < opts.rounds && now_ms() < give_up) {
    HttpResponse plain = http.get(url);
    if (!plain.ok()) break;
    MediaPlaylistInfo p = scan_media_playlist(plain.body);
    int64_t m = p.last_msn + 1, part = p.parts_pending;
    {
      std::lock_guard<std::mutex> lock(mu);
      want_msn = m;
      want_part = part;
      seen.reset();
    }
    double asked = static_cast<double>(now_ms());
    HttpResponse b = http.get(
        with_query(url, "_HLS_msn=" + std::to_string(m) + "&_HLS_part=" + std::to_string(part)));
    double answered = static_cast<double>(now_ms());
    // A fast answer comes before any poll lists the part: wait for the poll (its lag is then
    // negative: the blocking reload beat a non-blocking one).
    std::optional<double> saw;
    for (int64_t until = now_ms() + 1000;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        saw = seen;
        if (saw || now_ms() >= until || !b.ok()) {
          want_msn = -1;
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!b.ok()) {
      res.issues.push_back(
          issue("ll-blocking-refused", "CAN-BLOCK-RELOAD=YES, but _HLS_msn=" + std::to_string(m) +
                                           "&_HLS_part=" + std::to_string(part) + " answered " +
                                           std::to_string(b.status) + " " + b.error));
      break;
    }
    if (block_verdict(scan_media_playlist(b.body), m, part) != BlockVerdict::kReady) {
      res.issues.push_back(issue("ll-blocking-early", "_HLS_msn=" + std::to_string(m) +
                                                          "&_HLS_part=" + std::to_string(part) +
                                                          " answered without that part"));
      continue;
    }
    if (saw && *saw < asked) continue;  // published before it was asked: not a measurement
    ++measured;
    if (saw) res.lag_ms.push_back(answered - *saw);
    if (auto i = judge_blocking(answered, saw, info.part_target)) res.issues.push_back(*i);
  }
  stop = true;
  poller.join();
  return res;
}

}  // namespace iptv::probe
