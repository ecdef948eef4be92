// iptvctl probe URL [--duration S] [--format text|json] [--compare URL2] [--no-inspect]
// Follows an HLS stream as a viewer would and checks it (docs/probe.md).
// Exit: 0 no errors, 1 errors found, 2 the stream could not be probed at all.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <chrono>
#include <glib.h>
#include <thread>

#include "hlsparse/report.h"
#include "iptvctl/commands.h"
#include "probe/cmaf_check.h"
#include "probe/follower.h"
#include "probe/http_client.h"

namespace iptvctl {

namespace {
int usage(FILE *out) {
  std::fprintf(out,
               "usage: iptvctl probe URL [--duration SECONDS] [--format text|json]\n"
               "                    [--compare URL2] [--timeout SECONDS] [--no-inspect]\n"
               "Follows the HLS stream at URL for --duration seconds (default 20) as a player\n"
               "(a URL ending in .mpd: the DASH MPD, its segments and the HLS beside them)\n"
               "would, inspects every new segment with ffmpeg and reports broken rules.\n"
               "--compare follows URL2 too (e.g. an edge and its origin) and reports which side\n"
               "lags and stale copies. Exit: 0 no errors, 1 errors, 2 could not probe.\n");
  return out == stdout ? 0 : 2;
}

// A DASH MPD (URL ending in .mpd): fetched again every minimumUpdatePeriod for the duration,
// each time checked with its segments and the HLS playlists beside them (probe/cmaf_check.h).
iptv::probe::FollowResult follow_mpd(const std::string &url, const iptv::probe::FollowOptions &opts,
                                     iptv::hlsparse::Checker &checker) {
  iptv::probe::FollowResult res;
  iptv::probe::HttpClient http(opts.timeout_s);
  iptv::probe::MpdState state;
  auto fetch = [&](const std::string &u) -> std::optional<std::string> {
    auto r = http.get(u);
    if (!r.ok()) return std::nullopt;
    return std::move(r.body);
  };
  int64_t t0 = iptv::probe::now_ms();
  do {
    int64_t started = iptv::probe::now_ms();
    auto r = http.get(url);
    if (!r.ok()) {
      if (state.updates == 0) {
        res.fatal = "GET " + url + ": " + (r.status ? "HTTP " + std::to_string(r.status) : r.error);
        return res;
      }
      checker.add(iptv::hlsparse::Severity::kError, "mpd-fetch", url, 0, "",
                  "the MPD could not be fetched again: " +
                      (r.status ? "HTTP " + std::to_string(r.status) : r.error));
    } else {
      if (state.updates == 0) res.startup_ms = r.elapsed_ms;
      auto info = iptv::probe::parse_mpd(r.body, nullptr);
      for (const auto &i : iptv::probe::check_mpd(r.body, url, g_get_real_time() / 1000, fetch,
                                                  state, opts.inspect)) {
        if (i.sequence)
          checker.add_seq(i.sequence, iptv::hlsparse::Severity::kError, i.rule, url, 0, "",
                          i.message);
        else
          checker.add(iptv::hlsparse::Severity::kError, i.rule, url, 0, "", i.message);
      }
      if (state.updates == 0 && !info) {
        res.fatal = url + " is not a DASH MPD";
        return res;
      }
      if (info && !info->dynamic) break;  // a static MPD does not change
      double wait_s = info && info->min_update_s > 0 ? info->min_update_s : 2;
      int64_t next = started + (int64_t)(wait_s * 1000);
      while (iptv::probe::now_ms() < next && iptv::probe::now_ms() - t0 < opts.duration_s * 1000)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } while (iptv::probe::now_ms() - t0 < opts.duration_s * 1000);
  res.probed = true;
  res.followed_s = (iptv::probe::now_ms() - t0) / 1000.0;
  return res;
}

bool is_mpd(const std::string &url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  return path.size() > 4 && path.compare(path.size() - 4, 4, ".mpd") == 0;
}

bool parse_seconds(const char *s, double &out) {
  char *end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0' && out >= 0 && out <= 86400;
}
}  // namespace

int cmd_probe(int argc, char **argv) {
  std::string url, compare_url, format = "text";
  iptv::probe::FollowOptions opts;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") return usage(stdout);
    if (a == "--no-inspect") {
      opts.inspect = false;
      continue;
    }
    if (a.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return usage(stderr);
      const char *v = argv[++i];
      double d = 0;
      if (a == "--duration" && parse_seconds(v, d)) {
        opts.duration_s = d;
      } else if (a == "--timeout" && parse_seconds(v, d) && d >= 1) {
        opts.timeout_s = static_cast<int>(d);
      } else if (a == "--format" && (std::string(v) == "json" || std::string(v) == "text")) {
        format = v;
      } else if (a == "--compare") {
        compare_url = v;
      } else {
        std::fprintf(stderr, "iptvctl probe: bad option %s %s\n", a.c_str(), v);
        return usage(stderr);
      }
    } else if (url.empty()) {
      url = a;
    } else {
      return usage(stderr);
    }
  }
  if (url.empty()) return usage(stderr);

  iptv::hlsparse::Checker checker_a, checker_b;
  if (is_mpd(url)) {
    // DASH: the MPD, its segments, and the HLS playlists over the same files.
    auto ra = follow_mpd(url, opts, checker_a);
    iptv::hlsparse::Report report;
    checker_a.finish();
    report.a = iptv::hlsparse::make_stream_report(url, checker_a);
    report.a.duration_s = ra.followed_s;
    report.a.startup_ms = ra.startup_ms;
    report.probed = ra.probed;
    report.fatal = ra.fatal;
    std::string out =
        format == "json" ? iptv::hlsparse::to_json(report) : iptv::hlsparse::to_text(report);
    std::fputs(out.c_str(), stdout);
    return report.exit_code();
  }
  iptv::probe::Follower fa(url, opts, checker_a);
  std::optional<iptv::probe::Follower> fb;
  if (!compare_url.empty()) fb.emplace(compare_url, opts, checker_b);
  iptv::probe::FollowResult ra, rb;
  std::thread tb;
  if (fb) tb = std::thread([&] { rb = fb->run(); });
  ra = fa.run();
  if (tb.joinable()) tb.join();

  iptv::hlsparse::Report report;
  checker_a.finish();
  report.a = iptv::hlsparse::make_stream_report(url, checker_a);
  report.a.duration_s = ra.followed_s;
  report.a.startup_ms = ra.startup_ms;
  report.a.startup_detail = ra.startup_detail;
  report.probed = ra.probed;
  report.fatal = ra.fatal;
  if (fb) {
    checker_b.finish();
    report.b = iptv::hlsparse::make_stream_report(compare_url, checker_b);
    report.b->duration_s = rb.followed_s;
    report.b->startup_ms = rb.startup_ms;
    report.b->startup_detail = rb.startup_detail;
    if (!rb.probed) {
      report.probed = false;
      report.fatal = compare_url + ": " + rb.fatal;
    } else if (ra.probed) {
      report.comparison = iptv::hlsparse::compare(checker_a, url, checker_b, compare_url);
    }
  }
  std::string out =
      format == "json" ? iptv::hlsparse::to_json(report) : iptv::hlsparse::to_text(report);
  std::fputs(out.c_str(), stdout);
  if (format != "json" && !ra.ll_blocking_lag_ms.empty()) {
    // Low-latency HLS (ll_dynamic.h): blocking reloads against the first poll listing the part.
    std::vector<double> lag = ra.ll_blocking_lag_ms;
    std::sort(lag.begin(), lag.end());
    std::printf(
        "low-latency: %zu blocking reloads answered median %.0f ms, max %.0f ms after the "
        "part's publication\n",
        lag.size(), lag[lag.size() / 2], lag.back());
  }
  return report.exit_code();
}

}  // namespace iptvctl
