// The static low-latency rules of iptvctl probe (probe/ll_check.h): a good playlist passes
// every rule, and each rule fails its own broken playlist.
#include <gtest/gtest.h>

#include "probe/ll_check.h"

namespace {

using iptv::probe::check_ll_playlist;
using iptv::probe::check_preload_hint;
using iptv::probe::Issue;
using iptv::probe::parse_ll_playlist;

// A live low-latency playlist as iptvhlssink writes it: segment 100 complete with 4 + 1 parts,
// two parts of 101 published, the third hinted.
std::string good(const std::string &part_target = "0.5", const std::string &p3 = "0.48000",
                 const std::string &hint = "seg-101.2.m4s", int open_parts = 2) {
  std::string t =
      "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12,PART-HOLD-BACK=1.5\n";
  if (!part_target.empty()) t += "#EXT-X-PART-INF:PART-TARGET=" + part_target + "\n";
  t += "#EXT-X-MEDIA-SEQUENCE:99\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:2.00000,\nseg-99.m4s\n"
       "#EXT-X-PART:DURATION=0.48000,URI=\"seg-100.0.m4s\",INDEPENDENT=YES\n"
       "#EXT-X-PART:DURATION=0.48000,URI=\"seg-100.1.m4s\"\n"
       "#EXT-X-PART:DURATION=0.48000,URI=\"seg-100.2.m4s\"\n"
       "#EXT-X-PART:DURATION=" +
       p3 +
       ",URI=\"seg-100.3.m4s\"\n"
       "#EXT-X-PART:DURATION=0.08000,URI=\"seg-100.4.m4s\"\n"
       "#EXTINF:2.00000,\nseg-100.m4s\n";
  for (int k = 0; k < open_parts; k++)
    t += "#EXT-X-PART:DURATION=0.48000,URI=\"seg-101." + std::to_string(k) + ".m4s\"" +
         (k == 0 ? ",INDEPENDENT=YES" : "") + "\n";
  if (!hint.empty()) t += "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"" + hint + "\"\n";
  t += "#EXT-X-RENDITION-REPORT:URI=\"../lo/index.m3u8\",LAST-MSN=101,LAST-PART=1\n";
  return t;
}

std::vector<std::string> rules(const std::vector<Issue> &issues) {
  std::vector<std::string> out;
  for (const auto &i : issues) out.push_back(i.rule);
  return out;
}

TEST(LlCheck, ParsesWhatTheSinkWrites) {
  auto pl = parse_ll_playlist(good());
  EXPECT_DOUBLE_EQ(pl.part_target, 0.5);
  ASSERT_EQ(pl.segments.size(), 2u);
  EXPECT_EQ(pl.segments[1].sequence, 100u);
  ASSERT_EQ(pl.segments[1].parts.size(), 5u);
  EXPECT_TRUE(pl.segments[1].parts[0].independent);
  EXPECT_FALSE(pl.segments[1].parts[1].independent);
  EXPECT_EQ(pl.open_parts.size(), 2u);
  EXPECT_EQ(pl.open_sequence, 101u);
  EXPECT_EQ(pl.preload_hint, "seg-101.2.m4s");
  EXPECT_TRUE(pl.low_latency());
  EXPECT_FALSE(parse_ll_playlist("#EXTM3U\n#EXTINF:2,\na.ts\n").low_latency());
}

// ll-pdt-extinf: iptvhlssink's audio rendition used to carry the video's PDT (2 s steps) on
// segments of 1.984 or 2.005 s; a PDT that is its first sample's passes. A discontinuity resets.
TEST(LlCheck, PdtPlusExtinfMustBeTheNextPdt) {
  auto playlist = [](const std::string &pdt2, const std::string &extinf1, bool disc) {
    return "#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
           "#EXT-X-PART-INF:PART-TARGET=0.512\n#EXT-X-MEDIA-SEQUENCE:7\n"
           "#EXT-X-PROGRAM-DATE-TIME:2026-12-08T01:06:26.020Z\n#EXTINF:" +
           extinf1 + ",\nseg-7.m4s\n" + (disc ? "#EXT-X-DISCONTINUITY\n" : "") +
           "#EXT-X-PROGRAM-DATE-TIME:" + pdt2 +
           "\n"
           "#EXT-X-PART:DURATION=0.51200,URI=\"seg-8.0.m4s\",INDEPENDENT=YES\n"
           "#EXTINF:0.51200,\nseg-8.m4s\n";
  };
  // 26.020 + 2.00533 = 28.02533: the sink's audio PDT (28.026) passes.
  EXPECT_EQ(rules(check_ll_playlist(
                parse_ll_playlist(playlist("2026-12-08T01:06:28.026Z", "2.00533", false)))),
            std::vector<std::string>{});
  // The video's PDT on a 1.984 s audio segment: 16 ms of hole.
  auto bad =
      check_ll_playlist(parse_ll_playlist(playlist("2026-12-08T01:06:28.020Z", "1.98400", false)));
  ASSERT_EQ(rules(bad), std::vector<std::string>{"ll-pdt-extinf"});
  EXPECT_EQ(bad[0].sequence, 8u);
  EXPECT_NE(bad[0].message.find("16 ms"), std::string::npos) << bad[0].message;
  EXPECT_NE(bad[0].message.find("hole"), std::string::npos) << bad[0].message;
  // 2.00533 s under a 2 s PDT step: an overlap of 5.33 ms.
  bad =
      check_ll_playlist(parse_ll_playlist(playlist("2026-12-08T01:06:28.020Z", "2.00533", false)));
  ASSERT_EQ(rules(bad), std::vector<std::string>{"ll-pdt-extinf"});
  EXPECT_NE(bad[0].message.find("overlap"), std::string::npos) << bad[0].message;
  // Across a discontinuity the timeline may jump.
  EXPECT_EQ(rules(check_ll_playlist(
                parse_ll_playlist(playlist("2026-12-08T02:00:00.000Z", "1.98400", true)))),
            std::vector<std::string>{});
}

TEST(LlCheck, AGoodPlaylistPassesEveryRule) {
  EXPECT_TRUE(check_ll_playlist(parse_ll_playlist(good())).empty());
  EXPECT_TRUE(check_preload_hint(parse_ll_playlist(good("0.5", "0.48000", "seg-101.1.m4s", 1)),
                                 parse_ll_playlist(good()))
                  .empty());
}

TEST(LlCheck, APartLongerThanThePartTargetFails) {
  auto issues = check_ll_playlist(parse_ll_playlist(good("0.4")));
  ASSERT_FALSE(issues.empty());
  EXPECT_EQ(issues[0].rule, "ll-part-duration");
  EXPECT_EQ(issues[0].sequence, 100u);
  EXPECT_NE(issues[0].message.find("seg-100.0.m4s lasts 0.48 s, above PART-TARGET 0.4 s"),
            std::string::npos)
      << issues[0].message;
}

TEST(LlCheck, PartsThatDoNotAddUpToTheirSegmentFail) {
  // 0.48 * 3 + 0.38 + 0.08 = 1.9, EXTINF 2.
  auto issues = check_ll_playlist(parse_ll_playlist(good("0.5", "0.38000")));
  EXPECT_EQ(rules(issues), std::vector<std::string>{"ll-parts-sum"});
  EXPECT_NE(issues[0].message.find("the 5 parts of seg-100.m4s add up to 1.9 s, its EXTINF is 2 s"),
            std::string::npos)
      << issues[0].message;
}

TEST(LlCheck, PartsWithoutPartInfFail) {
  EXPECT_EQ(rules(check_ll_playlist(parse_ll_playlist(good("")))),
            std::vector<std::string>{"ll-part-inf-missing"});
}

TEST(LlCheck, AHintNamingAListedPartFails) {
  EXPECT_EQ(rules(check_ll_playlist(parse_ll_playlist(good("0.5", "0.48000", "seg-101.1.m4s")))),
            std::vector<std::string>{"ll-preload-hint-listed"});
}

TEST(LlCheck, AHintThatDoesNotAdvanceFails) {
  // Between the fetches part 101.2 was published, yet the hint still names seg-101.2.m4s.
  auto before = parse_ll_playlist(good("0.5", "0.48000", "seg-101.2.m4s", 2));
  auto after = parse_ll_playlist(good("0.5", "0.48000", "seg-101.2.m4s", 3));
  auto issues = check_preload_hint(before, after);
  EXPECT_EQ(rules(issues), std::vector<std::string>{"ll-preload-hint-stuck"});
  // Nothing new published: the same hint is right.
  EXPECT_TRUE(check_preload_hint(before, before).empty());
}

}  // namespace
