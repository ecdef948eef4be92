// orchestrator/lib/archive/catchup_service: time-addressed requests against a real index:
// ranges, refusals with reasons (malformed, inverted, future, beyond rights, not kept, no
// catch-up), the ranged multivariant playlist, archived segment lookup.
#include <gtest/gtest.h>

#include <fstream>

#include "archive/catchup_service.h"
#include "test_support.h"

using namespace iptv::archive;

namespace {

constexpr int64_t kNow = 1796668159000;      // 2026-12-07T18:29:19Z
constexpr int64_t kT0 = kNow - 3600 * 1000;  // an hour of 2 s segments before now

struct Fixture {
  iptv_test::TempDir dir;
  std::unique_ptr<iptv::db::Db> db = iptv::db::Db::open(dir.path() + "/state.db");
  ArchiveIndex idx{*db};
  CatchupRules rules;
  CatchupService svc{idx,
                     [this](const std::string &ch) -> std::optional<CatchupRules> {
                       if (ch != "news") return std::nullopt;
                       return rules;
                     },
                     [] { return kNow; }};
  Fixture() {
    rules.catchup_days = 1;
    rules.rights_days = 7;
    rules.target_seconds = 2;
    rules.hot_dir = dir.path();
    std::vector<Entry> batch;
    for (int i = 0; i < 1800; ++i) {
      for (const char *r : {"360p", "180p"}) {
        Entry e;
        e.channel = "news";
        e.rendition = r;
        e.start_ms = kT0 + i * 2000LL;
        e.duration_ms = 2000;
        e.path = dir.path() + "/warm/" + r + "/" + std::to_string(e.start_ms) + ".ts";
        e.bytes = 100;
        batch.push_back(e);
      }
    }
    idx.add(batch);
  }
};

std::string secs(int64_t ms) {
  return std::to_string(ms / 1000);
}

}  // namespace

TEST(CatchupService, WantsOnlyTimeAddressedRequests) {
  EXPECT_TRUE(CatchupService::wants("/360p/index.m3u8", "start=1"));
  EXPECT_TRUE(CatchupService::wants("/index.m3u8", "x=1&start=1"));
  EXPECT_TRUE(CatchupService::wants("/360p/archive/1796668006000.ts", ""));
  EXPECT_FALSE(CatchupService::wants("/360p/index.m3u8", ""));
  EXPECT_FALSE(CatchupService::wants("/360p/seg-5.ts", "start=1"));
  EXPECT_FALSE(CatchupService::wants("/360p/index.m3u8", "restart=1"));
}

TEST(CatchupService, VodRangeAndArchivedSegments) {
  Fixture f;
  int64_t a = kT0 + 600000 + 500, b = a + 120000;  // two minutes, ten minutes in
  CatchupAnswer ans =
      f.svc.answer("news", "/360p/index.m3u8", "start=" + secs(a) + "&end=" + secs(b));
  ASSERT_EQ(ans.status, 200) << ans.body;
  EXPECT_EQ(ans.content_type, "application/vnd.apple.mpegurl");
  EXPECT_NE(ans.body.find("#EXT-X-ENDLIST"), std::string::npos);
  // 600 s .. 720 s: 60 or 61 segments of 2 s, starting on the one holding `start`.
  std::string first = "archive/" + std::to_string(kT0 + 600000) + ".ts";
  EXPECT_NE(ans.body.find(first), std::string::npos) << ans.body.substr(0, 400);
  EXPECT_EQ(ans.max_age, 60);
  // The same range in ISO 8601.
  CatchupAnswer iso = f.svc.answer("news", "/360p/index.m3u8",
                                   "start=2026-12-07T17%3A39%3A19Z&end=2026-12-07T17:41:19Z");
  EXPECT_EQ(iso.status, 200) << iso.body;
  EXPECT_EQ(iso.body, ans.body);
  // The segment URI resolves to the archived file.
  CatchupAnswer seg = f.svc.answer("news", "/360p/" + first, "");
  ASSERT_EQ(seg.status, 200);
  EXPECT_EQ(seg.file, f.dir.path() + "/warm/360p/" + std::to_string(kT0 + 600000) + ".ts");
  EXPECT_EQ(seg.content_type, "video/mp2t");
  EXPECT_EQ(f.svc.answer("news", "/360p/archive/1.ts", "").reason, "not_retained");
  EXPECT_EQ(f.svc.answer("news", "/360p/archive/x.ts", "").status, 404);
  EXPECT_EQ(f.svc.answer("news", "/360p/archive/1/2.ts", "").status, 404);
}

TEST(CatchupService, OpenRangesAndRangesNotYetRecorded) {
  Fixture f;
  CatchupAnswer open = f.svc.answer("news", "/180p/index.m3u8", "start=" + secs(kNow - 60000));
  ASSERT_EQ(open.status, 200) << open.body;
  EXPECT_NE(open.body.find("#EXT-X-PLAYLIST-TYPE:EVENT"), std::string::npos);
  EXPECT_EQ(open.body.find("#EXT-X-ENDLIST"), std::string::npos);
  // A range that ends after the newest segment: open until it is recorded.
  CatchupAnswer pending = f.svc.answer(
      "news", "/180p/index.m3u8", "start=" + secs(kNow - 10000) + "&end=" + secs(kNow + 20000));
  ASSERT_EQ(pending.status, 200) << pending.body;
  EXPECT_EQ(pending.body.find("#EXT-X-ENDLIST"), std::string::npos);
  EXPECT_EQ(pending.max_age, 1);
}

TEST(CatchupService, RefusalsCarryTheirReason) {
  Fixture f;
  auto ask = [&](const std::string &ch, const std::string &q) {
    return f.svc.answer(ch, "/360p/index.m3u8", q);
  };
  EXPECT_EQ(ask("news", "start=yesterday").reason, "malformed");
  EXPECT_EQ(ask("news", "start=2026-12-07T17:00:00").status, 400);  // no zone
  EXPECT_EQ(ask("news", "end=" + secs(kNow)).reason, "malformed");
  EXPECT_EQ(ask("news", "start=%zz").reason, "malformed");
  EXPECT_EQ(ask("news", "start=" + secs(kNow - 60000) + "&end=" + secs(kNow - 120000)).reason,
            "inverted");
  EXPECT_EQ(ask("news", "start=" + secs(kNow + 86400000)).reason, "future");
  // 8 days back: beyond the rights (7 days) is 403; 2 days back: within the rights but not kept
  // (catchup.days 1) is 404.
  EXPECT_EQ(ask("news", "start=" + secs(kNow - 8 * 86400000LL)).status, 403);
  EXPECT_EQ(ask("news", "start=" + secs(kNow - 8 * 86400000LL)).reason, "beyond_rights");
  auto old = ask("news", "start=" + secs(kNow - 2 * 86400000LL) +
                             "&end=" + secs(kNow - 2 * 86400000LL + 60000));
  EXPECT_EQ(old.status, 404);
  EXPECT_EQ(old.reason, "not_retained");
  EXPECT_EQ(ask("sports", "start=" + secs(kNow - 60000)).reason, "no_catchup");
  f.rules.catchup_days = 0;
  EXPECT_EQ(ask("news", "start=" + secs(kNow - 60000)).reason, "no_catchup");
}

TEST(CatchupService, MultivariantCarriesTheRange) {
  Fixture f;
  iptv_test::sh(
      "printf '#EXTM3U\\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/"
      "index.m3u8\"\\n#EXT-X-STREAM-INF:BANDWIDTH=700000,AUDIO=\"a\"\\n360p/index.m3u8\\n"
      "#EXT-X-STREAM-INF:BANDWIDTH=300000\\n180p/index.m3u8\\n' > " +
      f.dir.path() + "/index.m3u8");
  CatchupAnswer m =
      f.svc.answer("news", "/index.m3u8", "start=2026-12-07T17:39:19Z&end=" + secs(kNow - 2940000));
  ASSERT_EQ(m.status, 200) << m.body;
  // The range in canonical unix seconds, whatever form was asked.
  std::string range = "start=1796665159&end=1796665219";
  EXPECT_NE(m.body.find("\n360p/index.m3u8?" + range + "\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("\n180p/index.m3u8?" + range + "\n"), std::string::npos) << m.body;
  EXPECT_NE(m.body.find("URI=\"audio/index.m3u8?" + range + "\""), std::string::npos) << m.body;
}

// The catch-up MPD's SegmentTimeline is continuous: an audio rendition's archived rows carry the
// segment's PROGRAM-DATE-TIME (the video's) and the audio's own duration (whole AAC frames,
// longer or shorter than the spacing); each S lasts until the next row starts, or dash.js looks
// for its next segment in the hole after a short one for good (a stall). The dynamic MPD lists
// the newest row once its successor is archived, so an S never changes between reloads.
TEST(CatchupService, MpdTimelineIsContinuous) {
  Fixture f;
  std::vector<Entry> batch;
  for (int i = 0; i < 1800; ++i) {
    Entry e;
    e.channel = "news";
    e.rendition = "audio";
    e.start_ms = kT0 + i * 2000LL;
    e.duration_ms = i % 3 == 2 ? 1984 : 2005;  // 93 or 94 frames of 1024 samples at 48 kHz
    e.path = f.dir.path() + "/warm/audio/" + std::to_string(e.start_ms) + ".m4s";
    e.init_path = f.dir.path() + "/warm/audio/init.mp4";
    e.bytes = 100;
    batch.push_back(e);
  }
  f.idx.add(batch);
  std::string live =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\" type=\"dynamic\">\n"
      "  <Period id=\"1\" start=\"PT0S\">\n"
      "    <AdaptationSet contentType=\"video\" mimeType=\"video/mp4\">\n"
      "      <Representation id=\"360p\" codecs=\"avc1.42c01e\" bandwidth=\"800000\">\n"
      "        <SegmentTemplate timescale=\"90000\" media=\"360p/seg-$Number$.m4s\">\n"
      "          <SegmentTimeline>\n"
      "            <S t=\"0\" d=\"180000\"/>\n"
      "          </SegmentTimeline>\n"
      "        </SegmentTemplate>\n"
      "      </Representation>\n"
      "    </AdaptationSet>\n"
      "    <AdaptationSet contentType=\"audio\" mimeType=\"audio/mp4\">\n"
      "      <Representation id=\"audio\" codecs=\"mp4a.40.2\" bandwidth=\"128000\">\n"
      "        <SegmentTemplate timescale=\"48000\" media=\"audio/seg-$Number$.m4s\">\n"
      "          <SegmentTimeline>\n"
      "            <S t=\"0\" d=\"96256\"/>\n"
      "          </SegmentTimeline>\n"
      "        </SegmentTemplate>\n"
      "      </Representation>\n"
      "    </AdaptationSet>\n"
      "  </Period>\n"
      "  <UTCTiming schemeIdUri=\"urn:mpeg:dash:utc:http-iso:2014\" value=\"time\"/>\n"
      "</MPD>\n";
  std::ofstream(f.dir.path() + "/manifest.mpd", std::ios::binary) << live;
  int64_t from = kT0 + 3600 * 1000 - 120000;  // the last two minutes
  struct S {
    int64_t t, d;
  };
  auto timelines = [](const std::string &mpd) {
    std::vector<std::vector<S>> out;
    size_t at = 0;
    while ((at = mpd.find("<SegmentTimeline>", at)) != std::string::npos) {
      size_t end = mpd.find("</SegmentTimeline>", at);
      out.emplace_back();
      for (size_t s = mpd.find("<S t=\"", at); s < end; s = mpd.find("<S t=\"", s + 1)) {
        int64_t t = std::stoll(mpd.substr(s + 6));
        int64_t d = std::stoll(mpd.substr(mpd.find(" d=\"", s) + 4));
        out.back().push_back({t, d});
      }
      at = end;
    }
    return out;
  };
  for (bool dynamic : {true, false}) {
    std::string q = "start=" + secs(from);
    if (!dynamic) q += "&end=" + secs(from + 60000);
    CatchupAnswer ans = f.svc.answer("news", "/manifest.mpd", q);
    ASSERT_EQ(ans.status, 200) << ans.body;
    auto tls = timelines(ans.body);
    ASSERT_EQ(tls.size(), 2u) << ans.body;  // 360p and audio
    for (const auto &tl : tls) {
      ASSERT_FALSE(tl.empty()) << ans.body;
      EXPECT_EQ(tl.front().t, from);
      for (size_t i = 0; i + 1 < tl.size(); ++i)
        EXPECT_EQ(tl[i].t + tl[i].d, tl[i + 1].t) << "S " << i << " of\n" << ans.body;
      // The newest archived row (kNow - 2 s) is left out of the dynamic MPD until it has a
      // successor; the static range's last row keeps its own duration.
      int64_t last = dynamic ? kNow - 4000 : from + 58000;
      EXPECT_EQ(tl.back().t, last) << ans.body;
    }
    if (dynamic) {
      EXPECT_NE(ans.body.find("type=\"dynamic\""), std::string::npos);
      EXPECT_EQ(tls[1].back().d, 2000) << "its successor is archived: up to its start";
    } else {
      EXPECT_EQ(tls[1].back().d, 1984) << ans.body;  // row 1769 holds 93 frames
    }
  }
}
