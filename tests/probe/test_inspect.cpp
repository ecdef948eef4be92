// Parsing what the segment inspection's ffmpeg run prints (framecrc text and log), and the
// inspection itself on a real segment ffmpeg makes here.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "probe/http_client.h"
#include "probe/segment_inspect.h"
#include "test_support.h"

using iptv::hlsparse::SegmentProbe;
using namespace iptv::probe;

namespace {

const char *kFramecrc =
    "#extradata 0:       35, 0x86b907d6\n"
    "#software: Lavf59.27.100\n"
    "#tb 0: 1/90000\n"
    "#media_type 0: video\n"
    "#codec_id 0: h264\n"
    "#dimensions 0: 320x180\n"
    "#tb 1: 1/90000\n"
    "#media_type 1: audio\n"
    "#codec_id 1: aac\n"
    "0,     307920,     307920,     3600,     5544, 0xbb259b4c, S=1,        1\n"
    "1,     308400,     308400,     1920,      167, 0x6baa56de, S=1,        1\n"
    "0,     311520,     315120,     3600,     1351, 0x43d58c27, F=0x0, S=1,        1\n"
    "0,     315120,     311520,     3600,     1288, 0x6558721f, F=0x0\n";

const char *kLog =
    "Input #0, mpegts, from 'x.ts':\n"
    "  Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p\n"
    "  Stream #0:1[0x101]: Audio: aac (LC) ([15][0][0][0] / 0x000F), 48000 Hz\n"
    "[Parsed_volumedetect_0 @ 0x5557e8e4a700] mean_volume: -21.1 dB\n"
    "[Parsed_volumedetect_0 @ 0x5557e8e4a700] max_volume: -17.5 dB\n";

}  // namespace

TEST(Inspect, ParsesFramecrcAndLog) {
  SegmentProbe p;
  ASSERT_TRUE(parse_inspection(kFramecrc, kLog, p));
  EXPECT_TRUE(p.inspected);
  EXPECT_TRUE(p.has_video);
  EXPECT_TRUE(p.has_audio);
  EXPECT_EQ(p.video_codec, "h264");
  EXPECT_EQ(p.audio_codec, "aac");
  EXPECT_EQ(p.audio_profile, "LC");
  EXPECT_TRUE(p.first_video_keyframe);
  ASSERT_TRUE(p.first_pts);
  EXPECT_NEAR(*p.first_pts, 307920 / 90000.0, 1e-9);
  EXPECT_NEAR(p.duration, (315120 + 3600 - 307920) / 90000.0, 1e-9);  // B-frame order
  ASSERT_TRUE(p.audio_max_db);
  EXPECT_DOUBLE_EQ(*p.audio_max_db, -17.5);
}

TEST(Inspect, FirstPacketNotKeyAndSilence) {
  std::string crc =
      "#tb 0: 1/90000\n#media_type 0: video\n#codec_id 0: h264\n"
      "0, 0, 0, 3600, 100, 0x1, F=0x0\n0, 3600, 3600, 3600, 100, 0x1\n";
  SegmentProbe p;
  ASSERT_TRUE(parse_inspection(crc, "", p));
  EXPECT_FALSE(p.first_video_keyframe);
  EXPECT_FALSE(p.has_audio);
  double db = 0;
  EXPECT_TRUE(parse_volumedetect("[x] max_volume: -inf dB\n", db));
  EXPECT_EQ(db, -1000);
  EXPECT_FALSE(parse_volumedetect("nothing", db));
  SegmentProbe none;
  EXPECT_FALSE(parse_inspection("#software: x\n", "", none));
}

TEST(Inspect, RealSegment) {
  iptv_test::TempDir tmp;
  std::string ts = tmp.path() + "/s.ts";
  std::string cmd =
      "ffmpeg -hide_banner -loglevel error -f lavfi -i testsrc2=size=320x180:rate=25 -f lavfi "
      "-i sine=frequency=440:sample_rate=48000 -t 2 -c:v libx264 -preset veryfast -profile:v "
      "high -level 3.1 -g 25 -c:a aac -f mpegts " +
      ts;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::ifstream in(ts, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  SegmentProbe p;
  inspect_segment(ss.str(), p);
  ASSERT_TRUE(p.inspected) << p.error;
  EXPECT_EQ(p.video_profile_idc, 100);
  EXPECT_EQ(p.video_level_idc, 31);
  EXPECT_EQ(p.audio_profile, "LC");
  EXPECT_TRUE(p.first_video_keyframe);
  EXPECT_NEAR(p.duration, 2.0, 0.05);
  ASSERT_TRUE(p.audio_max_db);
  EXPECT_GT(*p.audio_max_db, -30);
  std::string error;
  EXPECT_GT(decode_first_frame_ms(ss.str(), error), 0) << error;
  // Not a media file at all.
  SegmentProbe bad;
  inspect_segment("this is not MPEG-TS", bad);
  EXPECT_FALSE(bad.inspected);
  EXPECT_FALSE(bad.error.empty());
}

TEST(Http, ResolveUrl) {
  EXPECT_EQ(resolve_url("http://h:1/a/b/index.m3u8?t=1", "seg-1.ts"), "http://h:1/a/b/seg-1.ts");
  EXPECT_EQ(resolve_url("http://h:1/a/b/index.m3u8", "../c/x.m3u8"), "http://h:1/a/c/x.m3u8");
  EXPECT_EQ(resolve_url("http://h:1/a/index.m3u8", "/abs.ts"), "http://h:1/abs.ts");
  EXPECT_EQ(resolve_url("http://h:1/a/index.m3u8", "https://o/x.ts"), "https://o/x.ts");
}
