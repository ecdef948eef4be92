// The self-watch's conditions (issue 17 item 2; orchestrator/lib/daemon/self_watch_rules.h):
// stale, continuity, misaligned and no-audio, each from what the origin would serve. The
// plumbing (probe.condition events, `degraded` with the reason, metrics) is the same for every
// condition and is tested end to end by DiagnoseTest.SelfWatchSeesStalePlaylistsThroughTheOrigin.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/self_watch_rules.h"
#include "hlsparse/parser.h"
#include "test_support.h"

using iptv::daemon::watch::check_alignment;
using iptv::daemon::watch::check_rendition;
using iptv::daemon::watch::lacks_audio;
using iptv::daemon::watch::Problems;
using iptv::daemon::watch::RenditionMemory;

namespace {

std::string media(uint64_t first, int count, uint64_t dsn = 0, int target = 1) {
  std::string p = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:" + std::to_string(target) +
                  "\n#EXT-X-MEDIA-SEQUENCE:" + std::to_string(first) +
                  "\n#EXT-X-DISCONTINUITY-SEQUENCE:" + std::to_string(dsn) + "\n";
  for (int i = 0; i < count; ++i)
    p += "#EXTINF:1.00000,\nseg-" + std::to_string(first + i) + ".ts\n";
  return p;
}

Problems look(const std::string &text, double now, RenditionMemory &m) {
  std::vector<iptv::hlsparse::Finding> ignored;
  auto pl = iptv::hlsparse::parse(text, "http://o/hls/news/180p/index.m3u8", ignored);
  Problems p;
  check_rendition("180p", text, pl, now, m, p);
  return p;
}

}  // namespace

TEST(SelfWatchRules, StaleOnlyAfterThreeTargetDurationsOrSixSeconds) {
  RenditionMemory m;
  EXPECT_TRUE(look(media(10, 6), 100.0, m).empty());
  EXPECT_TRUE(look(media(10, 6), 105.9, m).empty());  // 1 s target: the 6 s floor
  Problems p = look(media(10, 6), 106.5, m);
  ASSERT_TRUE(p.count("stale"));
  EXPECT_EQ(p["stale"], "180p: playlist unchanged for 6 s");
  EXPECT_TRUE(look(media(11, 6), 107.0, m).empty());  // it moved: clear again
  RenditionMemory slow;                               // 4 s target: 12 s
  look(media(10, 6, 0, 4), 0, slow);
  EXPECT_TRUE(look(media(10, 6, 0, 4), 11.0, slow).empty());
  EXPECT_TRUE(look(media(10, 6, 0, 4), 12.5, slow).count("stale"));
}

TEST(SelfWatchRules, ContinuityWhenTheSequenceOrTheDiscontinuitySequenceGoesBack) {
  RenditionMemory m;
  EXPECT_TRUE(look(media(1000, 6), 0, m).empty());
  EXPECT_TRUE(look(media(1001, 6), 1, m).empty());
  Problems back = look(media(5, 6), 2, m);
  ASSERT_TRUE(back.count("continuity"));
  EXPECT_EQ(back["continuity"], "180p: media sequence went back from 1001 to 5");
  // A discontinuity sequence going back (a restart that forgot its numbering).
  RenditionMemory d;
  look(media(20, 6, 3), 0, d);
  EXPECT_TRUE(look(media(21, 6, 3), 1, d).empty());
  Problems dback = look(media(22, 6, 1), 2, d);
  ASSERT_TRUE(dback.count("continuity"));
  EXPECT_EQ(dback["continuity"], "180p: discontinuity sequence went back");
  // Forward jumps and a new discontinuity are not continuity problems.
  EXPECT_TRUE(look(media(40, 6, 2), 3, d).empty());
}

TEST(SelfWatchRules, MisalignedWhenRenditionsAreMoreThanTwoSegmentsApart) {
  Problems p;
  check_alignment({{"240p", 100}, {"180p", 98}}, p);
  EXPECT_TRUE(p.empty());
  check_alignment({{"240p", 100}}, p);
  EXPECT_TRUE(p.empty());
  check_alignment({{"240p", 101}, {"180p", 98}, {"audio", 100}}, p);
  ASSERT_TRUE(p.count("misaligned"));
  EXPECT_EQ(p["misaligned"], "180p is 3 segments behind 240p");
}

TEST(SelfWatchRules, NoAudioInASegmentWithoutAnAudioStream) {
  iptv_test::TempDir t;
  auto make = [&](const std::string &name, const std::string &audio) {
    std::string path = t.path() + "/" + name;
    std::string cmd = "ffmpeg -v error -y -f lavfi -i testsrc2=size=160x90:rate=25 " + audio +
                      " -t 1 -c:v libx264 -preset ultrafast -c:a aac -f mpegts " + path;
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  std::string av = make("av.ts", "-f lavfi -i sine=f=440:sample_rate=48000");
  std::string v = make("v.ts", "-an");
  ASSERT_FALSE(av.empty());
  ASSERT_FALSE(v.empty());
  EXPECT_FALSE(lacks_audio(av));
  EXPECT_TRUE(lacks_audio(v));
  // Not a segment at all: not judged (no false alarm on a truncated fetch).
  EXPECT_FALSE(lacks_audio("not a transport stream"));
}
