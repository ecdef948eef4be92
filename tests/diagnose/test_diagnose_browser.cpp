// Players reporting buffer starvation through CMCD from hls.js in Debian's chromium (issue 17):
// hls.js with CMCD on plays a channel through an nginx edge that throttles every response
// (limit_rate), so its buffer runs dry; the origin reads the players' CMCD `bs` from the query
// the edge passes on, and `iptvctl diagnose` names the viewers hop, the starving rendition and
// the remedy.
#include <glib.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <regex>

#include "browser_player.h"
#include "iptvd_fixture.h"

using namespace iptvd_test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {}  // namespace

TEST(DiagnoseBrowser, HlsJsStarvingBehindAThrottledEdgeIsTheFailingHop) {
  std::string missing = iptv_test::browser_missing();
  ASSERT_EQ(missing, "") << "browser tests need " << missing;
  if (sh("command -v nginx").empty()) GTEST_SKIP() << "nginx is not installed";
  const char *ctl = g_getenv("IPTVCTL");
  ASSERT_NE(ctl, nullptr);
  iptv_test::TempDir dir;
  fs::create_directories(dir.path() + "/channels");
  write_file(dir.path() + "/channels/tv.yaml",
             "channel_id: tv\nsource: test://smpte?tone=440\nprofiles: [360p-600kbps, "
             "180p-250kbps]\npreset: ultrafast\nkeyframe_interval_seconds: 1\n"
             "hls:\n  segment_seconds: 1\n  window_segments: 6\n"
             "access:\n  account_required: false\n");
  write_file(dir.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
  Iptvd d(dir.path() + "/channels", {"--config", dir.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"tv"}, 90, 3)) << d.log();
  std::string key = d.admin_key();
  // 25 kB/s: below what a rung of 1 s segments needs to keep up (video plus audio).
  // Debian's nginx running the shipped edge config, every response to players throttled.
  NginxEdge edge(dir.path() + "/edge", port_of(d), [](std::string &conf) {
    // Once: the replacement holds the text it replaces.
    conf.insert(conf.find("proxy_cache_valid 404 1s;"), "limit_rate 25000; ");
  });
  ASSERT_TRUE(edge.wait_up());
  Http s = d.post("/api/v1/sessions", R"({"channel_id":"tv"})", key);
  ASSERT_EQ(s.status, 201) << s.body;
  std::string url = json::parse(s.body)["playback_url"];
  url = edge.base() + url.substr(url.find("/hls/"));

  iptv_test::PlayOptions o;
  o.cmcd = true;
  o.seconds = 20;
  std::string raw;
  auto r = iptv_test::browser_play(url, o, &raw);
  // The player itself saw the starvation it reported.
  EXPECT_GT(r.value("stalls", 0), 0) << raw;

  std::string metrics = d.get("/metrics", key).body;
  std::smatch m;
  std::regex starved(
      R"re(iptv_viewer_buffer_starvations_total\{channel="tv",rendition="([^"]+)",device="hls\.js"\} (\d+))re");
  int total = 0;
  for (auto it = std::sregex_iterator(metrics.begin(), metrics.end(), starved);
       it != std::sregex_iterator(); ++it)
    total += std::stoi((*it)[2]);
  EXPECT_GT(total, 0) << metrics << raw;

  iptv_test::TempDir t;
  int st = 0;
  sh("IPTV_URL=" + d.base() + " IPTV_API_KEY=" + key + " " + ctl + " diagnose tv --format json >" +
         t.path() + "/o 2>&1",
     &st);
  std::string out = slurp(t.path() + "/o");
  json j = json::parse(out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << out;
  EXPECT_EQ(st, 1) << out;
  ASSERT_TRUE(j["first_failing_hop"].is_object()) << out;
  EXPECT_EQ(j["first_failing_hop"]["hop"], "viewers") << out;
  std::string cmd = j["first_failing_hop"]["command"].get<std::string>();
  EXPECT_TRUE(std::regex_match(cmd, std::regex("iptvctl rendition tv (360p|180p) --disable")))
      << out;
  EXPECT_NE(j["steps"][7]["summary"].get<std::string>().find("buffer starvation"),
            std::string::npos)
      << out;
}
