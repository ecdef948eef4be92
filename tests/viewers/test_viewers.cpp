// Viewer-side signals, GStreamer-free: device classes from User-Agents, CMCD parsing (query and
// headers), the aggregation's bounded labels, hashed session ids, rebuffer ratio and startup time
// over the window (issue 17 item 4).
#include <gtest/gtest.h>

#include <glib.h>

#include <map>
#include <memory>
#include <set>

#include "viewers/cmcd.h"
#include "viewers/device_class.h"
#include "viewers/origin_observer.h"
#include "viewers/viewer_stats.h"

using namespace iptv::viewers;

TEST(DeviceClass, RealUserAgentsMapToTheFixedSet) {
  struct Case {
    const char *ua;
    bool dash;
    const char *want;
  } cases[] = {
      {"AppleCoreMedia/1.0.0.21E230 (iPhone; U; CPU OS 17_4 like Mac OS X; en_us)", false, "apple"},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
       "Version/17.4 Safari/605.1.15",
       false, "apple"},
      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 "
       "Safari/537.36",
       false, "hls.js"},
      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 "
       "Safari/537.36",
       true, "dash.js"},
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", false,
       "hls.js"},
      {"ExoPlayerLib/2.19.1", false, "exoplayer"},
      {"myapp/1.0 (Linux;Android 14) AndroidXMedia3/1.3.1", false, "exoplayer"},
      {"VLC/3.0.18 LibVLC/3.0.18", false, "vlc"},
      {"Kodi/20.2 (X11; Linux x86_64) Debian/12 App_Bitness/64 Version/20.2", false, "kodi"},
      {"Lavf/59.27.100", false, "ffmpeg-gstreamer"},
      {"GStreamer souphttpsrc 1.22.0 libsoup/3.2.2", false, "ffmpeg-gstreamer"},
      {"curl/7.88.1", false, "other"},
      {"", false, "other"},
  };
  for (const auto &c : cases)
    EXPECT_STREQ(to_string(classify_user_agent(c.ua, c.dash)), c.want) << c.ua;
  EXPECT_EQ(all_device_classes().size(), 8u);
}

TEST(Cmcd, ParsesTheKeysHlsJsSendsInTheQueryAndHeaders) {
  // hls.js 1.x, cmcd: {useHeaders: false}: one query argument, percent-encoded.
  std::string q = cmcd_from_query(
      "foo=1&CMCD=bl%3D2100%2Cbr%3D250%2Cbs%2Ccid%3D%22news%22%2Cd%3D1000%2Cmtp%3D48000%2C"
      "ot%3Dav%2Csf%3Dh%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Csu");
  Cmcd c;
  parse_cmcd_payload(q, c);
  EXPECT_TRUE(c.present);
  EXPECT_TRUE(c.bs);
  EXPECT_TRUE(c.su);
  EXPECT_EQ(c.bl, 2100);
  EXPECT_EQ(c.mtp, 48000);
  EXPECT_EQ(c.sf, "h");
  EXPECT_EQ(c.ot, "av");
  EXPECT_EQ(c.sid, "6e2fb550-c457-11e9-bb97-0800200c9a66");
  // Headers (useHeaders: true): split over four headers, merged.
  Cmcd h;
  parse_cmcd_payload("bl=300,mtp=2000", h);
  parse_cmcd_payload("d=1000,ot=v", h);
  parse_cmcd_payload("bs", h);
  parse_cmcd_payload("cid=\"a,b\",sid=\"s1\"", h);
  EXPECT_TRUE(h.bs);
  EXPECT_FALSE(h.su);
  EXPECT_EQ(h.bl, 300);
  EXPECT_EQ(h.sid, "s1");
  // Malformed keys are dropped one by one; the rest is kept.
  Cmcd m;
  parse_cmcd_payload("bl=abc,bs=maybe,sid=unquoted,mtp=-5,ot=\"v\",su=false,,bs=true", m);
  EXPECT_FALSE(m.bl.has_value());
  EXPECT_FALSE(m.mtp.has_value());
  EXPECT_EQ(m.sid, "");
  EXPECT_TRUE(m.bs);  // read after the malformed ot
  EXPECT_FALSE(m.su);
  EXPECT_EQ(m.ot, "");
  EXPECT_EQ(cmcd_from_query("a=1&b=2"), "");
  // A sid over 64 characters is refused (CTA-5004).
  Cmcd longsid;
  parse_cmcd_payload("sid=\"" + std::string(65, 'a') + "\"", longsid);
  EXPECT_EQ(longsid.sid, "");
}

TEST(OriginObserver, PathsSplitIntoRenditionAndKind) {
  std::string r;
  bool media = false, dash = false;
  classify_rel("/720p/seg-12.ts", &r, &media, &dash);
  EXPECT_EQ(r, "720p");
  EXPECT_TRUE(media);
  EXPECT_FALSE(dash);
  classify_rel("/720p/index.m3u8", &r, &media, &dash);
  EXPECT_FALSE(media);
  classify_rel("/index.m3u8", &r, &media, &dash);
  EXPECT_EQ(r, "");
  classify_rel("/manifest.mpd", &r, &media, &dash);
  EXPECT_TRUE(dash);
  EXPECT_FALSE(media);
}

namespace {
ViewerRequest req(const std::string &rendition, const std::string &ua, const std::string &region,
                  int64_t now_ms, bool media = true) {
  ViewerRequest r;
  r.channel = "news";
  r.rendition = rendition;
  r.media = media;
  r.status = 200;
  r.bytes = 1000;
  r.user_agent = ua;
  r.region = region;
  r.now_ms = now_ms;
  return r;
}
const char *kChrome = "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36";
}  // namespace

TEST(ViewerStats, RebufferRatioStartupAndTheWindow) {
  ViewerStats s;
  int64_t t = 1'800'000'000'000;
  for (int i = 0; i < 10; ++i) {
    auto r = req("720p", kChrome, "gb", t + i * 1000);
    r.cmcd.present = true;
    r.cmcd.sid = "viewer-one";
    r.cmcd.su = i < 3;       // startup for the first three requests
    r.cmcd.bs = i % 2 == 0;  // starving every other request
    s.record(r);
  }
  auto w = s.window("news", t + 20'000);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].device, "hls.js");
  EXPECT_EQ(w[0].region, "GB");
  EXPECT_EQ(w[0].cmcd_requests, 10u);
  EXPECT_EQ(w[0].starved, 5u);
  EXPECT_DOUBLE_EQ(w[0].rebuffer_ratio(), 0.5);
  EXPECT_EQ(w[0].startups, 1u);
  EXPECT_DOUBLE_EQ(w[0].startup_s_sum, 3.0);  // first request to the first without su
  // 15 minutes later the window is empty; the counters are not.
  EXPECT_TRUE(s.window("news", t + 16 * 60'000).empty());
  std::string text = s.prometheus(t + 16 * 60'000);
  EXPECT_NE(text.find("iptv_viewer_buffer_starvations_total{channel=\"news\",rendition=\"720p\","
                      "device=\"hls.js\"} 5"),
            std::string::npos)
      << text;
  // Session ids are kept hashed only.
  EXPECT_EQ(text.find("viewer-one"), std::string::npos);
  EXPECT_EQ(s.sessions(), 1u);
  EXPECT_NE(s.session_hash("viewer-one"), "viewer-one");
  EXPECT_EQ(s.session_hash("viewer-one").size(), 16u);
}

TEST(ViewerStats, LabelsStayBoundedWhateverClientsSend) {
  ViewerStatsConfig cfg;
  cfg.max_regions = 4;
  cfg.max_renditions_per_channel = 3;
  cfg.max_channels = 2;
  ViewerStats s(cfg);
  int64_t t = 1'800'000'000'000;
  for (int i = 0; i < 100; ++i) {
    auto r = req("r" + std::to_string(i), "agent-" + std::to_string(i),
                 "region-" + std::to_string(i), t);
    s.record(r);
  }
  auto junk = req("x", kChrome, "\"}\n# EOF", t);
  s.record(junk);
  auto other_ch = req("a", kChrome, "", t);
  other_ch.channel = "two";
  s.record(other_ch);
  other_ch.channel = "three";
  s.record(other_ch);
  std::set<std::string> regions, renditions, channels, devices;
  for (const auto &r : s.window("", t)) {
    regions.insert(r.region);
    if (r.channel == "news") renditions.insert(r.rendition);
    channels.insert(r.channel);
    devices.insert(r.device);
  }
  EXPECT_LE(regions.size(), 4u + 2);  // capped, plus "other" and "unknown"
  EXPECT_TRUE(regions.count("other"));
  EXPECT_LE(renditions.size(), 3u + 1);
  EXPECT_EQ(channels, (std::set<std::string>{"news", "two", "other"}));
  EXPECT_EQ(devices, (std::set<std::string>{"other", "hls.js"}));
  std::string text = s.prometheus(t);
  EXPECT_EQ(text.find("agent-"), std::string::npos);
  EXPECT_EQ(text.find("# EOF"), std::string::npos);
  EXPECT_EQ(ViewerStats::region_label(" gb "), "GB");
  EXPECT_EQ(ViewerStats::region_label(""), "unknown");
  EXPECT_EQ(ViewerStats::region_label("a b"), "other");
}

TEST(OriginObserver, CountsKnownChannelsViewersOnlyWithTheirCmcdAndRegion) {
  auto stats = std::make_shared<ViewerStats>();
  OriginViewerObserver obs(stats, "X-Viewer-Region");
  auto send = [&](const char *ua, bool known, const char *query, const char *cmcd_status) {
    std::map<std::string, std::string> h = {{"User-Agent", ua}, {"X-Viewer-Region", "ie"}};
    if (cmcd_status) h["CMCD-Status"] = cmcd_status;
    iptv::ObservedRequest o;
    o.channel = "news";
    o.rel = "/360p/seg-9.ts";
    o.known_channel = known;
    o.status = 200;
    o.bytes = 10;
    o.query = query;
    o.header = [&h](const char *name) -> const char * {
      auto it = h.find(name);
      return it == h.end() ? nullptr : it->second.c_str();
    };
    obs.on_request(o);
  };
  send("ExoPlayerLib/2.19.1", true, "", "bs");
  send("ExoPlayerLib/2.19.1", true, "CMCD=sid%3D%22x%22", nullptr);
  send("ExoPlayerLib/2.19.1", false, "", "bs");       // a channel the origin does not serve
  send("iptvctl-probe/1", true, "CMCD=bs", nullptr);  // iptvd's own checks
  auto w = stats->window("news", g_get_real_time() / 1000);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0].device, "exoplayer");
  EXPECT_EQ(w[0].region, "IE");
  EXPECT_EQ(w[0].rendition, "360p");
  EXPECT_EQ(w[0].requests, 2u);
  EXPECT_EQ(w[0].cmcd_requests, 2u);
  EXPECT_EQ(w[0].starved, 1u);
}
