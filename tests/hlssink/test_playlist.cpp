// The HLS playlist model/writer and the segmenter, without GStreamer.
#include <gtest/gtest.h>

#include "hls/playlist.h"
#include "hlssink_fmp4.h"
#include "hlssink_segmenter.h"

namespace {

using iptv::hls::MediaPlaylist;
using iptv::hls::PlaylistType;
using iptv::hls::Segment;

Segment seg(uint64_t seq, double dur, bool disc = false) {
  Segment s;
  s.sequence = seq;
  s.duration = dur;
  s.uri = "seg-" + std::to_string(seq) + ".ts";
  s.pdt_ms = 1'764'000'000'000 + (int64_t)seq * 4000;
  s.discontinuity = disc;
  s.bytes = 1000;
  return s;
}

TEST(MediaPlaylist, LiveWindowSlidesAndCountsDiscontinuities) {
  MediaPlaylist p(PlaylistType::kLive, 4, 3, 0);
  EXPECT_TRUE(p.add(seg(100, 4.0)).empty());
  EXPECT_TRUE(p.add(seg(101, 4.0, true)).empty());
  EXPECT_TRUE(p.add(seg(102, 4.0)).empty());
  auto gone = p.add(seg(103, 4.0));
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].sequence, 100u);
  EXPECT_EQ(p.media_sequence(), 101u);
  EXPECT_EQ(p.discontinuity_sequence(), 0u);
  p.add(seg(104, 4.0));  // removes 101, which carries a discontinuity
  EXPECT_EQ(p.media_sequence(), 102u);
  EXPECT_EQ(p.discontinuity_sequence(), 1u);
  std::string text = p.render();
  EXPECT_NE(text.find("#EXT-X-MEDIA-SEQUENCE:102\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), std::string::npos);
  EXPECT_EQ(text.find("#EXT-X-ENDLIST"), std::string::npos);
  EXPECT_EQ(text.find("PLAYLIST-TYPE"), std::string::npos);
}

TEST(MediaPlaylist, EveryTagRfc8216Needs) {
  MediaPlaylist p(PlaylistType::kLive, 4, 6, 0);
  p.add(seg(7, 4.0));
  p.add(seg(8, 4.4));        // rounds to 4
  p.add(seg(9, 4.6, true));  // rounds to 5: TARGETDURATION follows
  std::string t = p.render();
  EXPECT_EQ(t.rfind("#EXTM3U\n", 0), 0u);
  EXPECT_NE(t.find("#EXT-X-TARGETDURATION:5\n"), std::string::npos) << t;
  EXPECT_NE(t.find("#EXTINF:4.40000,\nseg-8.ts\n"), std::string::npos);
  EXPECT_NE(t.find("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:"), std::string::npos);
  size_t pdts = 0;
  for (size_t at = t.find("#EXT-X-PROGRAM-DATE-TIME:"); at != std::string::npos;
       at = t.find("#EXT-X-PROGRAM-DATE-TIME:", at + 1))
    ++pdts;
  EXPECT_EQ(pdts, 3u);
  EXPECT_NE(t.find("#EXT-X-INDEPENDENT-SEGMENTS"), std::string::npos);
}

TEST(MediaPlaylist, DvrWindowKeepsTime) {
  MediaPlaylist p(PlaylistType::kLive, 4, 3, 30);
  for (uint64_t i = 0; i < 20; ++i) p.add(seg(i, 4.0));
  // 30 s of DVR at 4 s segments: 8 segments (32 s) stay listed.
  EXPECT_EQ(p.segments().size(), 8u);
}

TEST(MediaPlaylist, EventAndVod) {
  MediaPlaylist e(PlaylistType::kEvent, 4, 3, 0);
  for (uint64_t i = 0; i < 10; ++i) e.add(seg(i, 4.0));
  EXPECT_EQ(e.segments().size(), 10u);
  EXPECT_NE(e.render().find("#EXT-X-PLAYLIST-TYPE:EVENT"), std::string::npos);
  MediaPlaylist v(PlaylistType::kVod, 4, 3, 0);
  v.add(seg(0, 4.0));
  EXPECT_NE(v.render().find("#EXT-X-PLAYLIST-TYPE:EVENT"), std::string::npos);  // still growing
  v.end();
  std::string t = v.render();
  EXPECT_NE(t.find("#EXT-X-PLAYLIST-TYPE:VOD"), std::string::npos);
  EXPECT_NE(t.find("#EXT-X-ENDLIST\n"), std::string::npos);
}

TEST(MediaPlaylist, RestoreContinuesAfterRestart) {
  MediaPlaylist a(PlaylistType::kLive, 4, 3, 0);
  for (uint64_t i = 50; i < 55; ++i) a.add(seg(i, 4.0, i == 53));
  MediaPlaylist b(PlaylistType::kLive, 4, 3, 0);
  ASSERT_TRUE(b.restore(a.render()));
  EXPECT_EQ(b.media_sequence(), a.media_sequence());
  EXPECT_EQ(b.next_sequence(), 55u);
  EXPECT_EQ(b.discontinuity_sequence(), a.discontinuity_sequence());
  EXPECT_EQ(b.segments().size(), 3u);
  EXPECT_EQ(b.segments()[1].pdt_ms, a.segments()[1].pdt_ms);
  EXPECT_TRUE(b.segments()[1].discontinuity);
  EXPECT_EQ(b.render(), a.render());
  EXPECT_FALSE(b.restore("not a playlist"));
}

// A restart that took longer than a segment: epoch numbering skips numbers. The implied number
// of every listed segment (MEDIA-SEQUENCE + index) must stay its own, so the window restarts at
// the new number behind a discontinuity and the old segments are handed back for retirement.
TEST(MediaPlaylist, AGapInNumbersRestartsTheWindow) {
  MediaPlaylist a(PlaylistType::kLive, 4, 5, 0);
  for (uint64_t i = 50; i < 54; ++i) a.add(seg(i, 4.0, i == 52));
  MediaPlaylist b(PlaylistType::kLive, 4, 5, 0);
  ASSERT_TRUE(b.restore(a.render()));
  b.resume_at(54);
  EXPECT_TRUE(b.add(seg(54, 4.0, true)).empty()) << "no gap: the window goes on";
  auto removed = b.add(seg(57, 4.0, false));
  ASSERT_EQ(removed.size(), 5u);
  EXPECT_EQ(removed.front().uri, "seg-50.ts");
  EXPECT_EQ(removed.back().uri, "seg-54.ts");
  ASSERT_EQ(b.segments().size(), 1u);
  EXPECT_EQ(b.media_sequence(), 57u);
  EXPECT_TRUE(b.segments().front().discontinuity);
  EXPECT_EQ(b.discontinuity_sequence(), 2u) << "two discontinuities left the window";
  std::string text = b.render();
  EXPECT_NE(text.find("#EXT-X-MEDIA-SEQUENCE:57\n"), std::string::npos) << text;
  EXPECT_NE(text.find("#EXT-X-DISCONTINUITY-SEQUENCE:2\n"), std::string::npos) << text;
  EXPECT_TRUE(b.add(seg(58, 4.0)).empty());
  // The same when the gap shows first as an open (low-latency) segment: its parts are listed
  // after a window that already restarted, and add() returns what it dropped.
  MediaPlaylist c(PlaylistType::kLive, 4, 5, 0);
  c.set_part_target(1);
  for (uint64_t i = 10; i < 12; ++i) c.add(seg(i, 4.0));
  c.open_segment(20, true, 0, "");
  EXPECT_EQ(c.media_sequence(), 20u);
  EXPECT_EQ(c.add(seg(20, 4.0, true)).size(), 2u);
  EXPECT_EQ(c.media_sequence(), 20u);
  // Event and VOD playlists (catch-up ranges) keep everything.
  MediaPlaylist e(PlaylistType::kEvent, 4, 5, 0);
  e.add(seg(1, 4.0));
  EXPECT_TRUE(e.add(seg(9, 4.0, true)).empty());
  EXPECT_EQ(e.segments().size(), 2u);
}

TEST(Multivariant, OrderedByBandwidthWithAllAttributes) {
  std::vector<iptv::hls::Variant> v = {
      {"hi/index.m3u8", 3'300'000, 3'000'000, 1280, 720, 25, "avc1.64001f,mp4a.40.2"},
      {"lo/index.m3u8", 700'000, 600'000, 640, 360, 25, "avc1.4d401e,mp4a.40.2"}};
  std::string t = iptv::hls::render_multivariant(v);
  EXPECT_LT(t.find("lo/index.m3u8"), t.find("hi/index.m3u8"));
  EXPECT_NE(t.find("#EXT-X-INDEPENDENT-SEGMENTS"), std::string::npos);
  EXPECT_NE(t.find("#EXT-X-STREAM-INF:BANDWIDTH=700000,AVERAGE-BANDWIDTH=600000,RESOLUTION=640x360,"
                   "FRAME-RATE=25.000,CODECS=\"avc1.4d401e,mp4a.40.2\"\nlo/index.m3u8\n"),
            std::string::npos)
      << t;
}

TEST(MediaPlaylist, Fmp4MapIsVersion7AndRepeatedOnlyWhenTheInitChanges) {
  MediaPlaylist p(PlaylistType::kLive, 4, 10, 0);
  for (uint64_t i = 0; i < 4; i++) {
    Segment s = seg(10 + i, 4.0, i == 2);
    s.uri = "seg-" + std::to_string(10 + i) + ".m4s";
    s.map_uri = i < 2 ? "init.mp4" : "init-12.mp4";
    p.add(s);
  }
  std::string t = p.render();
  EXPECT_NE(t.find("#EXT-X-VERSION:7\n"), std::string::npos) << t;
  EXPECT_NE(t.find("#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"init.mp4\"\n"
                   "#EXT-X-PROGRAM-DATE-TIME:"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init-12.mp4\"\n"), std::string::npos)
      << t;
  size_t maps = 0;
  for (size_t at = t.find("#EXT-X-MAP"); at != std::string::npos; at = t.find("#EXT-X-MAP", at + 1))
    maps++;
  EXPECT_EQ(maps, 2u);
  // A restart restores the map of every segment and renders the same text.
  MediaPlaylist back(PlaylistType::kLive, 4, 10, 0);
  ASSERT_TRUE(back.restore(t));
  EXPECT_EQ(back.segments()[1].map_uri, "init.mp4");
  EXPECT_EQ(back.segments()[3].map_uri, "init-12.mp4");
  EXPECT_EQ(back.render(), t);
  // MPEG-TS playlists stay as they were.
  MediaPlaylist ts(PlaylistType::kLive, 4, 3, 0);
  ts.add(seg(1, 4.0));
  EXPECT_NE(ts.render().find("#EXT-X-VERSION:6\n"), std::string::npos);
  EXPECT_EQ(ts.render().find("#EXT-X-MAP"), std::string::npos);
}

TEST(Multivariant, AudioRenditionGroupNamedByEveryVariant) {
  std::vector<iptv::hls::Variant> v = {
      {"hi/index.m3u8", 3'300'000, 3'000'000, 1280, 720, 25, "hvc1.1.6.L93.90,mp4a.40.2", "aud"},
      {"lo/index.m3u8", 700'000, 600'000, 640, 360, 25, "avc1.4d401e,mp4a.40.2", "aud"}};
  std::string t = iptv::hls::render_multivariant(v, {{"aud", "English", "en", "audio/index.m3u8"}});
  EXPECT_NE(t.find("#EXT-X-VERSION:7\n"), std::string::npos) << t;
  EXPECT_NE(t.find("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\","
                   "DEFAULT=YES,AUTOSELECT=YES,URI=\"audio/index.m3u8\"\n"),
            std::string::npos)
      << t;
  EXPECT_LT(t.find("#EXT-X-MEDIA"), t.find("#EXT-X-STREAM-INF"));
  EXPECT_NE(t.find("CODECS=\"avc1.4d401e,mp4a.40.2\",AUDIO=\"aud\"\nlo/index.m3u8"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("AUDIO=\"aud\"\nhi/index.m3u8"), std::string::npos) << t;
}

TEST(Fmp4Helpers, AccessUnitMovesParameterSetsOutAndLengthPrefixes) {
  const std::vector<uint8_t> h264 = {0, 0, 0, 1,    0x09, 0xf0,           // AUD: dropped
                                     0, 0, 0, 1,    0x67, 0x64, 0, 0x1f,  // SPS: moved out
                                     0, 0, 1, 0x68, 0xeb,                 // PPS: moved out
                                     0, 0, 1, 0x65, 0x88, 0x84, 0,        // IDR slice
                                     0, 0, 1, 0x06, 0x05};                // SEI
  auto au = iptv::annexb_access_unit(h264, false);
  ASSERT_EQ(au.sps.size(), 1u);
  EXPECT_EQ(au.sps[0], (std::vector<uint8_t>{0x67, 0x64, 0, 0x1f}));
  ASSERT_EQ(au.pps.size(), 1u);
  EXPECT_EQ(au.sample,
            (std::vector<uint8_t>{0, 0, 0, 3, 0x65, 0x88, 0x84, 0, 0, 0, 2, 0x06, 0x05}));
  const std::vector<uint8_t> h265 = {0, 0, 0, 1, 0x46, 0x01, 0x50,   // AUD (35)
                                     0, 0, 0, 1, 0x40, 0x01, 0x0c,   // VPS (32)
                                     0, 0, 0, 1, 0x42, 0x01, 0x01,   // SPS (33)
                                     0, 0, 0, 1, 0x44, 0x01, 0xc1,   // PPS (34)
                                     0, 0, 0, 1, 0x26, 0x01, 0xaf};  // IDR_W_RADL (19)
  auto hu = iptv::annexb_access_unit(h265, true);
  EXPECT_EQ(hu.vps.size(), 1u);
  EXPECT_EQ(hu.sps.size(), 1u);
  EXPECT_EQ(hu.pps.size(), 1u);
  EXPECT_EQ(hu.sample, (std::vector<uint8_t>{0, 0, 0, 3, 0x26, 0x01, 0xaf}));
}

TEST(Fmp4Helpers, NanosecondsToTimescaleWithoutOverflow) {
  EXPECT_EQ(iptv::ns_to_timescale(1'000'000'000, 90000), 90000u);
  EXPECT_EQ(iptv::ns_to_timescale(40'000'000, 90000), 3600u);
  EXPECT_EQ(iptv::ns_to_timescale(21'333'333, 48000), 1023u);  // floor
  // UTC in 2026 (1.8e18 ns) times 90000 does not fit 64 bits; the split computation does.
  EXPECT_EQ(iptv::ns_to_timescale(1'796'661'955'500'000'000ull, 90000),
            1'796'661'955ull * 90000 + 45000);
}

TEST(Codecs, FromSpsAndAudioConfig) {
  const uint8_t annexb[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac};
  EXPECT_EQ(iptv::hls::avc1_codec_from_annexb(annexb, sizeof annexb), "avc1.64001f");
  const uint8_t no_sps[] = {0, 0, 1, 0x65, 0x88};
  EXPECT_EQ(iptv::hls::avc1_codec_from_annexb(no_sps, sizeof no_sps), "");
  const uint8_t lc[] = {0x11, 0x90};  // AOT 2, 48 kHz, stereo
  const uint8_t he[] = {0x2b, 0x92};  // AOT 5
  EXPECT_EQ(iptv::hls::mp4a_codec_from_asc(lc, 2), "mp4a.40.2");
  EXPECT_EQ(iptv::hls::mp4a_codec_from_asc(he, 2), "mp4a.40.5");
}

TEST(Codecs, HevcFromSps) {
  // An x265 Main profile level 3.1 SPS (Main, compat flags 0x60000000, 6 constraint bytes 0x90..).
  const uint8_t sps[] = {0,    0,    0,    1,    0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03,
                         0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x5d, 0xa0, 0x02};
  EXPECT_EQ(iptv::hls::hvc1_codec_from_annexb(sps, sizeof sps), "hvc1.1.6.L93.90");
}

TEST(Pdt, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(iptv::hls::format_pdt(1'764'027'180'123), "2025-11-24T23:33:00.123Z");
}

TEST(Segmenter, EpochNumbersFromUtcAndCutsOnTheGrid) {
  const int64_t S = 1'000'000'000;
  iptv::Segmenter s(4.0, true);
  int64_t t0 = 1'764'027'182 * S;  // mid-segment: 1764027182 / 4 = 441006795.5
  auto a = s.on_keyframe(t0, false);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->sequence, 441006795u);
  EXPECT_FALSE(a->discontinuity);
  EXPECT_FALSE(s.on_keyframe(t0 + 1 * S, false));  // same segment
  auto b = s.on_keyframe(t0 + 2 * S, false);       // crosses 4 s boundary
  ASSERT_TRUE(b);
  EXPECT_EQ(b->sequence, 441006796u);
  EXPECT_FALSE(s.on_keyframe(t0 + 4 * S, false));
  auto c = s.on_keyframe(t0 + 5 * S, true);  // a discontinuity cuts at once
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->discontinuity);
  EXPECT_EQ(c->sequence, 441006797u);
  // A restart an hour later never goes backwards; a resumed one is marked.
  iptv::Segmenter r(4.0, true);
  r.resume(441006798);
  auto d = r.on_keyframe(t0 + 3600 * S, false);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->sequence, 441007695u);
  EXPECT_TRUE(d->discontinuity);
}

TEST(Segmenter, CounterContinuesFromState) {
  const int64_t S = 1'000'000'000;
  iptv::Segmenter s(2.0, false);
  s.resume(42);
  auto a = s.on_keyframe(0, false);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->sequence, 42u);
  EXPECT_TRUE(a->discontinuity);
  EXPECT_FALSE(s.on_keyframe(1 * S, false));
  EXPECT_EQ(s.on_keyframe(2 * S, false)->sequence, 43u);
}

}  // namespace

namespace {

using iptv::hls::Part;

// A 2 s fMP4 segment of four 0.5 s parts.
Segment ll_seg(MediaPlaylist &p, uint64_t seq) {
  p.open_segment(seq, false, 1'764'000'000'000 + (int64_t)seq * 2000, "init.mp4");
  for (int k = 0; k < 4; k++)
    p.add_part({0.5, "seg-" + std::to_string(seq) + "." + std::to_string(k) + ".m4s", k == 0});
  Segment s;
  s.sequence = seq;
  s.duration = 2.0;
  s.uri = "seg-" + std::to_string(seq) + ".m4s";
  s.pdt_ms = 1'764'000'000'000 + (int64_t)seq * 2000;
  s.map_uri = "init.mp4";
  s.bytes = 1000;
  return s;
}

}  // namespace

// Low latency: the server-control, part-inf and version lines; parts only for the segments of
// the last 3 target durations and the open one; the preload hint and the rendition reports.
TEST(MediaPlaylist, LowLatencyTagsAndPartsOfTheLastThreeTargetDurations) {
  MediaPlaylist p(PlaylistType::kLive, 2, 6, 0);
  p.set_part_target(0.5);
  for (uint64_t seq = 10; seq < 15; seq++) p.add(ll_seg(p, seq));
  p.open_segment(15, false, 1'764'000'000'000 + 15 * 2000, "init.mp4");
  p.add_part({0.5, "seg-15.0.m4s", true});
  p.set_preload_hint("seg-15.1.m4s");
  p.set_rendition_reports({{"../lo/index.m3u8", 15, 0}, {"../audio/index.m3u8", 14, 3}});
  std::string t = p.render();
  EXPECT_EQ(t.find("#EXTM3U\n#EXT-X-VERSION:9\n#EXT-X-TARGETDURATION:2\n"
                   "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=12,"
                   "PART-HOLD-BACK=1.5\n#EXT-X-PART-INF:PART-TARGET=0.5\n"
                   "#EXT-X-MEDIA-SEQUENCE:10\n"),
            0u)
      << t;
  // The playlist ends at 10.5 s: segments starting at or after 4.5 s (13 and 14) list their
  // parts, 10..12 do not.
  EXPECT_EQ(t.find("seg-12.0.m4s"), std::string::npos) << t;
  EXPECT_NE(t.find("#EXT-X-PROGRAM-DATE-TIME:"), std::string::npos);
  EXPECT_NE(t.find("#EXT-X-PART:DURATION=0.50000,URI=\"seg-13.0.m4s\",INDEPENDENT=YES\n"
                   "#EXT-X-PART:DURATION=0.50000,URI=\"seg-13.1.m4s\"\n"
                   "#EXT-X-PART:DURATION=0.50000,URI=\"seg-13.2.m4s\"\n"
                   "#EXT-X-PART:DURATION=0.50000,URI=\"seg-13.3.m4s\"\n"
                   "#EXTINF:2.00000,\nseg-13.m4s\n"),
            std::string::npos)
      << t;
  // The open segment: its date, its part, the hint, then the reports.
  EXPECT_NE(t.find("seg-14.m4s\n#EXT-X-PROGRAM-DATE-TIME:2025-11-24T16:00:30.000Z\n"
                   "#EXT-X-PART:DURATION=0.50000,URI=\"seg-15.0.m4s\",INDEPENDENT=YES\n"
                   "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-15.1.m4s\"\n"
                   "#EXT-X-RENDITION-REPORT:URI=\"../lo/index.m3u8\",LAST-MSN=15,LAST-PART=0\n"
                   "#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\",LAST-MSN=14,"
                   "LAST-PART=3\n"),
            std::string::npos)
      << t;
  // Its own report: the open segment's last part.
  auto r = p.report("../hi/index.m3u8");
  EXPECT_EQ(r.last_msn, 15u);
  EXPECT_EQ(r.last_part, 0);
  // Completing it moves its parts into the segment; then the report is that segment's.
  Segment s15;
  s15.sequence = 15;
  s15.duration = 0.5;
  s15.uri = "seg-15.m4s";
  s15.map_uri = "init.mp4";
  p.add(s15);
  ASSERT_EQ(p.segments().back().parts.size(), 1u);
  EXPECT_FALSE(p.has_open());
  EXPECT_EQ(p.report("x").last_msn, 15u);
  EXPECT_EQ(p.report("x").last_part, 0);
}

// Without a part target nothing of the above is written (and the version stays 7 for fMP4).
TEST(MediaPlaylist, NoPartTargetNoLowLatencyTags) {
  MediaPlaylist p(PlaylistType::kLive, 2, 6, 0);
  p.add(ll_seg(p, 1));
  p.set_preload_hint("seg-2.0.m4s");
  std::string t = p.render();
  EXPECT_NE(t.find("#EXT-X-VERSION:7\n"), std::string::npos) << t;
  for (const char *tag : {"#EXT-X-PART", "#EXT-X-SERVER-CONTROL", "#EXT-X-PRELOAD-HINT"})
    EXPECT_EQ(t.find(tag), std::string::npos) << tag << "\n" << t;
}

// Segments leaving the window carry their parts (the sink deletes the part files with them);
// a restored playlist keeps the parts of its segments and reports the parts of a segment it
// never completed as orphans; an ended playlist has no preload hint.
TEST(MediaPlaylist, LowLatencyWindowRestoreAndEnd) {
  MediaPlaylist p(PlaylistType::kLive, 2, 2, 0);
  p.set_part_target(0.5);
  p.add(ll_seg(p, 1));
  p.add(ll_seg(p, 2));
  auto gone = p.add(ll_seg(p, 3));
  ASSERT_EQ(gone.size(), 1u);
  ASSERT_EQ(gone[0].parts.size(), 4u);
  EXPECT_EQ(gone[0].parts[3].uri, "seg-1.3.m4s");
  p.open_segment(4, false, 0, "init.mp4");
  p.add_part({0.5, "seg-4.0.m4s", true});
  p.set_preload_hint("seg-4.1.m4s");
  MediaPlaylist q(PlaylistType::kLive, 2, 2, 0);
  ASSERT_TRUE(q.restore(p.render()));
  ASSERT_EQ(q.segments().size(), 2u);
  EXPECT_EQ(q.segments()[1].parts.size(), 4u);
  EXPECT_TRUE(q.segments()[1].parts[0].independent);
  EXPECT_DOUBLE_EQ(q.segments()[1].parts[0].duration, 0.5);
  ASSERT_EQ(q.orphan_parts().size(), 1u);
  EXPECT_EQ(q.orphan_parts()[0].uri, "seg-4.0.m4s");
  EXPECT_EQ(q.next_sequence(), 4u);
  MediaPlaylist e(PlaylistType::kEvent, 2, 2, 0);
  e.set_part_target(0.5);
  e.add(ll_seg(e, 1));
  e.set_preload_hint("seg-2.0.m4s");
  e.end();
  EXPECT_EQ(e.render().find("PRELOAD-HINT"), std::string::npos) << e.render();
}
