// iptvctl probe URL [--duration S] [--format text|json] [--compare URL2] [--no-inspect]
// Follows an HLS stream as a viewer would and checks it (docs/probe.md).
// Exit: 0 no errors, 1 errors found, 2 the stream could not be probed at all.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "hlsparse/report.h"
#include "iptvctl/commands.h"
#include "probe/follower.h"

namespace iptvctl {

namespace {
int usage(FILE *out) {
  std::fprintf(out,
               "usage: iptvctl probe URL [--duration SECONDS] [--format text|json]\n"
               "                    [--compare URL2] [--timeout SECONDS] [--no-inspect]\n"
               "Follows the HLS stream at URL for --duration seconds (default 20) as a player\n"
               "would, inspects every new segment with ffmpeg and reports broken rules.\n"
               "--compare follows URL2 too (e.g. an edge and its origin) and reports which side\n"
               "lags and stale copies. Exit: 0 no errors, 1 errors, 2 could not probe.\n");
  return out == stdout ? 0 : 2;
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
  return report.exit_code();
}

}  // namespace iptvctl
