// The playlist parser and the probe's rule engine: one small playlist (or measured segment) per
// rule, and the clean counterpart of each that must stay clean.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hlsparse/checker.h"
#include "hlsparse/parser.h"
#include "hlsparse/report.h"

using namespace iptv::hlsparse;

namespace {

const std::string kUrl = "http://h/v/index.m3u8";

std::vector<Finding> parse_findings(const std::string &text, Playlist *out = nullptr) {
  std::vector<Finding> fs;
  Playlist pl = parse(text, kUrl, fs);
  if (out) *out = pl;
  return fs;
}

const Finding *find(const std::vector<Finding> &fs, const std::string &rule) {
  for (const auto &f : fs) {
    if (f.rule == rule) return &f;
  }
  return nullptr;
}

std::string rules(const std::vector<Finding> &fs) {
  std::string s;
  for (const auto &f : fs) {
    s += f.rule + "@" + std::to_string(f.line) + "(" + f.message + ") ";
  }
  return s;
}

// A live media playlist: `count` segments of `dur` s from `msn`, with PDT from `pdt0`.
std::string media(uint64_t msn, int count, double dur = 2.0, int target = 2, bool pdt = true,
                  uint64_t dsn = 0) {
  std::string s = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:" + std::to_string(target) +
                  "\n#EXT-X-MEDIA-SEQUENCE:" + std::to_string(msn) + "\n";
  if (dsn) s += "#EXT-X-DISCONTINUITY-SEQUENCE:" + std::to_string(dsn) + "\n";
  for (int i = 0; i < count; ++i) {
    uint64_t n = msn + i;
    if (pdt) {
      int64_t ms = 1700000000000 + static_cast<int64_t>(n * dur * 1000);
      int64_t sec = ms / 1000;
      char buf[64];
      // 2023-11-14T22:13:20Z is 1700000000.
      int64_t off = sec - 1700000000;
      std::snprintf(buf, sizeof buf, "2023-11-14T22:%02lld:%02lld.%03lldZ",
                    static_cast<long long>(13 + (20 + off) / 60),
                    static_cast<long long>((20 + off) % 60), static_cast<long long>(ms % 1000));
      s += std::string("#EXT-X-PROGRAM-DATE-TIME:") + buf + "\n";
    }
    char inf[64];
    std::snprintf(inf, sizeof inf, "#EXTINF:%.3f,\n", dur);
    s += inf;
    s += "seg-" + std::to_string(n) + ".ts\n";
  }
  return s;
}

// A checker that has seen one rendition's playlist text at `t` ms.
std::vector<Segment> load(Checker &c, const std::string &text, int64_t t,
                          const std::string &r = "hi") {
  std::vector<Finding> fs;
  Playlist pl = parse(text, kUrl, fs);
  EXPECT_TRUE(fs.empty()) << rules(fs);
  return c.on_media_playlist(r, pl, text, t);
}

SegmentProbe good_probe(double first_pts, double dur = 2.0) {
  SegmentProbe p;
  p.fetched = true;
  p.http_status = 200;
  p.inspected = true;
  p.has_video = true;
  p.has_audio = true;
  p.video_codec = "h264";
  p.video_profile_idc = 100;
  p.video_level_idc = 31;
  p.audio_codec = "aac";
  p.audio_profile = "LC";
  p.first_video_keyframe = true;
  p.duration = dur;
  p.first_pts = first_pts;
  p.audio_max_db = -12.0;
  return p;
}

Segment seg(uint64_t n, double dur = 2.0, bool disc = false) {
  Segment s;
  s.sequence = n;
  s.duration = dur;
  s.uri = "seg-" + std::to_string(n) + ".ts";
  s.line = 5 + static_cast<int>(n);
  s.discontinuity = disc;
  return s;
}

RenditionInfo rendition(const std::string &name,
                        const std::string &codecs = "avc1.64001f,mp4a.40.2", bool audio = true) {
  RenditionInfo r;
  r.name = name;
  r.url = "http://h/" + name + "/index.m3u8";
  r.line = 3;
  r.declared_codecs = codecs;
  r.expects_audio = audio;
  return r;
}

}  // namespace

// ---- Parser ----

TEST(Parser, MediaPlaylistFieldsAndLines) {
  Playlist pl;
  auto fs = parse_findings(
      "#EXTM3U\n"
      "#EXT-X-VERSION:4\n"
      "#EXT-X-TARGETDURATION:4\n"
      "#EXT-X-MEDIA-SEQUENCE:100\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:7\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-11-24T22:33:00.123Z\n"
      "#EXTINF:3.96,title one\n"
      "#EXT-X-BYTERANGE:1000@0\n"
      "a.ts\n"
      "#EXT-X-DISCONTINUITY\n"
      "#EXTINF:4.0,\n"
      "#EXT-X-BYTERANGE:500\n"
      "a.ts\n"
      "#EXT-X-ENDLIST\n",
      &pl);
  EXPECT_TRUE(fs.empty()) << rules(fs);
  EXPECT_TRUE(pl.has_header);
  EXPECT_FALSE(pl.multivariant);
  EXPECT_EQ(pl.version, 4);
  EXPECT_EQ(pl.target_duration, 4);
  EXPECT_EQ(pl.target_duration_line, 3);
  EXPECT_EQ(pl.media_sequence, 100u);
  EXPECT_EQ(pl.discontinuity_sequence, 7u);
  EXPECT_TRUE(pl.endlist);
  EXPECT_FALSE(pl.live());
  ASSERT_EQ(pl.segments.size(), 2u);
  EXPECT_EQ(pl.segments[0].sequence, 100u);
  EXPECT_DOUBLE_EQ(pl.segments[0].duration, 3.96);
  EXPECT_EQ(pl.segments[0].title, "title one");
  EXPECT_EQ(pl.segments[0].line, 7);
  EXPECT_EQ(pl.segments[0].uri_line, 9);
  ASSERT_TRUE(pl.segments[0].pdt_ms);
  EXPECT_EQ(*pl.segments[0].pdt_ms, 1795559580123);
  EXPECT_EQ(pl.segments[0].byterange->length, 1000u);
  EXPECT_EQ(pl.segments[1].byterange->offset, 1000u);
  EXPECT_EQ(pl.segments[0].discontinuity_sequence, 7u);
  EXPECT_TRUE(pl.segments[1].discontinuity);
  EXPECT_EQ(pl.segments[1].discontinuity_sequence, 8u);
  EXPECT_EQ(pl.segments[1].sequence, 101u);
}

TEST(Parser, MultivariantVariantsAndRenditions) {
  Playlist pl;
  auto fs = parse_findings(
      "#EXTM3U\n"
      "#EXT-X-INDEPENDENT-SEGMENTS\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"English\",LANGUAGE=\"en\",URI=\"a/"
      "en.m3u8\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=1280000,AVERAGE-BANDWIDTH=1000000,RESOLUTION=640x360,"
      "CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO=\"aud\"\n"
      "lo/index.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=3000000,RESOLUTION=1280x720,CODECS=\"avc1.64001f\"\n"
      "hi/index.m3u8\n",
      &pl);
  EXPECT_TRUE(fs.empty()) << rules(fs);
  EXPECT_TRUE(pl.multivariant);
  ASSERT_EQ(pl.variants.size(), 2u);
  EXPECT_EQ(pl.variants[0].bandwidth, 1280000u);
  EXPECT_EQ(pl.variants[0].codecs, "avc1.64001e,mp4a.40.2");
  EXPECT_EQ(pl.variants[0].audio_group, "aud");
  EXPECT_EQ(pl.variants[0].uri, "lo/index.m3u8");
  EXPECT_EQ(pl.variants[0].line, 4);
  ASSERT_EQ(pl.renditions.size(), 1u);
  EXPECT_EQ(pl.renditions[0].uri, "a/en.m3u8");
  EXPECT_EQ(pl.renditions[0].type, "AUDIO");
}

TEST(Parser, Iso8601) {
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T01:00:00.5+01:00"), 500);
  EXPECT_EQ(parse_iso8601_ms("1970-01-01T00:00:01-0000"), 1000);
  EXPECT_EQ(parse_iso8601_ms("2000-02-29T12:00:00Z"), 951825600000);
  EXPECT_FALSE(parse_iso8601_ms("2026-11-24T22:33:00"));  // no zone
  EXPECT_FALSE(parse_iso8601_ms("2026-13-24T22:33:00Z"));
  EXPECT_FALSE(parse_iso8601_ms("yesterday"));
  EXPECT_FALSE(parse_iso8601_ms(""));
}

TEST(Parser, Attributes) {
  Attributes a;
  EXPECT_TRUE(parse_attributes("A=1,B=\"x,y\",C-D=0x1F", a));
  EXPECT_EQ(a["B"], "x,y");
  EXPECT_EQ(a["C-D"], "0x1F");
  Attributes b;
  EXPECT_FALSE(parse_attributes("A=\"unterminated", b));
  Attributes c;
  EXPECT_FALSE(parse_attributes("A=1,A=2", c));  // duplicated
  Attributes d;
  EXPECT_FALSE(parse_attributes("=1", d));
  Attributes e;
  EXPECT_FALSE(parse_attributes("A=1,", e));  // trailing comma
}

struct ParseCase {
  const char *rule;
  int line;
  const char *text;
};

class ParserRule : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParserRule, Found) {
  const auto &c = GetParam();
  auto fs = parse_findings(c.text);
  const Finding *f = find(fs, c.rule);
  ASSERT_TRUE(f) << c.rule << " not in: " << rules(fs);
  EXPECT_EQ(f->line, c.line) << rules(fs);
  EXPECT_EQ(f->url, kUrl);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ParserRule,
    ::testing::Values(
        ParseCase{"playlist-header-missing", 1, "#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n"},
        ParseCase{"tag-malformed", 3, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:two,\na.ts\n"},
        ParseCase{"tag-malformed", 2, "#EXTM3U\n#EXT-X-TARGETDURATION:2.5\n#EXTINF:2,\na.ts\n"},
        ParseCase{"tag-malformed", 3,
                  "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-PROGRAM-DATE-TIME:noon\n#EXTINF:2,\n"
                  "a.ts\n"},
        ParseCase{"tag-malformed", 2,
                  "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:-1\n#EXT-X-TARGETDURATION:2\n"},
        ParseCase{"attribute-malformed", 2, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=\"1\n v.m3u8\n"},
        ParseCase{"tag-duplicated", 3,
                  "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-TARGETDURATION:4\n#EXTINF:2,\na.ts\n"},
        ParseCase{"tag-misplaced", 5,
                  "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MEDIA-SEQUENCE:3\n"},
        ParseCase{"tag-unknown", 3, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-FANCY:1\n"},
        ParseCase{"playlist-mixed", 4,
                  "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n#EXT-X-TARGETDURATION:2\n"
                  "#EXTINF:2,\na.ts\n"},
        ParseCase{"targetduration-missing", 0, "#EXTM3U\n#EXTINF:2,\na.ts\n"},
        ParseCase{"segment-uri-missing", 3, "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\n"},
        ParseCase{"variant-uri-missing", 2, "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n"},
        ParseCase{"segment-extinf-missing", 3, "#EXTM3U\n#EXT-X-TARGETDURATION:2\na.ts\n"},
        ParseCase{"playlist-empty", 0, "#EXTM3U\n\n"}),
    [](const auto &info) {
      std::string n = info.param.rule;
      for (auto &ch : n) ch = ch == '-' ? '_' : ch;
      return n + "_" + std::to_string(info.index);
    });

TEST(Parser, MalformedNeverThrowsAndCleanStaysClean) {
  // Garbage of every kind gives findings and a usable object.
  const char *inputs[] = {"",
                          "\n\n\n",
                          "#EXTM3U",
                          "#EXTINF",
                          "#EXTM3U\n#EXTINF:,\n",
                          "#EXTM3U\n#EXT-X-BYTERANGE:@\n",
                          "#EXTM3U\n#EXT-X-STREAM-INF\n\n",
                          "\xEF\xBB\xBF#EXTM3U\n",
                          "#EXTM3U\r\n#EXT-X-TARGETDURATION:2\r\n"};
  for (const char *in : inputs) {
    std::vector<Finding> fs;
    Playlist pl = parse(in, kUrl, fs);
    EXPECT_EQ(pl.url, kUrl);
  }
  EXPECT_TRUE(parse_findings(media(0, 3)).empty()) << rules(parse_findings(media(0, 3)));
}

// ---- Playlist rules ----

TEST(Rules, TargetDurationExceeded) {
  Checker c;
  load(c, media(0, 3, 2.4, 2), 0);  // 2.4 rounds to 2: fine
  EXPECT_FALSE(find(c.findings(), "targetduration-exceeded")) << rules(c.findings());
  Checker d;
  load(d, media(0, 3, 2.6, 2), 0);  // rounds to 3 > 2
  const Finding *f = find(d.findings(), "targetduration-exceeded");
  ASSERT_TRUE(f) << rules(d.findings());
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->line, 6);  // first EXTINF (after its PDT line)
  EXPECT_EQ(f->rendition, "hi");
}

TEST(Rules, PdtNotMonotonicAndDisagreeing) {
  std::string base =
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n"
      "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\n#EXTINF:2,\na.ts\n";
  Checker ok;
  load(ok, base + "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02Z\n#EXTINF:2,\nb.ts\n", 0);
  EXPECT_TRUE(ok.findings().empty()) << rules(ok.findings());

  Checker back;
  load(back, base + "#EXT-X-PROGRAM-DATE-TIME:2025-12-31T23:59:59Z\n#EXTINF:2,\nb.ts\n", 0);
  const Finding *f = find(back.findings(), "pdt-not-monotonic");
  ASSERT_TRUE(f) << rules(back.findings());
  EXPECT_EQ(f->line, 6);

  Checker off;
  load(off, base + "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:05Z\n#EXTINF:2,\nb.ts\n", 0);
  f = find(off.findings(), "pdt-disagrees-with-durations");
  ASSERT_TRUE(f) << rules(off.findings());
  EXPECT_EQ(f->severity, Severity::kWarning);
  EXPECT_EQ(f->line, 6);

  // A jump after a discontinuity is allowed.
  Checker disc;
  load(
      disc,
      base +
          "#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2025-01-01T00:00:00Z\n#EXTINF:2,\nb.ts\n",
      0);
  EXPECT_TRUE(disc.findings().empty()) << rules(disc.findings());
}

TEST(Rules, MediaSequenceRegressed) {
  Checker c;
  load(c, media(10, 3), 0);
  load(c, media(11, 3), 2000);
  EXPECT_TRUE(c.findings().empty()) << rules(c.findings());
  load(c, media(8, 3), 4000);
  const Finding *f = find(c.findings(), "media-sequence-regressed");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->line, 4);  // the EXT-X-MEDIA-SEQUENCE line
  EXPECT_EQ(f->severity, Severity::kError);
}

TEST(Rules, NewestSegmentWentBack) {
  Checker c;
  load(c, media(10, 4), 0);
  load(c, media(10, 2), 2000);  // same MSN, window shrank at the live end
  ASSERT_TRUE(find(c.findings(), "media-sequence-regressed")) << rules(c.findings());
}

TEST(Rules, SegmentRewritten) {
  Checker c;
  load(c, media(10, 3), 0);
  std::string changed = media(11, 3);
  changed.replace(changed.find("seg-12.ts"), 9, "other.ts");
  load(c, changed, 2000);
  const Finding *f = find(c.findings(), "segment-rewritten");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_NE(f->message.find("sequence 12"), std::string::npos) << f->message;
}

TEST(Rules, DiscontinuitySequenceInconsistent) {
  // 11 had a discontinuity; when 10 and 11 leave the window, DSN must grow by one.
  std::string a =
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:10\n"
      "#EXTINF:2,\ns10.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:2,\ns11.ts\n#EXTINF:2,\ns12.ts\n";
  std::string good =
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12\n"
      "#EXT-X-DISCONTINUITY-SEQUENCE:1\n#EXTINF:2,\ns12.ts\n#EXTINF:2,\ns13.ts\n";
  std::string bad =
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:12\n"
      "#EXTINF:2,\ns12.ts\n#EXTINF:2,\ns13.ts\n";
  Checker ok;
  load(ok, a, 0);
  load(ok, good, 2000);
  EXPECT_TRUE(ok.findings().empty()) << rules(ok.findings());
  Checker c;
  load(c, a, 0);
  load(c, bad, 2000);
  const Finding *f = find(c.findings(), "discontinuity-sequence-inconsistent");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->line, 4);  // s12's EXTINF
  // And a DSN going down.
  Checker d;
  load(d, media(10, 3, 2, 2, false, 5), 0);
  load(d, media(11, 3, 2, 2, false, 4), 2000);
  ASSERT_TRUE(find(d.findings(), "discontinuity-sequence-inconsistent")) << rules(d.findings());
}

TEST(Rules, StalePlaylist) {
  Checker c;
  std::string text = media(10, 3);  // target 2 s: stale after 3 s unchanged
  load(c, text, 0);
  load(c, text, 1000);
  load(c, text, 2000);
  EXPECT_FALSE(find(c.findings(), "stale-playlist"));
  EXPECT_FALSE(c.stale_now("hi", 2900));
  load(c, text, 3100);
  const Finding *f = find(c.findings(), "stale-playlist");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_TRUE(c.stale_now("hi", 3100));
  load(c, text, 5000);
  f = find(c.findings(), "stale-playlist");
  EXPECT_EQ(f->count, 2);
  EXPECT_NE(f->message.find("5.0 s"), std::string::npos) << f->message;
  EXPECT_DOUBLE_EQ(c.renditions().at("hi").max_stale_s, 5.0);
  // A changed playlist is fresh again; an ended one is never stale.
  load(c, media(11, 3), 6000);
  EXPECT_FALSE(c.stale_now("hi", 6000));
  Checker vod;
  std::string ended = media(0, 3) + "#EXT-X-ENDLIST\n";
  load(vod, ended, 0);
  load(vod, ended, 60000);
  EXPECT_FALSE(find(vod.findings(), "stale-playlist"));
}

TEST(Rules, PlaylistWindowSkipped) {
  Checker c;
  load(c, media(10, 3), 0);
  load(c, media(20, 3), 2000);
  const Finding *f = find(c.findings(), "playlist-window-skipped");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->severity, Severity::kWarning);
}

TEST(Rules, NewSegmentsReturnedOnce) {
  Checker c;
  EXPECT_EQ(load(c, media(10, 3), 0).size(), 3u);
  auto fresh = load(c, media(11, 3), 2000);
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_EQ(fresh[0].sequence, 13u);
  EXPECT_TRUE(load(c, media(11, 3), 3000).empty());
}

TEST(Rules, RenditionsNotAdvancingTogether) {
  Checker c;
  c.add_rendition(rendition("hi"));
  c.add_rendition(rendition("lo"));
  load(c, media(10, 3), 0, "hi");
  load(c, media(10, 3), 0, "lo");
  load(c, media(11, 3), 2000, "hi");  // one apart: normal between reloads
  EXPECT_FALSE(find(c.findings(), "renditions-not-advancing-together"));
  load(c, media(12, 3), 4000, "hi");  // two apart, but lo was read 4 s (2 targets) earlier
  EXPECT_FALSE(find(c.findings(), "renditions-not-advancing-together")) << rules(c.findings());
  load(c, media(10, 3), 3900, "lo");  // read just now: lo is stuck two behind
  load(c, media(12, 3), 4000, "hi");
  const Finding *f = find(c.findings(), "renditions-not-advancing-together");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->rendition, "lo");
}

TEST(Rules, AdvancingTogetherCountsSegmentsNotTargets) {
  // 1 s segments under a 2 s target (what iptvhlssink target-duration=1 writes): reloads every
  // 2 s see two new segments each, and two renditions read 1.5 s apart are 2 apart.
  Checker c;
  c.add_rendition(rendition("hi"));
  c.add_rendition(rendition("lo"));
  load(c, media(10, 4, 1.0, 2), 0, "lo");
  load(c, media(12, 4, 1.0, 2), 1500, "hi");
  EXPECT_FALSE(find(c.findings(), "renditions-not-advancing-together")) << rules(c.findings());
}

TEST(Rules, VariantAttributeMissing) {
  std::vector<Finding> fs;
  Playlist pl = parse(
      "#EXTM3U\n"
      "#EXT-X-STREAM-INF:RESOLUTION=640x360,CODECS=\"avc1.64001e\"\nlo.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=100\nnocodecs.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=100,CODECS=\"avc1.64001e\"\nnores.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=100,RESOLUTION=1x1,CODECS=\"avc1.64001e\",AUDIO=\"x\"\ng.m3u8\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=100,RESOLUTION=2x2,CODECS=\"avc1.64001e,mp4a.40.2\"\nok.m3u8\n",
      "http://h/m.m3u8", fs);
  Checker c;
  auto rs = c.on_multivariant(pl);
  ASSERT_EQ(rs.size(), 5u);
  std::vector<int> lines;
  for (const auto &f : c.findings()) {
    EXPECT_EQ(f.rule, "variant-attribute-missing");
    lines.push_back(f.line);
  }
  EXPECT_EQ(lines, (std::vector<int>{2, 4, 6, 8})) << rules(c.findings());
  EXPECT_EQ(c.findings()[0].severity, Severity::kError);    // BANDWIDTH
  EXPECT_EQ(c.findings()[1].severity, Severity::kWarning);  // CODECS
  EXPECT_EQ(rs[0].name, "360p");
  EXPECT_TRUE(rs[4].expects_audio);
  EXPECT_FALSE(rs[3].expects_audio);
}

TEST(Rules, AudioRenditionsAreFollowed) {
  std::vector<Finding> fs;
  Playlist pl = parse(
      "#EXTM3U\n"
      "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"en/index.m3u8\"\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=100,RESOLUTION=2x2,CODECS=\"avc1.64001e,mp4a.40.2\",AUDIO="
      "\"a\"\n"
      "v.m3u8\n",
      "http://h/m.m3u8", fs);
  Checker c;
  auto rs = c.on_multivariant(pl);
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_FALSE(rs[0].expects_audio);  // audio comes from the group
  EXPECT_TRUE(rs[1].audio_only);
  EXPECT_EQ(rs[1].name, "audio-en");
  EXPECT_TRUE(c.findings().empty()) << rules(c.findings());
}

// ---- Segment rules ----

TEST(Segments, CleanSequenceIsClean) {
  Checker c;
  c.add_rendition(rendition("hi"));
  c.add_rendition(rendition("lo"));
  for (uint64_t n = 0; n < 4; ++n) {
    c.on_segment("hi", seg(n), "http://h/hi/s.ts", "http://h/hi/index.m3u8",
                 good_probe(10 + 2.0 * n));
    c.on_segment("lo", seg(n), "http://h/lo/s.ts", "http://h/lo/index.m3u8",
                 good_probe(10 + 2.0 * n));
  }
  EXPECT_TRUE(c.findings().empty()) << rules(c.findings());
  EXPECT_EQ(c.renditions().at("hi").segments_fetched, 4);
  EXPECT_EQ(c.renditions().at("hi").measured_codecs, "avc1.64xx1f,mp4a.40.2");
}

TEST(Segments, SegmentMissing) {
  Checker c;
  c.add_rendition(rendition("hi"));
  SegmentProbe p;
  p.http_status = 404;
  c.on_segment("hi", seg(3), "http://h/hi/seg-3.ts", "http://h/hi/index.m3u8", p);
  const Finding *f = find(c.findings(), "segment-missing");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->line, 8);
  EXPECT_NE(f->message.find("HTTP 404"), std::string::npos);
  EXPECT_EQ(c.renditions().at("hi").segments_failed, 1);
  EXPECT_EQ(f->sequence, 3);
  // Another segment at the same playlist line (a later window) is its own finding.
  Segment later = seg(9);
  later.line = 8;
  c.on_segment("hi", later, "http://h/hi/seg-9.ts", "http://h/hi/index.m3u8", p);
  c.on_segment("hi", later, "http://h/hi/seg-9.ts", "http://h/hi/index.m3u8", p);
  ASSERT_EQ(c.findings().size(), 2u) << rules(c.findings());
  EXPECT_EQ(c.findings()[1].count, 2);
}

TEST(Segments, DurationMismatch) {
  Checker c;
  c.add_rendition(rendition("hi"));
  c.on_segment("hi", seg(0), "u0", "pl", good_probe(0, 2.2));  // within 0.3 s
  EXPECT_FALSE(find(c.findings(), "segment-duration-mismatch"));
  c.on_segment("hi", seg(1), "u1", "pl", good_probe(2.2, 4.0));
  ASSERT_TRUE(find(c.findings(), "segment-duration-mismatch")) << rules(c.findings());
}

TEST(Segments, NotKeyframeStart) {
  Checker c;
  c.add_rendition(rendition("hi"));
  SegmentProbe p = good_probe(0);
  p.first_video_keyframe = false;
  c.on_segment("hi", seg(0), "u0", "pl", p);
  ASSERT_TRUE(find(c.findings(), "segment-not-keyframe-start"));
}

TEST(Segments, AudioMissing) {
  Checker c;
  c.add_rendition(rendition("hi"));
  SegmentProbe p = good_probe(0);
  p.has_audio = false;
  c.on_segment("hi", seg(0), "u0", "pl", p);
  ASSERT_TRUE(find(c.findings(), "audio-missing"));
  // Not expected (audio in a group, or video-only CODECS): no finding.
  Checker d;
  d.add_rendition(rendition("hi", "avc1.64001f", false));
  d.on_segment("hi", seg(0), "u0", "pl", p);
  EXPECT_TRUE(d.findings().empty()) << rules(d.findings());
}

TEST(Segments, AudioSilent) {
  Checker c;
  c.add_rendition(rendition("hi"));
  SegmentProbe p = good_probe(0);
  p.audio_max_db = -1000;  // -inf
  c.on_segment("hi", seg(0), "u0", "pl", p);
  const Finding *f = find(c.findings(), "audio-silent");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->severity, Severity::kWarning);  // one segment can be content
  p.first_pts = 2;
  c.on_segment("hi", seg(1), "u1", "pl", p);
  f = find(c.findings(), "audio-silent");
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_NE(f->message.find("-inf"), std::string::npos);
  Checker quiet;
  quiet.add_rendition(rendition("hi"));
  SegmentProbe q = good_probe(0);
  q.audio_max_db = -40;  // quiet is not silent
  quiet.on_segment("hi", seg(0), "u0", "pl", q);
  EXPECT_TRUE(quiet.findings().empty());
}

TEST(Segments, TimestampJump) {
  Checker c;
  c.add_rendition(rendition("hi"));
  c.on_segment("hi", seg(0), "u0", "pl", good_probe(100));
  c.on_segment("hi", seg(1), "u1", "pl", good_probe(102.04));
  EXPECT_FALSE(find(c.findings(), "timestamp-jump"));
  c.on_segment("hi", seg(2), "u2", "pl", good_probe(110));
  const Finding *f = find(c.findings(), "timestamp-jump");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->line, 7);
  // After EXT-X-DISCONTINUITY a jump is announced.
  Checker d;
  d.add_rendition(rendition("hi"));
  d.on_segment("hi", seg(0), "u0", "pl", good_probe(100));
  d.on_segment("hi", seg(1, 2.0, true), "u1", "pl", good_probe(5000));
  EXPECT_TRUE(d.findings().empty()) << rules(d.findings());
}

TEST(Segments, CodecsMismatch) {
  Checker c;
  c.add_rendition(rendition("hi", "avc1.42e01e,mp4a.40.2"));
  c.on_segment("hi", seg(0), "u0", "pl", good_probe(0));
  c.on_segment("hi", seg(1), "u1", "pl", good_probe(2));
  const Finding *f = find(c.findings(), "codecs-mismatch");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->count, 1);  // once per rendition
  EXPECT_EQ(f->line, 3);   // the variant's line
  EXPECT_NE(f->message.find("profile_idc 100, level_idc 31"), std::string::npos) << f->message;

  Checker noaudio;  // audio in the segments, not in CODECS
  noaudio.add_rendition(rendition("hi", "avc1.64001f", false));
  noaudio.on_segment("hi", seg(0), "u0", "pl", good_probe(0));
  ASSERT_TRUE(find(noaudio.findings(), "codecs-mismatch")) << rules(noaudio.findings());

  Checker he;  // HE-AAC declared, LC found
  he.add_rendition(rendition("hi", "avc1.64001f,mp4a.40.5"));
  he.on_segment("hi", seg(0), "u0", "pl", good_probe(0));
  ASSERT_TRUE(find(he.findings(), "codecs-mismatch")) << rules(he.findings());

  Checker hevc;
  hevc.add_rendition(rendition("hi", "hvc1.1.6.L93.B0,mp4a.40.2"));
  hevc.on_segment("hi", seg(0), "u0", "pl", good_probe(0));
  ASSERT_TRUE(find(hevc.findings(), "codecs-mismatch")) << rules(hevc.findings());
}

TEST(Segments, RenditionsMisaligned) {
  Checker c;
  c.add_rendition(rendition("hi"));
  c.add_rendition(rendition("lo"));
  c.on_segment("hi", seg(5), "hi5", "pl", good_probe(10.0));
  c.on_segment("lo", seg(5), "lo5", "pl", good_probe(10.04));  // within 0.1 s
  EXPECT_FALSE(find(c.findings(), "renditions-misaligned"));
  c.on_segment("hi", seg(6), "hi6", "pl", good_probe(12.0));
  c.on_segment("lo", seg(6), "lo6", "pl", good_probe(13.0));
  const Finding *f = find(c.findings(), "renditions-misaligned");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->url, "lo6");
}

TEST(Segments, Unreadable) {
  Checker c;
  c.add_rendition(rendition("hi"));
  SegmentProbe p;
  p.fetched = true;
  p.error = "ffprobe failed: Invalid data";
  c.on_segment("hi", seg(0), "u0", "pl", p);
  ASSERT_TRUE(find(c.findings(), "segment-unreadable"));
}

// ---- Findings, compare, report ----

TEST(Report, MergesRepeatsAndSortsBySeverity) {
  Checker c;
  c.add(Severity::kInfo, "tag-unknown", "u", 3, "", "x");
  c.add(Severity::kWarning, "r", "u", 1, "", "first");
  c.add(Severity::kError, "r", "u", 1, "", "second");
  c.finish();
  ASSERT_EQ(c.findings().size(), 2u);
  EXPECT_EQ(c.findings()[0].rule, "r");
  EXPECT_EQ(c.findings()[0].count, 2);
  EXPECT_EQ(c.findings()[0].severity, Severity::kError);
  EXPECT_EQ(c.errors(), 1);
}

TEST(Report, TextAndJson) {
  Checker c;
  c.add_rendition(rendition("hi"));
  load(c, media(10, 3, 2.6, 2), 0);
  c.finish();
  Report r;
  r.a = make_stream_report("http://h/m.m3u8", c);
  EXPECT_EQ(r.exit_code(), 1);
  std::string text = to_text(r);
  EXPECT_NE(text.find("targetduration-exceeded [hi]"), std::string::npos) << text;
  EXPECT_NE(text.find(kUrl + ":6"), std::string::npos) << text;
  std::string json = to_json(r);
  EXPECT_NE(json.find("\"rule\": \"targetduration-exceeded\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"exit_code\": 1"), std::string::npos) << json;
  Report none;
  none.probed = false;
  none.fatal = "GET x: HTTP 404";
  EXPECT_EQ(none.exit_code(), 2);
  Report clean;
  EXPECT_EQ(clean.exit_code(), 0);
}

TEST(Compare, LaggingAndStaleCopy) {
  Checker a, b;
  a.add_rendition(rendition("hi"));
  b.add_rendition(rendition("hi"));
  // A lists one new segment every 2 s; B gets each one 3 segments (6 s) later.
  for (int i = 0; i < 8; ++i) {
    load(a, media(10 + i, 3), i * 2000);
    if (i >= 3) load(b, media(10 + i - 3, 3), i * 2000);
  }
  auto res = compare(a, "A", b, "B");
  ASSERT_EQ(res.renditions.size(), 1u);
  EXPECT_EQ(res.renditions[0].lag_segments, 3);
  EXPECT_NEAR(res.renditions[0].lag_s, 6.0, 0.01);
  const Finding *f = find(res.findings, "compare-lagging");
  ASSERT_TRUE(f) << rules(res.findings);
  EXPECT_EQ(f->severity, Severity::kError);
  EXPECT_EQ(f->message.substr(0, 6), "B lags");

  Checker s;  // B frozen: stale copy
  s.add_rendition(rendition("hi"));
  for (int i = 0; i < 8; ++i) load(s, media(10, 3), i * 2000);
  auto res2 = compare(a, "A", s, "B");
  EXPECT_TRUE(res2.renditions[0].b_stale);
  ASSERT_TRUE(find(res2.findings, "compare-stale-copy")) << rules(res2.findings);

  Checker same;  // in step: clean
  same.add_rendition(rendition("hi"));
  for (int i = 0; i < 8; ++i) load(same, media(10 + i, 3), i * 2000 + 300);
  auto res3 = compare(a, "A", same, "B");
  EXPECT_TRUE(res3.findings.empty()) << rules(res3.findings);
}

TEST(Report, InvalidUtf8IsReplacedNotThrown) {
  // Found by the fuzzer (tests/data/hlsparse/regression-invalid-utf8): nlohmann::json threw on
  // a URI with invalid UTF-8 in it.
  Checker c;
  std::vector<Finding> fs;
  Playlist pl = parse("#EXTM3U\n#EXT-X-TARGETDURATION:2\n\xff\xfe.ts\n", kUrl, fs);
  for (auto &f : fs) c.add(f);
  c.finish();
  Report r;
  r.a = make_stream_report(kUrl, c);
  std::string json;
  EXPECT_NO_THROW(json = to_json(r));
  EXPECT_NE(json.find("segment-extinf-missing"), std::string::npos);
}

TEST(Parser, MapAppliesToFollowingSegments) {
  Playlist pl;
  auto fs = parse_findings(
      "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\na.ts\n#EXT-X-MAP:URI=\"init.mp4\"\n"
      "#EXTINF:2,\nb.m4s\n#EXT-X-MAP:BYTERANGE=\"1@0\"\n",
      &pl);
  ASSERT_EQ(pl.segments.size(), 2u);
  EXPECT_EQ(pl.segments[0].map_uri, "");
  EXPECT_EQ(pl.segments[1].map_uri, "init.mp4");
  const Finding *f = find(fs, "attribute-malformed");  // EXT-X-MAP without URI
  ASSERT_TRUE(f) << rules(fs);
  EXPECT_EQ(f->line, 8);
}

// ---- ts-continuity-error (issue 21 item 4) ----

// A TS segment as a per-segment muxer writes it: PAT (0), PMT (32), then `n` video packets (65),
// each PID's counter starting at `start`.
std::string ts_segment(int n, int start = 0) {
  std::string s;
  auto add = [&](unsigned pid, int cc) {
    std::string p(188, '\xff');
    p[0] = 0x47;
    p[1] = (char)((pid >> 8) & 0x1f);
    p[2] = (char)(pid & 0xff);
    p[3] = (char)(0x10 | (cc & 0x0f));
    s += p;
  };
  add(0, start);
  add(32, start);
  for (int i = 0; i < n; ++i) add(65, start + i);
  return s;
}

TEST(TsCounters, ScanFindsFirstAndLastPerPid) {
  auto t = iptv::hlsparse::scan_ts_counters(ts_segment(20, 3));
  ASSERT_TRUE(t.valid);
  EXPECT_EQ(t.errors_inside, 0);
  EXPECT_EQ(t.pids.at(0).first_cc, 3);
  EXPECT_EQ(t.pids.at(65).first_cc, 3);
  EXPECT_EQ(t.pids.at(65).last_cc, (3 + 19) & 15);
  EXPECT_FALSE(iptv::hlsparse::scan_ts_counters("not a transport stream").valid);
  EXPECT_FALSE(iptv::hlsparse::scan_ts_counters(ts_segment(2) + "x").valid);
  // A packet lost inside the segment.
  std::string s = ts_segment(6);
  s.erase(4 * 188, 188);
  auto lost = iptv::hlsparse::scan_ts_counters(s);
  EXPECT_EQ(lost.errors_inside, 1);
  EXPECT_EQ(lost.first_inside, "PID 65: expected 2, got 3");
}

TEST(Segments, TsCountersRestartingAtEverySegmentIsAWarning) {
  Checker c;
  c.add_rendition(rendition("hi"));
  for (uint64_t n = 0; n < 3; ++n) {
    SegmentProbe p = good_probe(10 + 2.0 * n);
    p.ts = iptv::hlsparse::scan_ts_counters(ts_segment(7));  // every segment restarts at 0
    c.on_segment("hi", seg(n), "http://h/hi/s.ts", "http://h/hi/index.m3u8", p);
  }
  const Finding *f = find(c.findings(), "ts-continuity-error");
  ASSERT_TRUE(f) << rules(c.findings());
  EXPECT_EQ(f->severity, iptv::hlsparse::Severity::kWarning);
  EXPECT_EQ(f->sequence, 1);
  EXPECT_NE(f->message.find("from sequence 0 (PID 0: expected 1, got 0, PID 32: expected 1, got "
                            "0, PID 65: expected 7, got 0)"),
            std::string::npos)
      << f->message;
  EXPECT_EQ(c.findings().size(), 2u) << rules(c.findings());  // sequences 1 and 2
}

TEST(Segments, TsCountersContinuingOrAfterADiscontinuityAreClean) {
  Checker c;
  c.add_rendition(rendition("hi"));
  int cc = 0;
  for (uint64_t n = 0; n < 3; ++n) {
    SegmentProbe p = good_probe(10 + 2.0 * n);
    // PAT and PMT step by one per segment, the video PID by 7.
    std::string s = ts_segment(7, 0);
    for (size_t off = 0; off < s.size(); off += 188) {
      int base = off < 2 * 188 ? (int)n : cc;
      int i = off < 2 * 188 ? 0 : (int)(off / 188) - 2;
      s[off + 3] = (char)(0x10 | ((base + i) & 0x0f));
    }
    cc += 7;
    p.ts = iptv::hlsparse::scan_ts_counters(s);
    c.on_segment("hi", seg(n), "http://h/hi/s.ts", "http://h/hi/index.m3u8", p);
  }
  EXPECT_TRUE(c.findings().empty()) << rules(c.findings());
  // A restart behind an EXT-X-DISCONTINUITY is allowed; a skipped sequence is not compared.
  SegmentProbe p = good_probe(100);
  p.ts = iptv::hlsparse::scan_ts_counters(ts_segment(7));
  c.on_segment("hi", seg(3, 2.0, true), "http://h/hi/s.ts", "http://h/hi/index.m3u8", p);
  SegmentProbe q = good_probe(104);
  q.ts = iptv::hlsparse::scan_ts_counters(ts_segment(7));
  c.on_segment("hi", seg(5), "http://h/hi/s.ts", "http://h/hi/index.m3u8", q);
  EXPECT_EQ(find(c.findings(), "ts-continuity-error"), nullptr) << rules(c.findings());
}
