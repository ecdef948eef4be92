// hls.js in Debian's chromium plays an iptvd channel through a session's token URL and switches
// renditions; the harness (play.mjs) reports what the player did, these tests assert on it.
#include <gtest/gtest.h>

#include "browser_player.h"
#include "iptvd_fixture.h"

using namespace iptvd_test;

namespace {

class BrowserIptvd : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string missing = iptv_test::browser_missing();
    ASSERT_EQ(missing, "") << "browser tests need " << missing;
  }
};

TEST_F(BrowserIptvd, HlsJsPlaysTokenUrlAndSwitchesRenditions) {
  iptv_test::TempDir dir;
  write_file(dir.path() + "/tv.yaml",
             "channel_id: tv\nsource: test://smpte?tone=440\nprofiles: [360p-600kbps, "
             "180p-250kbps]\npreset: ultrafast\nkeyframe_interval_seconds: 1\n"
             "hls:\n  segment_seconds: 1\n  window_segments: 6\n"
             "access:\n  account_required: false\n");
  iptv_test::TempDir state;  // the config beside, not in, the channels folder
  write_file(state.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"tv"}, 60, 3)) << d.log();
  EXPECT_EQ(d.log().find("rejected"), std::string::npos) << d.log();
  std::string url = d.playback_url("tv", "demo");
  ASSERT_NE(url.find("/hls/tv/"), std::string::npos) << url;

  iptv_test::PlayOptions o;
  o.seconds = 10;
  o.force_switch = true;
  std::string raw;
  auto r = iptv_test::browser_play(url, o, &raw);
  EXPECT_TRUE(r.value("ok", false)) << raw;
  EXPECT_GE(r.value("advanced", 0.0), 7.0) << raw;
  EXPECT_EQ(r.value("stalls", -1), 0) << raw;
  ASSERT_EQ(r["levels"].size(), 2u) << raw;
  // The forced switch was rendered: the last level played is the one asked for.
  ASSERT_TRUE(r.contains("forced_switch")) << raw;
  ASSERT_FALSE(r["switches"].empty()) << raw;
  EXPECT_EQ(r["switches"].back()["to"], r["forced_switch"]) << raw;
  for (auto &e : r["errors"]) EXPECT_FALSE(e.value("fatal", false)) << raw;

  // A forged token plays nothing: the player reports a fatal manifest error.
  std::string forged = url;
  size_t h = forged.find("hmac=");
  ASSERT_NE(h, std::string::npos) << url;
  forged[h + 5] = forged[h + 5] == '0' ? '1' : '0';
  o.seconds = 2;
  o.force_switch = false;
  auto bad = iptv_test::browser_play(forged, o, &raw);
  EXPECT_FALSE(bad.value("ok", true)) << raw;
  EXPECT_EQ(bad.value("advanced", 1.0), 0.0) << raw;
}

}  // namespace
