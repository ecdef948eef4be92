// iptvctl probe's CMAF and DASH checks (orchestrator/lib/probe/cmaf_check.h) on segments written
// by core/cmaf and MPDs served from memory: a good stream passes every check, and for each check
// a stream broken in exactly that way fails it (so no check passes by construction).
#include <gtest/gtest.h>

#include <map>

#include "cmaf/boxes.h"
#include "probe/cmaf_check.h"

namespace {

namespace cmaf = iptv::cmaf;
using iptv::probe::Issue;
using Bytes = std::vector<uint8_t>;

Bytes hex(const std::string &h) {
  Bytes b;
  for (size_t i = 0; i + 1 < h.size(); i += 2) b.push_back(std::stoi(h.substr(i, 2), nullptr, 16));
  return b;
}
std::string str(const Bytes &b) {
  return std::string(b.begin(), b.end());
}

Bytes video_init() {
  std::string err;
  auto avcc = cmaf::make_avcc({hex("67640014acd941419f9f016a0c0c0d4a000003000200000300791e28532c")},
                              {hex("68ebecb22c")}, &err);
  EXPECT_TRUE(avcc) << err;
  cmaf::TrackConfig t;
  t.fourcc = "avc1";
  t.width = 320;
  t.height = 180;
  t.decoder_config = *avcc;
  auto init = cmaf::write_init_segment(t, &err);
  EXPECT_TRUE(init) << err;
  return *init;
}

// A 2 s video segment at tfdt (25 fps, 90 kHz): the first sample a keyframe unless `no_key`.
Bytes video_seg(uint32_t seq, uint64_t tfdt, bool no_key = false, uint32_t frames = 50) {
  std::vector<cmaf::Sample> samples(frames);
  Bytes payload;
  for (uint32_t i = 0; i < frames; i++) {
    samples[i].duration = 3600;
    samples[i].size = 8;
    samples[i].flags = i == 0 && !no_key ? cmaf::kSyncSampleFlags : cmaf::kNonSyncSampleFlags;
    Bytes nal = {0, 0, 0, 4, 0x41, 0x9a, 0x00, 0x00};
    payload.insert(payload.end(), nal.begin(), nal.end());
  }
  std::string err;
  auto s = cmaf::write_media_segment(seq, 1, tfdt, samples, payload, &err);
  EXPECT_TRUE(s) << err;
  return *s;
}

bool has(const std::vector<Issue> &v, const std::string &rule) {
  for (const auto &i : v)
    if (i.rule == rule) return true;
  return false;
}
std::string dump(const std::vector<Issue> &v) {
  std::string s;
  for (const auto &i : v) s += i.rule + ": " + i.message + "\n";
  return s;
}

TEST(ProbeCmaf, SegmentChecksPassAGoodRenditionAndCatchEachFault) {
  Bytes init = video_init();
  iptv::probe::CmafTrack track;
  double start = 0;
  auto a = iptv::probe::check_cmaf_segment(init, video_seg(10, 900000), 10, false, track, &start);
  EXPECT_TRUE(a.empty()) << dump(a);
  EXPECT_DOUBLE_EQ(start, 10.0);
  auto b = iptv::probe::check_cmaf_segment(init, video_seg(11, 1080000), 11, false, track, &start);
  EXPECT_TRUE(b.empty()) << dump(b);
  // tfdt jumps without a discontinuity: caught; with one: fine.
  iptv::probe::CmafTrack t2 = track;
  auto c = iptv::probe::check_cmaf_segment(init, video_seg(12, 1300000), 12, false, t2, nullptr);
  EXPECT_TRUE(has(c, "cmaf-tfdt-continuity")) << dump(c);
  t2 = track;
  c = iptv::probe::check_cmaf_segment(init, video_seg(12, 1300000), 12, true, t2, nullptr);
  EXPECT_TRUE(c.empty()) << dump(c);
  // A segment that does not start on a keyframe.
  t2 = track;
  c = iptv::probe::check_cmaf_segment(init, video_seg(12, 1260000, true), 12, false, t2, nullptr);
  EXPECT_TRUE(has(c, "cmaf-keyframe-start")) << dump(c);
  // Garbage for a segment, and for an init segment.
  t2 = track;
  Bytes junk(64, 0x42);
  EXPECT_TRUE(has(iptv::probe::check_cmaf_segment(init, junk, 12, false, t2, nullptr),
                  "cmaf-segment-unreadable"));
  EXPECT_TRUE(
      has(iptv::probe::check_cmaf_segment(junk, video_seg(12, 1260000), 12, false, t2, nullptr),
          "cmaf-init-unreadable"));
}

TEST(ProbeCmaf, AlignmentAcrossRenditions) {
  iptv::probe::Starts s;
  s["hi"] = {{10, 20.0}, {11, 22.0}};
  s["lo"] = {{10, 20.0}, {11, 22.0}};
  EXPECT_TRUE(iptv::probe::check_alignment(s).empty());
  s["lo"][11] = 22.2;  // 200 ms off
  auto v = iptv::probe::check_alignment(s);
  ASSERT_EQ(v.size(), 1u) << dump(v);
  EXPECT_EQ(v[0].rule, "cmaf-misaligned");
  EXPECT_EQ(v[0].sequence, 11u);
}

// A dynamic MPD over segments 100..102 of one rendition ("v"), 2 s each, tfdt = UTC.
struct Origin {
  std::map<std::string, std::string> files;
  iptv::probe::Fetch fetch() {
    return [this](const std::string &url) -> std::optional<std::string> {
      auto it = files.find(url);
      if (it == files.end()) return std::nullopt;
      return it->second;
    };
  }
};
const std::string kBase = "http://o/hls/ch/TOKEN/";
const int64_t kNowMs = 1700000206500;  // 0.5 s after segment 102 ends (UTC 1700000206)
const uint64_t kT0 = 1700000200ull * 90000;

std::string mpd(uint64_t start_number, const std::string &timeline,
                const std::string &ast = "2023-11-14T22:13:20Z") {
  return "<?xml version=\"1.0\"?>\n<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\" "
         "availabilityStartTime=\"" +
         ast +
         "\" minimumUpdatePeriod=\"PT2.000S\" "
         "maxSegmentDuration=\"PT3.000S\">\n<Period id=\"1\" start=\"PT0S\">\n"
         "<AdaptationSet contentType=\"video\">\n<Representation id=\"v\" codecs=\"avc1.640014\" "
         "bandwidth=\"300000\">\n<SegmentTemplate timescale=\"90000\" "
         "initialization=\"v/init.mp4\" "
         "media=\"v/seg-$Number$.m4s\" startNumber=\"" +
         std::to_string(start_number) + "\" presentationTimeOffset=\"" +
         std::to_string(1700000000ull * 90000) +
         "\">\n"
         "<SegmentTimeline>\n" +
         timeline +
         "</SegmentTimeline>\n</SegmentTemplate>\n"
         "</Representation>\n</AdaptationSet>\n</Period>\n</MPD>\n";
}
std::string good_timeline() {
  return "<S t=\"" + std::to_string(kT0) + "\" d=\"180000\" r=\"2\"/>\n";
}

Origin good_origin() {
  Origin o;
  o.files[kBase + "v/init.mp4"] = str(video_init());
  std::string pl =
      "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:100\n"
      "#EXT-X-MAP:URI=\"init.mp4\"\n";
  for (int i = 0; i < 3; i++) {
    o.files[kBase + "v/seg-" + std::to_string(100 + i) + ".m4s"] =
        str(video_seg(100 + i, kT0 + i * 180000ull));
    pl += "#EXTINF:2.0,\nseg-" + std::to_string(100 + i) + ".m4s\n";
  }
  o.files[kBase + "v/index.m3u8"] = pl;
  return o;
}

TEST(ProbeMpd, AGoodLiveMpdPassesEveryCheck) {
  Origin o = good_origin();
  iptv::probe::MpdState st;
  // availabilityStartTime 1700000000 = 2023-11-14T22:13:20Z; segment 102 ends at 1700000206.
  auto v = iptv::probe::check_mpd(mpd(100, good_timeline()), kBase + "manifest.mpd", kNowMs,
                                  o.fetch(), st);
  EXPECT_TRUE(v.empty()) << dump(v);
  // The next update: one more segment, the oldest gone; numbers continue.
  o.files[kBase + "v/seg-103.m4s"] = str(video_seg(103, kT0 + 3 * 180000ull));
  std::string tl = "<S t=\"" + std::to_string(kT0 + 180000) + "\" d=\"180000\" r=\"2\"/>\n";
  v = iptv::probe::check_mpd(mpd(101, tl), kBase + "manifest.mpd", kNowMs + 2000, o.fetch(), st);
  EXPECT_TRUE(v.empty()) << dump(v);
}

TEST(ProbeMpd, EachMpdCheckFailsOnItsFault) {
  const std::string url = kBase + "manifest.mpd";
  {  // a listed segment is missing
    Origin o = good_origin();
    o.files.erase(kBase + "v/seg-101.m4s");
    iptv::probe::MpdState st;
    auto v = iptv::probe::check_mpd(mpd(100, good_timeline()), url, kNowMs, o.fetch(), st);
    EXPECT_TRUE(has(v, "mpd-segment-missing")) << dump(v);
  }
  {  // the timeline's durations do not match the media (2.1 s written, 2 s in the file)
    Origin o = good_origin();
    iptv::probe::MpdState st;
    std::string tl = "<S t=\"" + std::to_string(kT0) + "\" d=\"189000\" r=\"2\"/>\n";
    auto v = iptv::probe::check_mpd(mpd(100, tl), url, kNowMs, o.fetch(), st);
    EXPECT_TRUE(has(v, "mpd-timeline-mismatch")) << dump(v);
  }
  {  // numbers do not continue: an update moves number 101 to another time, then goes back
    Origin o = good_origin();
    iptv::probe::MpdState st;
    iptv::probe::check_mpd(mpd(100, good_timeline()), url, kNowMs, o.fetch(), st, false);
    std::string tl = "<S t=\"" + std::to_string(kT0 + 360000) + "\" d=\"180000\"/>\n";
    auto v = iptv::probe::check_mpd(mpd(101, tl), url, kNowMs, o.fetch(), st, false);
    EXPECT_TRUE(has(v, "mpd-number-moved")) << dump(v);
    EXPECT_TRUE(has(v, "mpd-numbers-back")) << dump(v);
  }
  {  // availabilityStartTime off by a minute: the newest segment "ends" 60 s from now
    Origin o = good_origin();
    iptv::probe::MpdState st;
    auto v = iptv::probe::check_mpd(mpd(100, good_timeline(), "2023-11-14T22:14:20Z"), url, kNowMs,
                                    o.fetch(), st, false);
    EXPECT_TRUE(has(v, "mpd-availability")) << dump(v);
    // ... or a stale MPD: its newest segment ended a minute ago.
    iptv::probe::MpdState st2;
    v = iptv::probe::check_mpd(mpd(100, good_timeline()), url, kNowMs + 60000, o.fetch(), st2,
                               false);
    EXPECT_TRUE(has(v, "mpd-availability")) << dump(v);
  }
  {  // HLS lists another file under sequence 101 than DASH number 101
    Origin o = good_origin();
    std::string &pl = o.files[kBase + "v/index.m3u8"];
    pl.replace(pl.find("seg-101.m4s"), 11, "seg-999.m4s");
    iptv::probe::MpdState st;
    auto v = iptv::probe::check_mpd(mpd(100, good_timeline()), url, kNowMs, o.fetch(), st);
    EXPECT_TRUE(has(v, "mpd-hls-mismatch")) << dump(v);
  }
  {  // not an MPD at all
    iptv::probe::MpdState st;
    Origin o;
    auto v = iptv::probe::check_mpd("#EXTM3U\n", url, kNowMs, o.fetch(), st);
    EXPECT_TRUE(has(v, "mpd-unreadable")) << dump(v);
  }
}

TEST(ProbeMpd, ResolvesRelativeUrlsAgainstTheTokenPath) {
  EXPECT_EQ(iptv::probe::resolve_relative("http://h:1/hls/c/T/manifest.mpd", "v/seg-1.m4s"),
            "http://h:1/hls/c/T/v/seg-1.m4s");
  EXPECT_EQ(iptv::probe::resolve_relative("http://h:1/hls/c/T/manifest.mpd?x=1", "time"),
            "http://h:1/hls/c/T/time");
  EXPECT_EQ(iptv::probe::resolve_relative("http://h:1/hls/c/T/manifest.mpd", "/time"),
            "http://h:1/time");
}

}  // namespace
