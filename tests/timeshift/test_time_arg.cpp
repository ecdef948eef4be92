// core/timeshift: time arguments of time-addressed URLs, range rules, catch-up playlist cuts.
#include <gtest/gtest.h>

#include "hls/playlist.h"
#include "timeshift/catchup.h"
#include "timeshift/time_arg.h"

using namespace iptv::timeshift;

TEST(TimeArg, UnixSecondsAndFractions) {
  EXPECT_EQ(parse_time_arg("1796668159").unix_ms, 1796668159000);
  EXPECT_EQ(parse_time_arg("1796668159.5").unix_ms, 1796668159500);
  EXPECT_EQ(parse_time_arg("1796668159.123456").unix_ms, 1796668159123);
  EXPECT_EQ(parse_time_arg("0").unix_ms, 0);
}

TEST(TimeArg, Iso8601WithZones) {
  EXPECT_EQ(parse_time_arg("2026-12-07T18:29:19Z").unix_ms, 1796668159000);
  EXPECT_EQ(parse_time_arg("2026-12-07T18:29:19.250Z").unix_ms, 1796668159250);
  EXPECT_EQ(parse_time_arg("2026-12-07T19:29:19+01:00").unix_ms, 1796668159000);
  EXPECT_EQ(parse_time_arg("2026-12-07T13:29:19-0500").unix_ms, 1796668159000);
  EXPECT_EQ(parse_time_arg("2026-12-07 18:29:19Z").unix_ms, 1796668159000);
  EXPECT_EQ(parse_time_arg("2024-02-29T00:00:00Z").unix_ms, 1709164800000);  // leap day
  EXPECT_EQ(parse_time_arg("1970-01-01T00:00:00Z").unix_ms, 0);
}

TEST(TimeArg, RefusesWhatIsNotATime) {
  for (const char *bad :
       {"", "abc", "-5", "1e9", "1796668159.", "2026-12-07", "2026-12-07T18:29:19",
        "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-12-32T00:00:00Z",
        "2026-12-07T24:00:00Z", "2026-12-07T18:60:00Z", "2026-12-07T18:29:19+25:00",
        "2026-12-07T18:29:19Zjunk", "2026-12-07T18:29:19.Z", "20261207T182919Z", "99999999999999",
        "1796668159.1234567890", "0000-01-01T00:00:00Z"}) {
    TimeArg t = parse_time_arg(bad);
    EXPECT_FALSE(t.ok()) << "'" << bad << "' parsed as " << t.unix_ms;
  }
  EXPECT_NE(parse_time_arg("2026-12-07T18:29:19").error.find("zone"), std::string::npos);
}

TEST(TimeArg, RangeRules) {
  const int64_t now = 1796668159000, day = 86400000;
  // Inside rights and retention.
  EXPECT_EQ(check_range(now - 3600000, now - 3000000, now, now - 7 * day, now - day).status, 200);
  EXPECT_EQ(check_range(now - 3600000, 0, now, now - 7 * day, now - day).status, 200);
  // Inverted and empty ranges, far-future times.
  EXPECT_EQ(check_range(now - 10, now - 20, now, 0, 1).reason, "inverted");
  EXPECT_EQ(check_range(now - 10, now - 10, now, 0, 1).status, 400);
  EXPECT_EQ(check_range(now + 3600000, 0, now, 0, 1).reason, "future");
  EXPECT_EQ(check_range(now - 10, now + 3600000, now, 0, 1).reason, "future");
  // Before what the rights allow: 403; before what is kept: 404.
  EXPECT_EQ(check_range(now - 8 * day, now - 8 * day + 60000, now, now - 7 * day, 1).status, 403);
  EXPECT_EQ(check_range(now - 3 * day, now - 3 * day + 60000, now, now - 7 * day, now - day).reason,
            "not_retained");
  EXPECT_EQ(check_range(now - 60000, 0, now, now - day, 0).status, 404);  // nothing kept yet
}

namespace {

std::vector<ArchivedSegment> two_second_run(int64_t t0, int n, int64_t dseq = 0) {
  std::vector<ArchivedSegment> v;
  for (int i = 0; i < n; ++i) {
    ArchivedSegment s;
    s.start_ms = t0 + i * 2000;
    s.duration_ms = 2000;
    s.discontinuity_sequence = dseq;
    v.push_back(s);
  }
  return v;
}

CatchupRequest req(int64_t a, int64_t b) {
  CatchupRequest r;
  r.start_ms = a;
  r.end_ms = b;
  r.uri_for = [](const ArchivedSegment &s) {
    return "archive/" + std::to_string(s.start_ms) + ".ts";
  };
  return r;
}

}  // namespace

TEST(Catchup, VodCutsOnSegmentsHoldingStartAndEnd) {
  const int64_t t0 = 1796668000000;
  auto segs = two_second_run(t0, 100);
  // 10.5 s .. 20.5 s: the segments starting at 10, 12, ..., 20 (the one holding 20.5).
  CatchupPlaylist p = render_catchup(segs, req(t0 + 10500, t0 + 20500));
  EXPECT_EQ(p.segments, 6u);
  EXPECT_EQ(p.first_start_ms, t0 + 10000);
  EXPECT_EQ(p.last_end_ms, t0 + 22000);
  EXPECT_NE(p.text.find("#EXT-X-PLAYLIST-TYPE:VOD"), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("#EXT-X-ENDLIST"), std::string::npos);
  EXPECT_NE(p.text.find("archive/" + std::to_string(t0 + 10000) + ".ts"), std::string::npos);
  EXPECT_EQ(p.text.find("archive/" + std::to_string(t0 + 22000) + ".ts"), std::string::npos);
  // Every segment carries PDT, and the playlist parses back to the same segments.
  size_t pdts = 0;
  for (size_t at = 0; (at = p.text.find("#EXT-X-PROGRAM-DATE-TIME:", at)) != std::string::npos;
       ++at)
    ++pdts;
  EXPECT_EQ(pdts, 6u);
  iptv::hls::MediaPlaylist back(iptv::hls::PlaylistType::kVod, 2, 0, 0);
  ASSERT_TRUE(back.restore(p.text));
  EXPECT_EQ(back.segments().size(), 6u);
  EXPECT_EQ(back.segments().front().pdt_ms, t0 + 10000);
  // An end exactly on a boundary does not take the next segment.
  EXPECT_EQ(render_catchup(segs, req(t0 + 10000, t0 + 20000)).segments, 5u);
}

TEST(Catchup, OpenRangeIsAnEventPlaylist) {
  const int64_t t0 = 1796668000000;
  auto segs = two_second_run(t0, 10);
  CatchupPlaylist p = render_catchup(segs, req(t0 + 5000, 0));
  EXPECT_EQ(p.segments, 8u);
  EXPECT_NE(p.text.find("#EXT-X-PLAYLIST-TYPE:EVENT"), std::string::npos) << p.text;
  EXPECT_EQ(p.text.find("#EXT-X-ENDLIST"), std::string::npos);
}

TEST(Catchup, GapsAndRestartsAreDiscontinuities) {
  const int64_t t0 = 1796668000000;
  auto segs = two_second_run(t0, 5);
  auto later = two_second_run(t0 + 30000, 5);  // 20 s hole (an outage)
  segs.insert(segs.end(), later.begin(), later.end());
  auto restart = two_second_run(t0 + 40000, 5, 1);  // a new discontinuity sequence, no hole
  segs.insert(segs.end(), restart.begin(), restart.end());
  CatchupPlaylist p = render_catchup(segs, req(t0, t0 + 60000));
  EXPECT_EQ(p.segments, 15u);
  size_t n = 0;
  for (size_t at = 0; (at = p.text.find("#EXT-X-DISCONTINUITY\n", at)) != std::string::npos; ++at)
    ++n;
  EXPECT_EQ(n, 2u) << p.text;
  // A range inside the hole has nothing to play.
  EXPECT_EQ(render_catchup(segs, req(t0 + 12000, t0 + 28000)).segments, 0u);
  EXPECT_EQ(render_catchup(segs, req(t0 + 12000, t0 + 28000)).text, "");
}

TEST(Catchup, Fmp4SegmentsCarryTheirInitSegment) {
  auto segs = two_second_run(1796668000000, 3);
  for (auto &s : segs) s.map_uri = "archive/init.mp4";
  CatchupPlaylist p = render_catchup(segs, req(1796668000000, 1796668006000));
  EXPECT_NE(p.text.find("#EXT-X-MAP:URI=\"archive/init.mp4\""), std::string::npos) << p.text;
  EXPECT_NE(p.text.find("#EXT-X-VERSION:7"), std::string::npos);
}
