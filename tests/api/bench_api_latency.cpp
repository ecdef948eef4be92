// bench/api/run: the API's latency while the origin on the same server is under wrk load (and,
// with --encoders N, while N live x264 encodes load the CPU like transcoded channels).
//   bench_api_latency [SECONDS] [ENCODERS]
// Prints wrk's origin throughput, the API latency seen by a client (p50/p99/max over requests to
// /api/v1/channels, /api/v1/channels/news and /metrics) and the server's own p99 per route.
#include <glib.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <regex>
#include <thread>

#include "api_fixture.h"
#include "control/metrics.h"

using namespace iptv_test;

int main(int argc, char **argv) {
  int secs = argc > 1 ? std::atoi(argv[1]) : 10;
  int encoders = argc > 2 ? std::atoi(argv[2]) : 3;
  TempDir tree;
  std::string dir = tree.path() + "/news";
  std::filesystem::create_directories(dir);
  sh("head -c 1048576 /dev/urandom > " + dir + "/seg-1.ts");
  iptv::write_file_atomic(dir + "/index.m3u8",
                          "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\nseg-1.ts\n");
  ControlPlane cp(dir);
  iptv::TokenClaims c;
  c.start = g_get_real_time() / 1000000;
  c.expiry = c.start + 3600;
  c.acl = iptv::acl_for_channel("news");
  c.session = "bench";
  std::string tok = iptv::token_to_path_segment(iptv::sign_token(c, cp.ring));
  std::string seg = cp.base + "/hls/news/" + tok + "/seg-1.ts";
  std::string pl = cp.base + "/hls/news/" + tok + "/index.m3u8";

  std::vector<pid_t> load;
  for (int i = 0; i < encoders; ++i) {
    pid_t p = fork();
    if (p == 0) {
      execlp("gst-launch-1.0", "gst-launch-1.0", "-q", "videotestsrc", "is-live=true", "!",
             "video/x-raw,width=640,height=360,framerate=25/1", "!", "x264enc",
             "speed-preset=veryfast", "tune=zerolatency", "bitrate=800", "!", "fakesink",
             static_cast<char *>(nullptr));
      _exit(127);
    }
    load.push_back(p);
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  TempDir out;
  std::string wrk_seg = "wrk -t1 -c32 -d" + std::to_string(secs) + "s " + shq(seg) + " > " +
                        out.path() + "/wrk-seg.txt 2>&1 &";
  std::string wrk_pl = "wrk -t1 -c32 -d" + std::to_string(secs) + "s " + shq(pl) + " > " +
                       out.path() + "/wrk-pl.txt 2>&1 &";
  sh(wrk_seg);
  sh(wrk_pl);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // API client: one curl process, keep-alive, many requests, per-request time.
  std::vector<double> lat;
  int failed = 0;
  auto t_end = std::chrono::steady_clock::now() + std::chrono::seconds(secs - 1);
  while (std::chrono::steady_clock::now() < t_end) {
    std::string urls;
    for (const char *p : {"/api/v1/channels", "/api/v1/channels/news", "/metrics"})
      urls += " -o /dev/null " + shq(cp.base + p);
    std::string o =
        sh("curl -s -o /dev/null -H " + shq("Authorization: Bearer " + cp.keys["read"]) +
           " -w '%{http_code} %{time_total}\\n'" + urls + urls + urls + urls);
    for (const auto &l : iptv::split(o, '\n')) {
      auto f = iptv::split(l, ' ');
      if (f.size() == 2 && f[0] == "200")
        lat.push_back(std::atof(f[1].c_str()));
      else
        ++failed;
    }
  }
  sh("sleep 1; wait");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  for (pid_t p : load) kill(p, SIGTERM);
  std::sort(lat.begin(), lat.end());
  auto q = [&](double f) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(f * lat.size()))];
  };
  std::string ws, wp;
  iptv::read_file(out.path() + "/wrk-seg.txt", ws);
  iptv::read_file(out.path() + "/wrk-pl.txt", wp);
  auto rps = [](const std::string &w) {
    for (const auto &l : iptv::split(w, '\n'))
      if (l.find("Requests/sec") != std::string::npos) return iptv::trim(l.substr(13));
    return std::string("?");
  };
  std::printf("encoders %d, %d s, wrk -t1 -c32 on a 1 MB segment and on a playlist\n", encoders,
              secs);
  std::printf("origin: segment %s req/s, playlist %s req/s\n", rps(ws).c_str(), rps(wp).c_str());
  std::printf("API (client side, %zu requests, %d failed): p50 %.1f ms  p99 %.1f ms  max %.1f ms\n",
              lat.size(), failed, q(0.5) * 1000, q(0.99) * 1000,
              lat.empty() ? 0 : lat.back() * 1000);
  // The server's own view (request read to response written), from its histogram.
  std::string m = http("GET", cp.base + "/metrics", cp.keys["read"]).body;
  std::map<std::string, std::vector<std::pair<double, double>>> buckets;  // route -> (le, count)
  std::regex b(
      R"re(iptv_http_request_duration_seconds_bucket\{route="([^"]+)",le="([^"]+)"\} (\d+))re");
  for (const auto &l : iptv::split(m, '\n')) {
    std::smatch sm;
    if (std::regex_match(l, sm, b))
      buckets[sm[1]].push_back(
          {sm[2] == "+Inf" ? 1e9 : std::atof(sm[2].str().c_str()), std::atof(sm[3].str().c_str())});
  }
  for (const auto &[route, bs] : buckets) {
    double total = bs.back().second, p99 = 0;
    for (const auto &[le, n] : bs)
      if (n >= 0.99 * total) {
        p99 = le;
        break;
      }
    std::printf("server %-24s %6.0f requests, p99 <= %g ms\n", route.c_str(), total, p99 * 1000);
  }
  std::printf("load average: %s", sh("cat /proc/loadavg").c_str());
  return 0;
}
