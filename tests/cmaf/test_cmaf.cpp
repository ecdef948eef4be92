// core/cmaf: codecs strings from the bitstream, the CMAF box writer and reader, the fragmenter's
// continuous timeline. The parameter sets are x264enc/x265enc output at 320x180 (I420 and
// Y444); the expected strings and the hvcC bytes are what ffprobe/ffmpeg report for the same
// streams.
#include <gtest/gtest.h>

#include <string>

#include "cmaf/boxes.h"
#include "cmaf/codec.h"
#include "cmaf/fragmenter.h"
#include "cmaf/mpd.h"

namespace {

using iptv::cmaf::Bytes;
namespace cmaf = iptv::cmaf;

Bytes hex(const std::string &h) {
  Bytes b;
  for (size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(std::stoi(h.substr(i, 2), nullptr, 16));
  return b;
}
std::string to_hex(std::span<const uint8_t> b) {
  static const char *d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) s += {d[c >> 4], d[c & 15]};
  return s;
}

// x264enc, I420 320x180: High, level 2.0.
const Bytes kSps264 = hex("67640014acd941419f9f016a0c0c0d4a000003000200000300791e28532c");
const Bytes kPps264 = hex("68ebecb22c");
// x264enc, Y444 320x180: High 4:4:4 Predictive, level 1.3.
const Bytes kSps264_444 = hex("67f4000d90d9b282833f1b80b506060640000003004000000f23c50a6580");
// x265enc, I420 320x180: Main, level 2.1.
const Bytes kVps265 = hex("40010c01ffff01600000030090000003000003003f959809");
const Bytes kSps265 =
    hex("42010101600000030090000003000003003fa00a080b9f796566924cafff000100016a0c0c0c08000003000800"
        "000300f040");
const Bytes kPps265 = hex("4401c172b46240");
// AAC-LC 48 kHz stereo.
const Bytes kAsc = {0x11, 0x90};

TEST(CmafCodec, H264SpsGivesProfileLevelAndSize) {
  std::string err;
  auto s = cmaf::parse_h264_sps(kSps264, &err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->profile_idc, 100);
  EXPECT_EQ(s->level_idc, 20);
  EXPECT_EQ(s->width, 320u);
  EXPECT_EQ(s->height, 180u);  // 192 coded, cropped by 12
  auto s444 = cmaf::parse_h264_sps(kSps264_444, &err);
  ASSERT_TRUE(s444) << err;
  EXPECT_EQ(s444->profile_idc, 244);
  EXPECT_EQ(s444->width, 320u);
  EXPECT_EQ(s444->height, 180u);
  auto avcc = cmaf::make_avcc({kSps264}, {kPps264}, &err);
  ASSERT_TRUE(avcc) << err;
  EXPECT_EQ(cmaf::codec_string_avcc(*avcc, &err).value_or(err), "avc1.640014");
  auto avcc444 = cmaf::make_avcc({kSps264_444}, {kPps264}, &err);
  ASSERT_TRUE(avcc444) << err;
  EXPECT_EQ(cmaf::codec_string_avcc(*avcc444, &err).value_or(err), "avc1.f4000d");
}

TEST(CmafCodec, H265SpsGivesHvccLikeFfmpegAndCodecString) {
  std::string err;
  auto s = cmaf::parse_h265_sps(kSps265, &err);
  ASSERT_TRUE(s) << err;
  EXPECT_EQ(s->profile_idc, 1);
  EXPECT_EQ(s->level_idc, 63);
  EXPECT_EQ(s->width, 320u);
  EXPECT_EQ(s->height, 180u);
  EXPECT_EQ(s->chroma_format_idc, 1);
  auto hvcc = cmaf::make_hvcc({kVps265}, {kSps265}, {kPps265}, &err);
  ASSERT_TRUE(hvcc) << err;
  // The first 23 bytes (before the arrays) as ffmpeg -tag:v hvc1 writes them for this stream.
  EXPECT_EQ(to_hex(std::span(*hvcc).first(23)), "0101600000009000000000003ff000fcfdf8f800000f03");
  EXPECT_EQ(cmaf::codec_string_hvcc(*hvcc, &err).value_or(err), "hvc1.1.6.L63.90");
  auto back = cmaf::hvcc_sps(*hvcc, &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(back->width, 320u);
}

TEST(CmafCodec, AudioSpecificConfig) {
  std::string err;
  auto c = cmaf::parse_audio_specific_config(kAsc, &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->object_type, 2);
  EXPECT_EQ(c->sample_rate, 48000u);
  EXPECT_EQ(c->channels, 2);
  EXPECT_EQ(cmaf::codec_string_asc(Bytes{0x12, 0x10}, &err).value_or(err), "mp4a.40.2");
  // HE-AAC (object type 5), 24 kHz core
  EXPECT_EQ(cmaf::codec_string_asc(Bytes{0x2b, 0x10}, &err).value_or(err), "mp4a.40.5");
  EXPECT_FALSE(cmaf::parse_audio_specific_config(Bytes{0x16, 0x90}, &err));  // index 13
  EXPECT_NE(err.find("samplingFrequencyIndex"), std::string::npos) << err;
  EXPECT_FALSE(cmaf::parse_audio_specific_config(Bytes{0x12}, &err));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST(CmafCodec, BadParameterSetsAreRefusedWithAReason) {
  std::string err;
  EXPECT_FALSE(cmaf::parse_h264_sps(kPps264, &err));
  EXPECT_NE(err.find("NAL unit type 8"), std::string::npos) << err;
  EXPECT_FALSE(cmaf::parse_h264_sps(std::span(kSps264).first(8), &err));
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;
  EXPECT_FALSE(cmaf::parse_h265_sps(kVps265, &err));
  EXPECT_NE(err.find("expected 33"), std::string::npos) << err;
  EXPECT_FALSE(cmaf::parse_h265_sps(std::span(kSps265).first(20), &err));
  EXPECT_FALSE(cmaf::make_avcc({kSps264}, {}, &err));
  EXPECT_FALSE(cmaf::make_hvcc({}, {kSps265}, {kPps265}, &err));
  EXPECT_FALSE(cmaf::codec_string_hvcc(Bytes{1, 2, 3}, &err));
  // tests/data/cmaf/sps-scaling-delta-overflow.bin (found by the fuzzer: a scaling list
  // delta_scale near 2^31 overflowed an int under UBSan): refused by the range 7.4.2.1.1.1 sets.
  EXPECT_FALSE(cmaf::parse_h264_sps(hex("2764c7090001ffffffffffffffdcffff88feffffffffffffff00016d01"
                                        "ff2780000000ffffff2c000000006f"),
                                    &err));
  EXPECT_NE(err.find("delta_scale out of range"), std::string::npos) << err;
}

TEST(CmafCodec, RbspAndAnnexBSplitting) {
  EXPECT_EQ(cmaf::nal_to_rbsp(Bytes{0x67, 0, 0, 3, 1, 0, 0, 3, 0, 3}),
            (Bytes{0x67, 0, 0, 1, 0, 0, 0, 3}));
  Bytes stream = {0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5};
  auto nals = cmaf::split_annexb(stream);
  ASSERT_EQ(nals.size(), 3u);
  EXPECT_EQ(Bytes(nals[0].begin(), nals[0].end()), (Bytes{0x67, 1, 2}));
  EXPECT_EQ(Bytes(nals[1].begin(), nals[1].end()), (Bytes{0x68, 3}));
  EXPECT_EQ(Bytes(nals[2].begin(), nals[2].end()), (Bytes{0x65, 4, 5}));
}

// split_annexb finds start codes with memchr: it must split exactly as the plain byte-by-byte
// scan (kept here as the reference) over random streams dense in 00 and 01 bytes (start codes,
// 01 bytes that are no start code, 00 00 00 01, a start code at the very end, empty NAL units).
TEST(CmafCodec, AnnexBSplittingMatchesAByteScan) {
  auto reference = [](std::span<const uint8_t> d) {
    std::vector<std::span<const uint8_t>> nals;
    size_t i = 0, start = SIZE_MAX;
    while (i + 3 <= d.size()) {
      if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
        if (start != SIZE_MAX) {
          size_t end = i;
          while (end > start && d[end - 1] == 0) end--;
          if (end > start) nals.push_back(d.subspan(start, end - start));
        }
        i += 3;
        start = i;
      } else {
        i++;
      }
    }
    if (start != SIZE_MAX && start < d.size()) nals.push_back(d.subspan(start));
    return nals;
  };
  uint32_t x = 12345;
  auto rnd = [&] { return x = x * 1103515245u + 12345u, (x >> 16) & 0x7fff; };
  for (int n = 0; n < 3000; n++) {
    Bytes b(rnd() % 64);
    for (auto &c : b) {
      int r = rnd() % 8;
      c = r < 4 ? 0 : r < 6 ? 1 : static_cast<uint8_t>(rnd());
    }
    auto got = cmaf::split_annexb(b), want = reference(b);
    ASSERT_EQ(got.size(), want.size()) << to_hex(b);
    for (size_t i = 0; i < got.size(); i++) {
      EXPECT_EQ(got[i].data(), want[i].data()) << to_hex(b);
      EXPECT_EQ(got[i].size(), want[i].size()) << to_hex(b);
    }
  }
}

cmaf::TrackConfig video_track(bool hevc) {
  cmaf::TrackConfig t;
  t.kind = cmaf::TrackKind::kVideo;
  t.fourcc = hevc ? "hvc1" : "avc1";
  t.timescale = 90000;
  t.width = 320;
  t.height = 180;
  std::string err;
  t.decoder_config = hevc ? *cmaf::make_hvcc({kVps265}, {kSps265}, {kPps265}, &err)
                          : *cmaf::make_avcc({kSps264}, {kPps264}, &err);
  return t;
}

TEST(CmafBoxes, InitSegmentRoundTripsEveryCodec) {
  for (bool hevc : {false, true}) {
    auto t = video_track(hevc);
    std::string err;
    auto init = cmaf::write_init_segment(t, &err);
    ASSERT_TRUE(init) << err;
    auto top = cmaf::read_boxes(*init, &err);
    ASSERT_TRUE(top) << err;
    ASSERT_EQ(top->size(), 2u);
    EXPECT_EQ((*top)[0].type, "ftyp");
    EXPECT_EQ((*top)[1].type, "moov");
    EXPECT_EQ((*top)[0].size + (*top)[1].size, init->size());
    auto info = cmaf::read_init_segment(*init, &err);
    ASSERT_TRUE(info) << err;
    EXPECT_EQ(info->handler, "vide");
    EXPECT_TRUE(info->has_trex);
    EXPECT_EQ(info->track.fourcc, t.fourcc);
    EXPECT_EQ(info->track.width, 320u);
    EXPECT_EQ(info->track.height, 180u);
    EXPECT_EQ(info->track.timescale, 90000u);
    EXPECT_EQ(info->track.decoder_config, t.decoder_config);
    EXPECT_EQ(info->codecs, hevc ? "hvc1.1.6.L63.90" : "avc1.640014");
  }
  cmaf::TrackConfig a;
  a.kind = cmaf::TrackKind::kAudio;
  a.fourcc = "mp4a";
  a.track_id = 1;
  a.timescale = 48000;
  a.sample_rate = 48000;
  a.channels = 2;
  a.decoder_config = kAsc;
  a.language = "deu";
  std::string err;
  auto init = cmaf::write_init_segment(a, &err);
  ASSERT_TRUE(init) << err;
  auto info = cmaf::read_init_segment(*init, &err);
  ASSERT_TRUE(info) << err;
  EXPECT_EQ(info->handler, "soun");
  EXPECT_EQ(info->codecs, "mp4a.40.2");
  EXPECT_EQ(info->track.sample_rate, 48000u);
  EXPECT_EQ(info->track.channels, 2u);
  EXPECT_EQ(info->track.language, "deu");
  EXPECT_EQ(info->track.decoder_config, kAsc);
}

TEST(CmafBoxes, InitSegmentRefusesWhatItCannotCarry) {
  auto t = video_track(false);
  std::string err;
  t.fourcc = "vp09";
  EXPECT_FALSE(cmaf::write_init_segment(t, &err));
  EXPECT_NE(err.find("'vp09'"), std::string::npos) << err;
  t = video_track(false);
  t.width = 0;
  EXPECT_FALSE(cmaf::write_init_segment(t, &err));
  t = video_track(false);
  t.decoder_config = {0};
  EXPECT_FALSE(cmaf::write_init_segment(t, &err));
  t = video_track(false);
  t.language = "DE";
  EXPECT_FALSE(cmaf::write_init_segment(t, &err));
}

TEST(CmafBoxes, MediaSegmentSizesAndRoundTrip) {
  std::vector<cmaf::Sample> samples = {{3000, 5, cmaf::kSyncSampleFlags, 6000},
                                       {3000, 3, cmaf::kNonSyncSampleFlags, -3000},
                                       {3000, 2, cmaf::kNonSyncSampleFlags, 0}};
  Bytes payload = {1, 1, 1, 1, 1, 2, 2, 2, 3, 3};
  std::string err;
  auto seg = cmaf::write_media_segment(7, 1, 0x1'0000'0005ull, samples, payload, &err);
  ASSERT_TRUE(seg) << err;
  // moof = 8 + mfhd 16 + traf(8 + tfhd 16 + tfdt v1 20 + trun 20 + 16 per sample); mdat 8 + 10
  size_t moof = 8 + 16 + 8 + 16 + 20 + 20 + 16 * 3;
  EXPECT_EQ(seg->size(), moof + 8 + payload.size());
  auto frags = cmaf::read_media_segment(*seg, &err);
  ASSERT_TRUE(frags) << err;
  ASSERT_EQ(frags->size(), 1u);
  const auto &f = frags->front();
  EXPECT_EQ(f.sequence_number, 7u);
  EXPECT_EQ(f.track_id, 1u);
  EXPECT_EQ(f.base_decode_time, 0x1'0000'0005ull);  // needs tfdt version 1
  EXPECT_EQ(f.duration(), 9000u);
  EXPECT_EQ(f.data_offset, moof + 8);
  EXPECT_EQ(f.mdat_payload_size, payload.size());
  ASSERT_EQ(f.samples.size(), 3u);
  for (size_t i = 0; i < 3; i++) {
    EXPECT_EQ(f.samples[i].size, samples[i].size);
    EXPECT_EQ(f.samples[i].flags, samples[i].flags);
    EXPECT_EQ(f.samples[i].composition_offset, samples[i].composition_offset);
  }
  EXPECT_EQ((*seg)[f.data_offset], 1);
  EXPECT_EQ(seg->back(), 3);
  // sizes that do not add up are refused
  EXPECT_FALSE(cmaf::write_media_segment(1, 1, 0, samples, std::span(payload).first(9), &err));
  EXPECT_NE(err.find("add up to 10"), std::string::npos) << err;
}

TEST(CmafBoxes, ReaderRefusesSamplesOutsideMdatAndBadSizes) {
  std::vector<cmaf::Sample> samples = {{3000, 4, cmaf::kSyncSampleFlags, 0}};
  Bytes payload = {9, 9, 9, 9};
  std::string err;
  auto seg = *cmaf::write_media_segment(1, 1, 0, samples, payload, &err);
  // mdat cut short by two bytes (sizes patched so the boxes still parse)
  Bytes cut(seg.begin(), seg.end() - 2);
  cut[cut.size() - 2 - 4 - 1] = static_cast<uint8_t>(8 + 2);  // mdat size low byte
  EXPECT_FALSE(cmaf::read_media_segment(cut, &err));
  EXPECT_NE(err.find("outside the following mdat"), std::string::npos) << err;
  // a box size larger than the buffer
  Bytes bad = seg;
  bad[3] = 0xFF;
  EXPECT_FALSE(cmaf::read_media_segment(bad, &err));
  EXPECT_NE(err.find("moof at offset 0: size"), std::string::npos) << err;
  // moof without mdat
  Bytes only_moof(seg.begin(), seg.end() - 12);
  EXPECT_FALSE(cmaf::read_media_segment(only_moof, &err));
  EXPECT_FALSE(cmaf::read_init_segment(seg, &err));
  EXPECT_NE(err.find("ftyp"), std::string::npos) << err;
}

TEST(CmafFragmenter, TfdtContinuesAcrossSegments) {
  cmaf::TrackFragmenter fr(1);
  std::vector<Bytes> segments;
  std::string err;
  Bytes frame = {0, 0, 0, 1, 0x65};
  // 25 fps in 90 kHz with an irregular step (3600 +/- 1, as rounding ns gives), cut every 12
  uint64_t dts = 900000, last_dts = 0, last_step = 0;
  for (int i = 0; i < 60; i++) {
    if (i > 0 && i % 12 == 0) {
      auto seg = fr.cut(dts, &err);
      ASSERT_TRUE(seg) << err;
      segments.push_back(*seg);
    }
    ASSERT_TRUE(fr.add(dts, 0, i % 12 == 0, frame, &err)) << err;
    if (i < 59) last_step = 3600 + (i % 3 == 0 ? 1 : 0);
    last_dts = dts;
    dts += 3600 + (i % 3 == 0 ? 1 : 0);
  }
  auto last = fr.finish(3600, &err);
  ASSERT_TRUE(last) << err;
  segments.push_back(*last);
  ASSERT_EQ(segments.size(), 5u);
  uint64_t expect = 900000;
  uint32_t seq = 1;
  for (const auto &s : segments) {
    auto frags = cmaf::read_media_segment(s, &err);
    ASSERT_TRUE(frags) << err;
    EXPECT_EQ(frags->front().base_decode_time, expect);
    EXPECT_EQ(frags->front().sequence_number, seq++);
    EXPECT_EQ(frags->front().samples.front().flags, cmaf::kSyncSampleFlags);
    EXPECT_EQ(frags->front().samples.size(), 12u);
    expect += frags->front().duration();
  }
  EXPECT_EQ(expect, last_dts + last_step);  // the last sample lasts as long as the one before it
  EXPECT_EQ(fr.written_end(), expect);
  // decode time going back, or a cut not after the last sample, are refused
  EXPECT_FALSE(fr.add(dts - 100000, 0, true, frame, &err));
  EXPECT_NE(err.find("goes back"), std::string::npos) << err;
  ASSERT_TRUE(fr.add(dts, 0, true, frame, &err));
  EXPECT_FALSE(fr.cut(dts, &err));
  EXPECT_FALSE(cmaf::TrackFragmenter(1).cut(10, &err));
  // after a discontinuity the timeline may start over
  ASSERT_TRUE(fr.finish(3600, &err));
  fr.reset_timeline();
  ASSERT_TRUE(fr.add(1000, 0, true, frame, &err)) << err;
  auto again = fr.finish(3600, &err);
  ASSERT_TRUE(again) << err;
  EXPECT_EQ(cmaf::read_media_segment(*again, &err)->front().base_decode_time, 1000u);
}

TEST(CmafMpd, DynamicTimelineNumbersAndGaps) {
  cmaf::MpdRepresentation v;
  v.id = "hi";
  v.codecs = "avc1.64001f";
  v.bandwidth = 3000000;
  v.width = 1280;
  v.height = 720;
  v.frame_rate = 25;
  // 1000 s since the epoch at 90 kHz; 3 segments of 2 s.
  uint64_t t0 = 1000ull * 90000;
  v.segments = {{500, t0, 180000}, {501, t0 + 180000, 180000}, {502, t0 + 360000, 180000}};
  cmaf::MpdRepresentation a;
  a.id = "audio";
  a.video = false;
  a.codecs = "mp4a.40.2";
  a.timescale = 48000;
  a.sample_rate = 48000;
  a.channels = 2;
  a.segments = {{500, 1000ull * 48000 + 100, 96000}};
  cmaf::MpdConfig c;
  c.target_seconds = 2;
  c.window_seconds = 12;
  c.presentation_delay = 6;
  c.publish_ms = 1000500;
  c.period_start = 1000;
  std::string m = cmaf::render_mpd(c, {v, a});
  EXPECT_NE(m.find("type=\"dynamic\" availabilityStartTime=\"1970-01-01T00:16:40.000Z\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("minimumUpdatePeriod=\"PT2.000S\" timeShiftBufferDepth=\"PT12.000S\" "
                   "suggestedPresentationDelay=\"PT6.000S\""),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("initialization=\"hi/init.mp4\" media=\"hi/seg-$Number$.m4s\" "
                   "startNumber=\"500\" presentationTimeOffset=\"90000000\""),
            std::string::npos)
      << m;
  // A run of equal durations is one S with @r.
  EXPECT_NE(m.find("<S t=\"90000000\" d=\"180000\" r=\"2\"/>\n"), std::string::npos) << m;
  // $Number$ counts S entries: after a gap in numbers (503-506 missing) only the segments after
  // it are listed, from their own startNumber.
  v.segments.push_back({507, t0 + 1000000, 90000});
  v.segments.push_back({508, t0 + 1090000, 90000});
  std::string g = cmaf::render_mpd(c, {v, a});
  EXPECT_NE(g.find("startNumber=\"507\""), std::string::npos) << g;
  EXPECT_NE(g.find("<S t=\"91000000\" d=\"90000\" r=\"1\"/>"), std::string::npos) << g;
  EXPECT_EQ(g.find("startNumber=\"500\" presentationTimeOffset=\"90000000\""), std::string::npos);
  // A gap in time with contiguous numbers (a discontinuity) is a new @t.
  v.segments = {{500, t0, 180000}, {501, t0 + 900000, 180000}};
  std::string d = cmaf::render_mpd(c, {v});
  EXPECT_NE(d.find("<S t=\"90000000\" d=\"180000\"/>\n            <S t=\"90900000\" "
                   "d=\"180000\"/>"),
            std::string::npos)
      << d;
  EXPECT_NE(m.find("audioSamplingRate=\"48000\""), std::string::npos);
  EXPECT_NE(m.find("<S t=\"48000100\" d=\"96000\"/>"), std::string::npos) << m;
  // Static at EOS: the Period starts at the first segment.
  c.dynamic = false;
  v.segments = {{500, t0, 180000}, {501, t0 + 180000, 180000}, {502, t0 + 360000, 180000}};
  std::string st = cmaf::render_mpd(c, {v});
  EXPECT_NE(st.find("type=\"static\" mediaPresentationDuration=\"PT6.000S\""), std::string::npos)
      << st;
  EXPECT_EQ(st.find("availabilityStartTime"), std::string::npos);
}

// GStreamer 1.22's typefinder (dash_mpd_type_find) labels a document application/dash+xml only if
// the `>` closing the <MPD> start tag lies within the first 512 bytes when the length is unknown
// (a chunked HTTP response), with an `=` before it and nothing but printable characters and line
// ends in between; otherwise playbin3 sees application/xml and plugs no DASH demuxer. A live MPD
// with every live attribute at its longest keeps its start tag in that window.
TEST(CmafMpd, StartTagFitsTheTypefinderWindow) {
  cmaf::MpdRepresentation v;
  v.id = "hi";
  v.codecs = "avc1.64001f";
  v.bandwidth = 3000000;
  v.segments = {{4000000000ull, 4102444800ull * 90000, 900000}};
  for (bool dynamic : {true, false}) {
    cmaf::MpdConfig c;
    c.dynamic = dynamic;
    c.target_seconds = 99999.999;
    c.window_seconds = 99999999.999;
    c.presentation_delay = 99999999.999;
    c.publish_ms = 4102444799999;  // 2099-12-31T23:59:59.999Z
    c.period_start = 4102444800;
    c.utc_timing_url = "time";
    std::string m = cmaf::render_mpd(c, {v});
    ASSERT_EQ(m.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MPD ", 0), 0u) << m;
    size_t open = m.find("<MPD "), close = m.find('>', open);
    EXPECT_LT(close, 512u) << m.substr(0, close + 1);
    std::string tag = m.substr(open, close - open);
    EXPECT_NE(tag.find('='), std::string::npos);
    for (char ch : tag) EXPECT_TRUE((ch >= 0x20 && ch < 0x7f) || ch == '\n') << (int)ch;
  }
}

}  // namespace
