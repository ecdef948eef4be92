// The GStreamer-free state machines behind iptvgapprobe.
#include <gtest/gtest.h>

#include "gapprobe_detector.h"

namespace {

using iptv::HeldCondition;
using iptv::kNsPerSecond;
using iptv::TimestampChecker;
constexpr int64_t S = kNsPerSecond;
constexpr int64_t MS = S / 1000;

TEST(HeldCondition, StartsAfterHoldEndsOnceAndCounts) {
  HeldCondition c(2 * S);
  EXPECT_EQ(c.observe(true, 0), HeldCondition::Event::kNone);
  EXPECT_EQ(c.observe(true, 1 * S), HeldCondition::Event::kNone);
  EXPECT_EQ(c.observe(true, 2 * S), HeldCondition::Event::kStarted);
  EXPECT_EQ(c.observe(true, 3 * S), HeldCondition::Event::kNone);  // no repeats
  EXPECT_TRUE(c.active());
  EXPECT_EQ(c.observe(false, 5 * S), HeldCondition::Event::kEnded);
  EXPECT_EQ(c.last_duration(), 5 * S);
  EXPECT_EQ(c.observe(false, 6 * S), HeldCondition::Event::kNone);
  EXPECT_EQ(c.count(), 1u);
  EXPECT_EQ(c.total_ns(10 * S), 5 * S);
}

TEST(HeldCondition, ShortBlipsNeverStart) {
  HeldCondition c(2 * S);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(c.observe(true, i * 3 * S), HeldCondition::Event::kNone);
    EXPECT_EQ(c.observe(false, i * 3 * S + S), HeldCondition::Event::kNone);
  }
  EXPECT_EQ(c.count(), 0u);
}

TEST(GapTracker, FiresOnceAndRecoversWithOutage) {
  iptv::GapTracker g(2 * S);
  g.start(0);
  EXPECT_EQ(*g.deadline(), 2 * S);
  EXPECT_FALSE(g.on_buffer(1 * S));
  EXPECT_EQ(*g.deadline(), 3 * S);
  EXPECT_FALSE(g.check(2 * S));  // early wake: re-arm
  auto gap = g.check(3 * S);
  ASSERT_TRUE(gap);
  EXPECT_EQ(*gap, 2 * S);
  EXPECT_FALSE(g.deadline());     // nothing to wait for until data flows
  EXPECT_FALSE(g.check(10 * S));  // no repeats
  auto outage = g.on_buffer(7 * S);
  ASSERT_TRUE(outage);
  EXPECT_EQ(*outage, 6 * S);
  EXPECT_EQ(g.count(), 1u);
  EXPECT_EQ(g.max_gap(), 6 * S);
  EXPECT_EQ(g.total_ns(8 * S), 6 * S);
}

TEST(KeyframeTracker, GapStartsOnceAndEndsOnKeyframe) {
  iptv::KeyframeTracker k(3 * S);
  EXPECT_EQ(k.on_buffer(0, true), HeldCondition::Event::kNone);
  EXPECT_EQ(k.on_buffer(2 * S, true), HeldCondition::Event::kNone);
  EXPECT_EQ(k.last_interval(), 2 * S);
  for (int64_t t = 2 * S + 40 * MS; t <= 5 * S; t += 40 * MS)
    EXPECT_EQ(k.on_buffer(t, false), HeldCondition::Event::kNone) << t;
  EXPECT_EQ(k.on_buffer(5 * S + 40 * MS, false), HeldCondition::Event::kStarted);
  EXPECT_EQ(k.on_buffer(6 * S, false), HeldCondition::Event::kNone);
  EXPECT_EQ(k.on_buffer(8 * S, true), HeldCondition::Event::kEnded);
  EXPECT_EQ(k.condition().last_duration(), 6 * S);
  EXPECT_EQ(k.max_interval(), 6 * S);
  EXPECT_EQ(k.condition().count(), 1u);
}

TEST(TimestampChecker, BackwardsAndJump) {
  TimestampChecker t;
  t.set_jump_threshold(S);
  EXPECT_TRUE(t.on_buffer(0, 40 * MS, 0, -1).empty());
  EXPECT_TRUE(t.on_buffer(40 * MS, 40 * MS, 40 * MS, -1).empty());
  auto back = t.on_buffer(20 * MS, 40 * MS, 20 * MS, -1);
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].kind, TimestampChecker::Kind::kBackwards);
  EXPECT_EQ(back[0].amount, 20 * MS);
  auto jump = t.on_buffer(5 * S, 40 * MS, 5 * S, -1);
  ASSERT_EQ(jump.size(), 1u);
  EXPECT_EQ(jump[0].kind, TimestampChecker::Kind::kJump);
  EXPECT_EQ(jump[0].amount, 5 * S - 60 * MS);
  EXPECT_TRUE(t.on_buffer(5 * S + 40 * MS, 40 * MS, 5 * S + 40 * MS, -1).empty());
}

TEST(TimestampChecker, MissingIsAConditionNotPerBuffer) {
  TimestampChecker t;
  EXPECT_TRUE(t.on_buffer(0, 40 * MS, 0, 0).empty());
  auto a = t.on_buffer(-1, -1, -1, 40 * MS);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_TRUE(a[0].active);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.on_buffer(-1, -1, -1, (i + 2) * 40 * MS).empty());
  auto b = t.on_buffer(280 * MS, 40 * MS, 280 * MS, 280 * MS);
  ASSERT_EQ(b.size(), 1u);
  EXPECT_EQ(b[0].kind, TimestampChecker::Kind::kMissing);
  EXPECT_FALSE(b[0].active);
  EXPECT_EQ(b[0].amount, 6);
  EXPECT_EQ(b[0].duration, 240 * MS);
}

TEST(TimestampChecker, DriftOnLiveStreams) {
  TimestampChecker t;
  t.set_drift_threshold(S);
  t.set_jump_threshold(10 * S);
  // The stream runs 10% slow against the clock: after 10 s of wall time it is 1 s behind.
  std::vector<TimestampChecker::Issue> all;
  for (int64_t wall = 0; wall <= 15 * S; wall += 100 * MS) {
    int64_t running = wall * 9 / 10;
    for (auto &i : t.on_buffer(running, -1, running, wall)) all.push_back(i);
  }
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].kind, TimestampChecker::Kind::kDrift);
  EXPECT_TRUE(all[0].active);
  EXPECT_GT(all[0].amount, S);
}

// The first buffers arrive 2 s late in a burst, then on time: no drift (the reference is the
// lowest lateness of the first drift-threshold, not the first buffer's). Then the stream really
// falls behind the clock: that is still drift, and it ends when the stream catches up.
TEST(TimestampChecker, LateFirstBuffersSetNoReference) {
  TimestampChecker t;
  t.set_drift_threshold(S);
  t.set_jump_threshold(10 * S);
  std::vector<TimestampChecker::Issue> all;
  for (int64_t r = 0; r < 2 * S; r += 40 * MS)  // 2 s of stream at 2 s, 1 ms apart
    for (auto &i : t.on_buffer(r, 40 * MS, r, 2 * S + r / 40)) all.push_back(i);
  for (int64_t r = 2 * S; r < 10 * S; r += 40 * MS)  // on time (50 ms latency)
    for (auto &i : t.on_buffer(r, 40 * MS, r, r + 50 * MS)) all.push_back(i);
  EXPECT_TRUE(all.empty()) << all.size() << " issues, the first amount " << all[0].amount;
  EXPECT_EQ(t.drift(), 0);
  for (int64_t r = 10 * S; r < 12 * S; r += 40 * MS)  // 2 s behind, then on time again
    for (auto &i : t.on_buffer(r, 40 * MS, r, r + 2050 * MS)) all.push_back(i);
  for (int64_t r = 12 * S; r < 13 * S; r += 40 * MS)
    for (auto &i : t.on_buffer(r, 40 * MS, r, r + 50 * MS)) all.push_back(i);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[0].active);
  EXPECT_EQ(all[0].amount, 2 * S);
  EXPECT_FALSE(all[1].active);
}

TEST(Content, LumaGridAndDifference) {
  std::vector<uint8_t> plane(64 * 36, 16), grid, prev;
  EXPECT_NEAR(iptv::mean_luma(plane.data(), 64, 36, 64, 1, 4), 16 / 255.0, 1e-9);
  iptv::sample_grid(plane.data(), 64, 36, 64, 1, 16, 9, prev);
  plane[18 * 64 + 32] = 255;  // one pixel changes: still "the same" picture
  iptv::sample_grid(plane.data(), 64, 36, 64, 1, 16, 9, grid);
  EXPECT_LT(iptv::grid_difference(grid, prev), 5.0);
  std::fill(plane.begin(), plane.end(), 200);
  iptv::sample_grid(plane.data(), 64, 36, 64, 1, 16, 9, grid);
  EXPECT_NEAR(iptv::grid_difference(grid, prev), 184.0, 3.0);
}

TEST(Content, SmallMotionOnAStillBackgroundIsNotAFreeze) {
  // A 6x6 bright square moving by 2 pixels on a still grey 320x180 picture, seen through the
  // probe's 48x27 grid: the mean difference stays tiny (as a still picture's coding noise), but
  // the cells the square crosses change a lot. Point samples (the old grid) missed it whenever
  // the square sat between two samples, and the picture read as frozen.
  const int w = 320, h = 180;
  auto frame = [&](int x) {
    std::vector<uint8_t> plane(w * h, 100);
    for (int y = 80; y < 86; ++y)
      for (int i = x; i < x + 6; ++i) plane[y * w + i] = 235;
    return plane;
  };
  std::vector<uint8_t> a, b;
  auto pa = frame(150), pb = frame(152);
  iptv::sample_grid(pa.data(), w, h, w, 1, 48, 27, a);
  iptv::sample_grid(pb.data(), w, h, w, 1, 48, 27, b);
  EXPECT_LT(iptv::grid_difference(a, b), 0.75);   // the mean alone would call it frozen
  EXPECT_GE(iptv::grid_max_difference(a, b), 8);  // the cell does not
  // The same picture twice: no difference at all.
  iptv::sample_grid(pa.data(), w, h, w, 1, 48, 27, b);
  EXPECT_EQ(iptv::grid_max_difference(a, b), 0);
  EXPECT_EQ(iptv::grid_max_difference(a, {}), 255);
}

TEST(Content, RmsLevels) {
  std::vector<int16_t> silent(1024, 0), full(1024);
  for (size_t i = 0; i < full.size(); ++i) full[i] = (i % 2) ? 32767 : -32767;
  EXPECT_EQ(iptv::rms_db_s16(silent.data(), silent.size()), -200.0);
  EXPECT_NEAR(iptv::rms_db_s16(full.data(), full.size()), 0.0, 0.01);
  std::vector<float> quiet(1000, 0.001f);  // -60 dBFS
  EXPECT_NEAR(iptv::rms_db_f32(quiet.data(), quiet.size()), -60.0, 0.01);
}

}  // namespace
