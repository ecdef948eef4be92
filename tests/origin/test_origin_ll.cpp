// Low-latency HLS at the origin (RFC 8216bis), in process and GStreamer-free (unit suite, so also
// under ASan/UBSan), against hand-written low-latency playlists and part files published the way
// the packager's contract says (docs/low-latency-origin.md): every part file renamed into place
// before the playlist listing it, the playlist republished (atomic rename) at every part.
//   - ll_playlist.h: the parse, the blocking verdict (parts, Advance Part Limit) and the Playlist
//     Delta Update, on fixed texts;
//   - a blocking reload with _HLS_msn and _HLS_part parked and answered when that part is
//     published, 400 when too far ahead or malformed, 503 after 3 target durations;
//   - the latency of that answer after the publish (median and max printed; the done-when bound
//     is 50 ms);
//   - the preload-hinted part held until it exists, then served (immutable), a part nobody hinted
//     404 and never cached;
//   - delta updates (_HLS_skip=YES and v2) agree with the full playlist, also as blocking answers;
//   - all of it with an EdgeAuth token in the path, and the parked count per channel.
#include <glib.h>
#include <gtest/gtest.h>
#include <stdio.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "origin/ll_playlist.h"
#include "origin/origin.h"
#include "ll_fixture.h"
#include "raw_http.h"
#include "test_support.h"
#include "token/token.h"
#include "util/atomic_file.h"

namespace fs = std::filesystem;
using namespace origin_test;
using namespace ll_test;

namespace {

// ---- ll_playlist.h on fixed texts --------------------------------------------------------------

TEST(LlPlaylist, ParsesPartsHintsAndServerControl) {
  LlOptions o;
  o.skip_dateranges = true;
  o.dateranges = {{3, "ad-1"}};
  iptv::MediaPlaylistInfo i = iptv::scan_media_playlist(ll_playlist(5, 6, 2, o));
  EXPECT_EQ(i.media_sequence, 5);
  EXPECT_EQ(i.last_msn, 10);
  EXPECT_EQ(i.target_duration, 2);
  EXPECT_DOUBLE_EQ(i.part_target, 0.5);
  EXPECT_EQ(i.parts_pending, 2);
  EXPECT_DOUBLE_EQ(i.can_skip_until, 12);
  EXPECT_TRUE(i.can_skip_dateranges);
  EXPECT_TRUE(i.can_block_reload);
  EXPECT_EQ(i.preload_part, "seg-00011.2.m4s");
  EXPECT_EQ(i.part_uris.size(), 3u * 4 + 2);
  EXPECT_EQ(i.part_uris.back(), "seg-00011.1.m4s");
  EXPECT_EQ(iptv::hls_attribute("#EXT-X-PART:DURATION=0.5,URI=\"a,b.m4s\",INDEPENDENT=YES", "URI"),
            "a,b.m4s");
  EXPECT_EQ(iptv::hls_attribute("#EXT-X-PART:DURATION=0.5", "URI"), std::nullopt);
  // Just after a segment completes: no parts of the next one yet.
  EXPECT_EQ(iptv::scan_media_playlist(ll_playlist(5, 7, 0)).parts_pending, 0);
}

TEST(LlPlaylist, BlockingVerdictFollowsPartsAndTheAdvancePartLimit) {
  using iptv::BlockVerdict;
  // Segments 0..9 complete, parts 0 and 1 of segment 10 out; 0.5 s parts, 4 per segment.
  iptv::MediaPlaylistInfo i = iptv::scan_media_playlist(ll_playlist(0, 10, 2));
  EXPECT_EQ(iptv::block_verdict(i, 9, -1), BlockVerdict::kReady);
  EXPECT_EQ(iptv::block_verdict(i, 9, 3), BlockVerdict::kReady);
  EXPECT_EQ(iptv::block_verdict(i, 10, 1), BlockVerdict::kReady);
  EXPECT_EQ(iptv::block_verdict(i, 10, 2), BlockVerdict::kWait);
  EXPECT_EQ(iptv::block_verdict(i, 10, -1), BlockVerdict::kWait);  // the whole segment
  EXPECT_EQ(iptv::block_verdict(i, 11, 2), BlockVerdict::kWait);   // 5 parts ahead
  // Advance Part Limit: 3 / 0.5 s = 6 parts.
  EXPECT_EQ(iptv::block_verdict(i, 11, 3), BlockVerdict::kWait);     // 6 ahead
  EXPECT_EQ(iptv::block_verdict(i, 12, 0), BlockVerdict::kTooFar);   // 7 ahead
  EXPECT_EQ(iptv::block_verdict(i, 10, 9), BlockVerdict::kTooFar);   // 8 ahead
  EXPECT_EQ(iptv::block_verdict(i, 11, -1), BlockVerdict::kWait);    // last msn + 2
  EXPECT_EQ(iptv::block_verdict(i, 12, -1), BlockVerdict::kTooFar);  // last msn + 3
  // A part target of a second or more: the limit is 3 parts.
  LlOptions slow;
  slow.target = 4;
  slow.part = 1.0;
  iptv::MediaPlaylistInfo s = iptv::scan_media_playlist(ll_playlist(0, 10, 0, slow));
  EXPECT_EQ(iptv::block_verdict(s, 10, 2), BlockVerdict::kWait);
  EXPECT_EQ(iptv::block_verdict(s, 10, 3), BlockVerdict::kTooFar);
}

TEST(LlPlaylist, DeltaUpdateSkipsOnlyWhatIsOlderThanCanSkipUntil) {
  LlOptions o;
  o.dateranges = {{102, "old-ad"}, {118, "new-ad"}};
  std::string full = ll_playlist(100, 20, 1, o);  // 20 x 2 s = 40 s; CAN-SKIP-UNTIL 12 s
  iptv::MediaPlaylistInfo info = iptv::scan_media_playlist(full);
  auto d = iptv::delta_update(full, info, false, {});
  ASSERT_TRUE(d.has_value());
  // Segments ending at least 12 s before the end: the first 14 (100..113).
  EXPECT_NE(d->find("#EXT-X-SKIP:SKIPPED-SEGMENTS=14\n"), std::string::npos) << *d;
  EXPECT_NE(d->find("#EXT-X-VERSION:9\n"), std::string::npos);
  EXPECT_NE(d->find("#EXT-X-MEDIA-SEQUENCE:100\n"), std::string::npos);
  EXPECT_NE(d->find("#EXT-X-MAP:URI=\"init.mp4\""), std::string::npos);
  // _HLS_skip=YES keeps every EXT-X-DATERANGE, the skipped ones included.
  EXPECT_NE(d->find("old-ad"), std::string::npos);
  EXPECT_NE(d->find("new-ad"), std::string::npos);
  // What follows EXT-X-SKIP is the full playlist's text from segment 114 on, byte for byte.
  std::string tail = full.substr(full.find("#EXTINF:2.000,\nseg-00113.m4s\n") + 29);
  EXPECT_EQ(d->substr(d->size() - tail.size()), tail);
  std::vector<std::string> all = uri_lines(full), rest = uri_lines(*d);
  ASSERT_EQ(rest.size(), 6u);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), all.end() - 6));
  // v2 without CAN-SKIP-DATERANGES is answered like YES.
  EXPECT_EQ(iptv::delta_update(full, info, true, {"x"}), d);
  // v2 with it: the skipped segments' DATERANGEs go, and the removed IDs are listed.
  o.skip_dateranges = true;
  std::string full2 = ll_playlist(100, 20, 1, o);
  auto d2 = iptv::delta_update(full2, iptv::scan_media_playlist(full2), true, {"gone-1", "gone-2"});
  ASSERT_TRUE(d2.has_value());
  EXPECT_NE(
      d2->find("#EXT-X-SKIP:SKIPPED-SEGMENTS=14,RECENTLY-REMOVED-DATERANGES=\"gone-1\tgone-2\""),
      std::string::npos)
      << *d2;
  EXPECT_NE(d2->find("#EXT-X-VERSION:10\n"), std::string::npos);
  EXPECT_EQ(d2->find("old-ad"), std::string::npos);
  EXPECT_NE(d2->find("new-ad"), std::string::npos);
  // Nothing old enough, no CAN-SKIP-UNTIL, or an ended playlist: no delta.
  EXPECT_FALSE(iptv::delta_update(ll_playlist(0, 6, 1),
                                  iptv::scan_media_playlist(ll_playlist(0, 6, 1)), false, {}));
  LlOptions none;
  none.skip_until = 0;
  std::string nd = ll_playlist(0, 20, 1, none);
  EXPECT_FALSE(iptv::delta_update(nd, iptv::scan_media_playlist(nd), false, {}));
}

// ---- the origin --------------------------------------------------------------------------------

class OriginLlTest : public ::testing::TestWithParam<iptv::TokenMode> {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<iptv_test::TempDir>();
    root_ = dir_->path() + "/sport";
    fs::create_directories(root_ + "/hi");
    ring_.add("k1", std::string(32, '\x5a'), true);
    iptv::OriginConfig cfg;
    cfg.mode = GetParam();
    cfg.keys = ring_;
    cfg.threads = 2;
    origin_ = std::make_unique<iptv::Origin>(cfg);
    std::string err;
    ASSERT_TRUE(origin_->start(&err)) << err;
    origin_->add_channel("sport", root_);
    port_ = origin_->port();
    if (cfg.mode == iptv::TokenMode::kEdgeAuth) {
      iptv::TokenClaims c;
      int64_t now = g_get_real_time() / 1000000;
      c.start = now - 5;
      c.expiry = now + 600;
      c.acl = iptv::acl_for_channel("sport");
      c.session = "viewer";
      base_ = "/hls/sport/" + iptv::token_to_path_segment(iptv::sign_token(c, ring_)) + "/hi/";
    } else {
      base_ = "/hls/sport/hi/";
    }
  }
  void TearDown() override {
    if (origin_) origin_->stop();
  }
  // Publishes like the packager: the new parts first, then the playlist (atomic renames).
  void publish(int64_t first, int complete, int pending, const LlOptions &o = {}) {
    int64_t msn = first + complete;
    for (int i = 0; i < pending; ++i)
      ASSERT_EQ(iptv::write_file_atomic(part_path(msn, i), part_bytes(msn, i)), "");
    for (int64_t m = std::max<int64_t>(first, msn - 1); m < msn; ++m)
      ASSERT_EQ(iptv::write_file_atomic(root_ + "/hi/" + stem(m) + ".m4s", "segment " + stem(m)),
                "");
    ASSERT_EQ(
        iptv::write_file_atomic(root_ + "/hi/index.m3u8", ll_playlist(first, complete, pending, o)),
        "");
  }
  std::string part_path(int64_t msn, int i) {
    return root_ + "/hi/" + stem(msn) + "." + std::to_string(i) + ".m4s";
  }
  static std::string part_bytes(int64_t msn, int i) {
    return "part " + std::to_string(msn) + "." + std::to_string(i);
  }
  uint64_t parked_here() {
    auto st = origin_->stats();
    auto it = st.parked_by_channel.find("sport");
    return it == st.parked_by_channel.end() ? 0 : it->second;
  }

  std::unique_ptr<iptv_test::TempDir> dir_;
  std::string root_, base_;
  iptv::KeyRing ring_;
  std::unique_ptr<iptv::Origin> origin_;
  int port_ = 0;
};

TEST_P(OriginLlTest, BlockingReloadWithPartAnsweredWhenThatPartIsPublished) {
  publish(0, 10, 2);  // segments 0..9, parts 10.0 and 10.1
  Response now = get_once(port_, base_ + "index.m3u8?_HLS_msn=10&_HLS_part=1");
  EXPECT_EQ(now.status, 200);
  EXPECT_EQ(header(now, "Cache-Control"), "max-age=2");  // a blocking answer: one target
  Response plain = get_once(port_, base_ + "index.m3u8");
  EXPECT_EQ(header(plain, "Cache-Control"), "max-age=1");
  // Too far ahead (Advance Part Limit 6 parts; _HLS_msn more than 2 ahead) and malformed.
  for (const char *q : {"_HLS_msn=12&_HLS_part=0", "_HLS_msn=10&_HLS_part=9", "_HLS_msn=13",
                        "_HLS_msn=10&_HLS_part=x", "_HLS_msn=10&_HLS_part=-1",
                        "_HLS_msn=10&_HLS_part=", "_HLS_part=2", "_HLS_msn=1e3", "_HLS_msn=+5",
                        "_HLS_msn=99999999999999999999", "_HLS_skip=NO"}) {
    Response r = get_once(port_, base_ + "index.m3u8?" + q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_FALSE(header(r, "X-Iptv-Deny").empty()) << q;
  }
  EXPECT_EQ(header(get_once(port_, base_ + "index.m3u8?_HLS_part=2"), "X-Iptv-Deny"), "hls-part");
  int s = connect_to(port_);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(send_get(s, base_ + "index.m3u8?_HLS_msn=10&_HLS_part=2"));
  ASSERT_TRUE(wait_until([&] { return parked_here() == 1; }, 5));
  EXPECT_EQ(origin_->stats().parked, 1u);
  // A publish without that part (the same parts, republished) leaves it parked.
  publish(0, 10, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(parked_here(), 1u);
  publish(0, 10, 3);
  Response r = read_response(s);
  close(s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("seg-00010.2.m4s"), std::string::npos) << r.body;
  EXPECT_EQ(header(r, "Cache-Control"), "max-age=2");
  EXPECT_EQ(parked_here(), 0u);
  EXPECT_EQ(origin_->stats().parked_answered, 1u);
  // A part beyond the segment's last waits for the segment to complete.
  s = connect_to(port_);
  ASSERT_TRUE(send_get(s, base_ + "index.m3u8?_HLS_msn=10&_HLS_part=4"));
  ASSERT_TRUE(wait_until([&] { return parked_here() == 1; }, 5));
  publish(0, 10, 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(parked_here(), 1u);
  publish(0, 11, 0);
  r = read_response(s);
  close(s);
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("#EXTINF:2.000,\nseg-00010.m4s"), std::string::npos) << r.body;
}

TEST_P(OriginLlTest, UnansweredPartRequestGets503AfterThreeTargetDurations) {
  LlOptions o;
  o.target = 1;
  o.part = 0.25;
  publish(0, 10, 1, o);
  auto t0 = Clock::now();
  Response r = get_once(port_, base_ + "index.m3u8?_HLS_msn=10&_HLS_part=1", 20);
  double dt = since(t0);
  EXPECT_EQ(r.status, 503);
  EXPECT_GE(dt, 2.9);
  EXPECT_LT(dt, 8.0);
  EXPECT_EQ(origin_->stats().parked_timeouts, 1u);
  EXPECT_EQ(parked_here(), 0u);
}

// Done-when: blocking reloads answer within 50 ms of the part's publication. The publication is
// the playlist's rename (its part file is already there); the answer is the response's arrival.
TEST_P(OriginLlTest, BlockingReloadAnswersWithinFiftyMillisecondsOfThePublish) {
  publish(0, 10, 0);
  const int kRounds = 24;
  std::vector<double> ms;
  int64_t msn = 10;
  int part = 0;
  for (int round = 0; round < kRounds; ++round) {
    int s = connect_to(port_);
    ASSERT_GE(s, 0);
    std::string q =
        "index.m3u8?_HLS_msn=" + std::to_string(msn) + "&_HLS_part=" + std::to_string(part);
    ASSERT_TRUE(send_get(s, base_ + q));
    ASSERT_TRUE(wait_until([&] { return parked_here() == 1; }, 5)) << q;
    ASSERT_EQ(iptv::write_file_atomic(part_path(msn, part), part_bytes(msn, part)), "");
    std::string tmp = root_ + "/hi/.index.m3u8.next";
    ASSERT_EQ(iptv::write_file_atomic(tmp, ll_playlist(0, static_cast<int>(msn), part + 1)), "");
    Clock::time_point t0 = Clock::now();
    ASSERT_EQ(std::rename(tmp.c_str(), (root_ + "/hi/index.m3u8").c_str()), 0);
    Response r = read_response(s);
    ms.push_back(since(t0) * 1000);
    close(s);
    ASSERT_EQ(r.status, 200) << q;
    ASSERT_NE(r.body.find(stem(msn) + "." + std::to_string(part) + ".m4s"), std::string::npos);
    if (++part == 4) {
      part = 0;
      ASSERT_EQ(iptv::write_file_atomic(root_ + "/hi/" + stem(msn) + ".m4s", "seg"), "");
      ++msn;
    }
  }
  std::sort(ms.begin(), ms.end());
  double median = ms[ms.size() / 2], max = ms.back();
  std::printf("blocking reload answered after the publish: median %.2f ms, max %.2f ms (%zu)\n",
              median, max, ms.size());
  RecordProperty("median_ms", std::to_string(median));
  RecordProperty("max_ms", std::to_string(max));
  EXPECT_LE(median, 50.0);
  // The machine is shared (2 cores, other builds): one slow wakeup is not the origin's figure,
  // but a slow path (a timer, not inotify) would push most rounds past 50 ms.
  EXPECT_LE(ms[ms.size() * 3 / 4], 50.0);
  EXPECT_LT(max, 1000.0);
}

TEST_P(OriginLlTest, PreloadHintedPartIsHeldUntilItExistsThenServed) {
  publish(0, 10, 2);  // hint: seg-00010.2.m4s
  // A part nobody hinted (yet): 404, never cached (it will exist within a part target).
  Response early = get_once(port_, base_ + "seg-00010.3.m4s");
  EXPECT_EQ(early.status, 404);
  EXPECT_EQ(header(early, "Cache-Control"), "no-store");
  int s = connect_to(port_);
  ASSERT_GE(s, 0);
  ASSERT_TRUE(send_get(s, base_ + "seg-00010.2.m4s"));
  ASSERT_TRUE(wait_until([&] { return parked_here() == 1; }, 5));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(parked_here(), 1u);
  auto t0 = Clock::now();
  publish(0, 10, 3);  // the part, then the playlist
  Response r = read_response(s);
  double dt = since(t0);
  close(s);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, part_bytes(10, 2));
  EXPECT_EQ(header(r, "Cache-Control"), "max-age=31536000, immutable");
  EXPECT_EQ(header(r, "Content-Type"), "video/iso.segment");
  EXPECT_LT(dt, 1.0);
  EXPECT_EQ(parked_here(), 0u);
  // Once there, a part is served at once like any segment.
  EXPECT_EQ(get_once(port_, base_ + "seg-00010.2.m4s").body, part_bytes(10, 2));
}

TEST_P(OriginLlTest, DeltaUpdatesAgreeWithTheFullPlaylist) {
  LlOptions o;
  o.skip_dateranges = true;
  o.dateranges = {{1, "old-ad"}, {18, "new-ad"}};
  publish(0, 20, 1, o);
  Response full = get_once(port_, base_ + "index.m3u8");
  ASSERT_EQ(full.status, 200);
  Response yes = get_once(port_, base_ + "index.m3u8?_HLS_skip=YES");
  ASSERT_EQ(yes.status, 200);
  EXPECT_NE(yes.body.find("#EXT-X-SKIP:SKIPPED-SEGMENTS=14\n"), std::string::npos) << yes.body;
  EXPECT_NE(header(yes, "ETag"), header(full, "ETag"));
  std::vector<std::string> all = uri_lines(full.body), rest = uri_lines(yes.body);
  ASSERT_EQ(rest.size() + 14, all.size());
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), all.begin() + 14));
  EXPECT_LT(yes.body.size(), full.body.size());
  // v2: a DATERANGE gone from the playlist is listed as recently removed.
  o.dateranges = {{18, "new-ad"}};
  publish(0, 20, 2, o);
  Response v2 = get_once(port_, base_ + "index.m3u8?_HLS_skip=v2");
  ASSERT_EQ(v2.status, 200);
  EXPECT_NE(v2.body.find("RECENTLY-REMOVED-DATERANGES=\"old-ad\""), std::string::npos) << v2.body;
  // A blocking delta: parked, then answered as a delta of the version that satisfied it.
  int s = connect_to(port_);
  ASSERT_TRUE(send_get(s, base_ + "index.m3u8?_HLS_msn=20&_HLS_part=2&_HLS_skip=YES"));
  ASSERT_TRUE(wait_until([&] { return parked_here() == 1; }, 5));
  publish(0, 20, 3, o);
  Response blocked = read_response(s);
  close(s);
  ASSERT_EQ(blocked.status, 200);
  EXPECT_NE(blocked.body.find("#EXT-X-SKIP:SKIPPED-SEGMENTS="), std::string::npos);
  EXPECT_NE(blocked.body.find("seg-00020.2.m4s"), std::string::npos);
  EXPECT_EQ(header(blocked, "Cache-Control"), "max-age=2");
  // No CAN-SKIP-UNTIL: _HLS_skip is answered with the full playlist.
  LlOptions none;
  none.skip_until = 0;
  publish(0, 20, 1, none);
  Response no_skip = get_once(port_, base_ + "index.m3u8?_HLS_skip=YES");
  EXPECT_EQ(no_skip.status, 200);
  EXPECT_EQ(no_skip.body, ll_playlist(0, 20, 1, none));
}

INSTANTIATE_TEST_SUITE_P(Tokens, OriginLlTest,
                         ::testing::Values(iptv::TokenMode::kNone, iptv::TokenMode::kEdgeAuth),
                         [](const auto &info) {
                           return info.param == iptv::TokenMode::kNone ? "NoToken" : "EdgeAuth";
                         });

}  // namespace
