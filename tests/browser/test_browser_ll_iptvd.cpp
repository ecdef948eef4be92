// Issue 16 through iptvd: a channel with `hls.low_latency.part_seconds: 0.5` (fMP4, 2 s segments),
// played by hls.js in lowLatencyMode through an API session's token URL on iptvd's own origin:
// blocking reloads and parts served with the token in the path (the player plays on parts, with
// no fatal error), the latency printed, and the channel API's parked-request count present.
// The 2.5 s bound is asserted on the element's channel (test_browser_ll.cpp): here, with iptvd's
// separate audio rendition, hls.js stalls (bufferStalledError, bufferSeekOverHole) and sits
// about 4.5 s behind; the audio playlist's segments are 1.984 s (a 0.021 s fifth part) against
// 2 s of PROGRAM-DATE-TIME steps (the packaging's, reported with issue 16).
#include <gtest/gtest.h>

#include <cstdio>

#include "browser_player.h"
#include "iptvd_fixture.h"

using namespace iptvd_test;

namespace {

TEST(BrowserLlIptvd, HlsJsLowLatencyThroughAnIptvdSessionUrl) {
  std::string missing = iptv_test::browser_missing();
  ASSERT_EQ(missing, "") << "browser tests need " << missing;
  iptv_test::TempDir dir;
  write_file(
      dir.path() + "/ll.yaml",
      "channel_id: ll\nsource: test://smpte?tone=440\nprofiles: [180p-250kbps]\npreset: ultrafast\n"
      "keyframe_interval_seconds: 1\n"
      "hls:\n  segment_seconds: 2\n  window_segments: 8\n  segment_format: fmp4\n"
      "  low_latency: {part_seconds: 0.5}\n"
      "access:\n  account_required: false\n");
  write_file(dir.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 900\n");
  Iptvd d(dir.path(), {"--config", dir.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"ll"}, 90, 1)) << d.log();
  ASSERT_TRUE(wait_for(60, [&] {
    std::string pl = d.playlist("ll", "180p");
    return pl.find("#EXT-X-PART-INF") != std::string::npos && parse_media(pl).sequences.size() >= 4;
  })) << d.log();
  std::string url = d.playback_url("ll");
  ASSERT_NE(url.find("/hls/ll/"), std::string::npos) << url;
  iptv_test::PlayOptions o;
  o.seconds = 20;
  o.low_latency = true;
  std::string raw;
  auto r = iptv_test::browser_play(url, o, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw << d.log();
  EXPECT_GE(r.value("advanced", 0.0), 15.0) << raw;
  ASSERT_TRUE(r.contains("latency")) << raw;
  double median = r["latency"].value("median", 99.0);
  std::printf(
      "hls.js lowLatencyMode through iptvd: latency median %.2f s (min %.2f, max %.2f), "
      "stalls %d\n",
      median, r["latency"].value("min", 0.0), r["latency"].value("max", 0.0),
      r.value("stalls", -1));
  RecordProperty("latency_median_s", std::to_string(median));
  // Parts (four per segment) were fetched, not only whole segments.
  EXPECT_GE(r["requests"].value("m4s", 0), 40) << raw;
  for (auto &e : r["errors"]) EXPECT_FALSE(e.value("fatal", false)) << raw;
  Http ch = d.get("/api/v1/channels/ll", d.admin_key());
  ASSERT_EQ(ch.status, 200) << ch.body;
  EXPECT_NE(ch.body.find("\"parked_requests\""), std::string::npos) << ch.body;
}

}  // namespace
