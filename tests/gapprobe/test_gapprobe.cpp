// iptvgapprobe with GstHarness and a GstTestClock (no sleeps), and in real pipelines.
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <gst/check/gsttestclock.h>
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace {

constexpr GstClockTime S = GST_SECOND;
constexpr GstClockTime MS = GST_MSECOND;

struct Msg {
  std::string name;
  GstStructure *s;
};

// Collects the element messages posted by the probe.
class Collector {
 public:
  Collector() : bus_(gst_bus_new()) {}
  ~Collector() {
    for (auto &m : got_) gst_structure_free(m.s);
    gst_object_unref(bus_);
  }
  GstBus *bus() { return bus_; }
  std::vector<Msg> &drain() {
    while (GstMessage *m = gst_bus_pop_filtered(bus_, GST_MESSAGE_ELEMENT)) {
      const GstStructure *s = gst_message_get_structure(m);
      got_.push_back({gst_structure_get_name(s), gst_structure_copy(s)});
      gst_message_unref(m);
    }
    return got_;
  }
  std::vector<const GstStructure *> named(const std::string &name) {
    std::vector<const GstStructure *> out;
    for (auto &m : drain())
      if (m.name == name) out.push_back(m.s);
    return out;
  }

 private:
  GstBus *bus_;
  std::vector<Msg> got_;
};

GstHarness *make_probe(Collector &c, const char *props) {
  GstHarness *h = gst_harness_new_parse((std::string("iptvgapprobe name=probe ") + props).c_str());
  gst_harness_use_testclock(h);
  gst_element_set_bus(h->element, c.bus());
  return h;
}

GstBuffer *buffer_at(GstClockTime pts, GstClockTime dur, gsize size, guint8 fill,
                     bool delta = false) {
  GstBuffer *b = gst_buffer_new_allocate(nullptr, size, nullptr);
  gst_buffer_memset(b, 0, fill, size);
  GST_BUFFER_PTS(b) = pts;
  GST_BUFFER_DURATION(b) = dur;
  if (delta) GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DELTA_UNIT);
  return b;
}

guint64 u64(const GstStructure *s, const char *f) {
  guint64 v = 0;
  EXPECT_TRUE(gst_structure_get_uint64(s, f, &v)) << f << " in " << gst_structure_get_name(s);
  return v;
}

bool active(const GstStructure *s) {
  gboolean a = FALSE;
  EXPECT_TRUE(gst_structure_get_boolean(s, "active", &a));
  return a;
}

void expect_common_fields(const GstStructure *s, const char *stream_type) {
  EXPECT_STREQ(gst_structure_get_string(s, "element"), "probe");
  EXPECT_STREQ(gst_structure_get_string(s, "stream-type"), stream_type);
  EXPECT_TRUE(gst_structure_has_field_typed(s, "running-time", G_TYPE_UINT64));
}

TEST(GapProbeHarness, GapFiresWithoutDataOnceAndRecovers) {
  Collector c;
  GstHarness *h = make_probe(c, "gap-threshold=1.0");
  gst_harness_set_src_caps_str(h, "video/x-h264,stream-format=byte-stream,alignment=au");
  GstTestClock *tc = gst_harness_get_testclock(h);
  ASSERT_EQ(gst_harness_push(h, buffer_at(0, 40 * MS, 16, 0)), GST_FLOW_OK);
  // Nothing flows: the watchdog's clock wait comes due at 1 s and fires.
  for (int i = 0; i < 3 && c.named("iptvgapprobe-gap").empty(); ++i)
    ASSERT_TRUE(gst_harness_crank_single_clock_wait(h));
  auto gaps = c.named("iptvgapprobe-gap");
  ASSERT_EQ(gaps.size(), 1u);
  expect_common_fields(gaps[0], "video");
  EXPECT_EQ(u64(gaps[0], "gap"), 1 * S);
  // No repeats while the gap lasts: nothing else is waiting on the clock.
  gst_test_clock_set_time(tc, 4 * S);
  EXPECT_EQ(gst_test_clock_peek_id_count(tc), 0u);
  EXPECT_EQ(c.named("iptvgapprobe-gap").size(), 1u);
  // Data again: one recovery with the whole outage.
  ASSERT_EQ(gst_harness_push(h, buffer_at(40 * MS, 40 * MS, 16, 0)), GST_FLOW_OK);
  auto rec = c.named("iptvgapprobe-recovered");
  ASSERT_EQ(rec.size(), 1u);
  EXPECT_EQ(u64(rec[0], "duration"), 4 * S);
  EXPECT_EQ(gst_test_clock_peek_id_count(tc), 1u);  // re-armed for the next gap
  GstStructure *stats = nullptr;
  GstElement *probe = gst_bin_get_by_name(GST_BIN(h->element), "probe");
  g_object_get(probe, "stats", &stats, nullptr);
  gst_object_unref(probe);
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(u64(stats, "gaps"), 1u);
  EXPECT_EQ(u64(stats, "max-gap"), 4 * S);
  EXPECT_EQ(u64(stats, "buffers"), 2u);
  gst_structure_free(stats);
  gst_object_unref(tc);
  gst_harness_teardown(h);
}

// A gap before the first buffer is posted before the caps are known (stream type `other`); its
// recovery, after the caps, names the same stream, so that a listener keyed on the stream clears
// what it raised. It named the stream of the new caps (`video`), and the worker, which keys its
// conditions by stream, kept `gap/other` raised forever: a passthrough channel whose input
// started later than gap-threshold stayed `degraded`.
TEST(GapProbeHarness, AGapBeforeTheCapsRecoversUnderTheSameStream) {
  Collector c;
  GstHarness *h = make_probe(c, "gap-threshold=0.5");
  for (int i = 0; i < 3 && c.named("iptvgapprobe-gap").empty(); ++i)
    ASSERT_TRUE(gst_harness_crank_single_clock_wait(h));
  auto gaps = c.named("iptvgapprobe-gap");
  ASSERT_EQ(gaps.size(), 1u);
  expect_common_fields(gaps[0], "other");
  gst_harness_set_src_caps_str(h, "video/x-h264,stream-format=byte-stream,alignment=au");
  ASSERT_EQ(gst_harness_push(h, buffer_at(0, 40 * MS, 16, 0)), GST_FLOW_OK);
  auto rec = c.named("iptvgapprobe-recovered");
  ASSERT_EQ(rec.size(), 1u);
  expect_common_fields(rec[0], "other");
  // The next gap, with the caps known, is the video's, and so is its recovery.
  for (int i = 0; i < 3 && c.named("iptvgapprobe-gap").size() < 2; ++i)
    ASSERT_TRUE(gst_harness_crank_single_clock_wait(h));
  gaps = c.named("iptvgapprobe-gap");
  ASSERT_EQ(gaps.size(), 2u);
  expect_common_fields(gaps[1], "video");
  ASSERT_EQ(gst_harness_push(h, buffer_at(40 * MS, 40 * MS, 16, 0)), GST_FLOW_OK);
  rec = c.named("iptvgapprobe-recovered");
  ASSERT_EQ(rec.size(), 2u);
  expect_common_fields(rec[1], "video");
  gst_harness_teardown(h);
}

TEST(GapProbeHarness, SteadyFlowNeverFires) {
  Collector c;
  GstHarness *h = make_probe(c, "gap-threshold=0.5");
  gst_harness_set_src_caps_str(h, "video/x-h264,stream-format=byte-stream,alignment=au");
  GstTestClock *tc = gst_harness_get_testclock(h);
  for (int i = 0; i < 100; ++i) {
    gst_test_clock_set_time(tc, i * 100 * MS);
    ASSERT_EQ(gst_harness_push(h, buffer_at(i * 100 * MS, 100 * MS, 16, 0, i % 10)), GST_FLOW_OK);
    // A wake-up before the deadline re-arms instead of firing.
    if (gst_test_clock_peek_id_count(tc) > 0) gst_test_clock_process_next_clock_id(tc);
  }
  EXPECT_TRUE(c.named("iptvgapprobe-gap").empty());
  gst_object_unref(tc);
  gst_harness_teardown(h);
}

TEST(GapProbeHarness, KeyframeGapStartsAndEnds) {
  Collector c;
  GstHarness *h = make_probe(c, "keyframe-gap-threshold=1.0 gap-threshold=100");
  gst_harness_set_src_caps_str(h, "video/x-h264,stream-format=byte-stream,alignment=au");
  for (int i = 0; i <= 75; ++i) {  // a keyframe at 0, then deltas until 3 s
    bool key = i == 0 || i == 75;
    ASSERT_EQ(gst_harness_push(h, buffer_at(i * 40 * MS, 40 * MS, 16, 0, !key)), GST_FLOW_OK);
  }
  auto msgs = c.named("iptvgapprobe-keyframe-gap");
  ASSERT_EQ(msgs.size(), 2u);
  expect_common_fields(msgs[0], "video");
  EXPECT_TRUE(active(msgs[0]));
  EXPECT_FALSE(active(msgs[1]));
  EXPECT_EQ(u64(msgs[1], "duration"), 3 * S);
  gst_harness_teardown(h);
}

TEST(GapProbeHarness, SilenceStartsOnceAndEnds) {
  Collector c;
  GstHarness *h = make_probe(c, "silence-seconds=1.0 silence-threshold-db=-50 gap-threshold=100");
  gst_harness_set_src_caps_str(h,
                               "audio/x-raw,format=S16LE,rate=48000,channels=1,layout=interleaved");
  const gsize bytes = 4800 * 2;   // 100 ms
  for (int i = 0; i < 30; ++i) {  // 2 s of silence, then 1 s of loud audio
    GstBuffer *b = buffer_at(i * 100 * MS, 100 * MS, bytes, 0);
    if (i >= 20) {
      GstMapInfo map;
      gst_buffer_map(b, &map, GST_MAP_WRITE);
      auto *s16 = reinterpret_cast<int16_t *>(map.data);
      for (gsize k = 0; k < bytes / 2; ++k) s16[k] = (k / 24) % 2 ? 8000 : -8000;
      gst_buffer_unmap(b, &map);
    }
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  }
  auto msgs = c.named("iptvgapprobe-silence");
  ASSERT_EQ(msgs.size(), 2u);
  expect_common_fields(msgs[0], "audio");
  EXPECT_TRUE(active(msgs[0]));
  EXPECT_FALSE(active(msgs[1]));
  EXPECT_EQ(u64(msgs[1], "duration"), 2 * S);
  gst_harness_teardown(h);
}

void fill_frame(GstBuffer *b, int w, int h, guint8 luma, unsigned seed) {
  GstMapInfo map;
  gst_buffer_map(b, &map, GST_MAP_WRITE);
  for (int i = 0; i < w * h; ++i)
    map.data[i] = seed ? static_cast<guint8>((i * 7919u + seed * 104729u) >> 3) : luma;
  memset(map.data + w * h, 128, map.size - w * h);
  gst_buffer_unmap(b, &map);
}

TEST(GapProbeHarness, BlackAndFreezeStartOnceAndEnd) {
  Collector c;
  GstHarness *h =
      make_probe(c, "black-seconds=1.0 freeze-seconds=1.5 gap-threshold=100 black-threshold=0.1");
  const int w = 64, hh = 36;
  gst_harness_set_src_caps_str(h, "video/x-raw,format=I420,width=64,height=36,framerate=25/1");
  const gsize size = w * hh * 3 / 2;
  for (int i = 0; i < 100; ++i) {  // 2 s of black (limited-range 16), then 2 s of changing noise
    GstBuffer *b = buffer_at(i * 40 * MS, 40 * MS, size, 0);
    fill_frame(b, w, hh, 16, i < 50 ? 0 : i);
    ASSERT_EQ(gst_harness_push(h, b), GST_FLOW_OK);
  }
  auto black = c.named("iptvgapprobe-black");
  ASSERT_EQ(black.size(), 2u);
  expect_common_fields(black[0], "video");
  EXPECT_TRUE(active(black[0]));
  EXPECT_FALSE(active(black[1]));
  EXPECT_EQ(u64(black[1], "duration"), 2 * S);
  auto freeze = c.named("iptvgapprobe-freeze");
  ASSERT_EQ(freeze.size(), 2u);
  EXPECT_TRUE(active(freeze[0]));
  EXPECT_FALSE(active(freeze[1]));
  // The first frame has nothing to compare with: frozen from the second frame on.
  EXPECT_EQ(u64(freeze[1], "duration"), 2 * S - 40 * MS);
  gst_harness_teardown(h);
}

TEST(GapProbeHarness, TimestampBackwardsJumpMissing) {
  Collector c;
  GstHarness *h = make_probe(c, "jump-threshold=0.5 gap-threshold=100 drift-threshold=1000");
  gst_harness_set_src_caps_str(h, "audio/mpeg,mpegversion=4");
  GstClockTime pts[] = {
      0, 40 * MS, 20 * MS, 3 * S, GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, 3 * S + 120 * MS};
  for (GstClockTime t : pts)
    ASSERT_EQ(gst_harness_push(h, buffer_at(t, 40 * MS, 8, 0)), GST_FLOW_OK);
  auto msgs = c.named("iptvgapprobe-timestamp");
  std::vector<std::string> kinds;
  for (auto *s : msgs) kinds.push_back(gst_structure_get_string(s, "kind"));
  EXPECT_EQ(kinds, (std::vector<std::string>{"backwards", "jump", "missing", "missing"}));
  ASSERT_EQ(msgs.size(), 4u);
  EXPECT_TRUE(active(msgs[2]));
  EXPECT_FALSE(active(msgs[3]));
  gst_harness_teardown(h);
}

TEST(GapProbeHarness, DriftOnALiveSourceStartsOnceAndEnds) {
  // The harness source answers latency queries as live. Buffers run 2 s ahead of the clock, then
  // the clock catches up.
  Collector c;
  GstHarness *h = make_probe(c, "drift-threshold=1.0 gap-threshold=100");
  gst_harness_set_src_caps_str(h, "audio/mpeg,mpegversion=4");
  GstTestClock *tc = gst_harness_get_testclock(h);
  for (int i = 0; i <= 40; ++i) {  // stream time runs at 1.5x the clock for 4 s
    gst_test_clock_set_time(tc, i * 100 * MS);
    ASSERT_EQ(gst_harness_push(h, buffer_at(i * 150 * MS, 150 * MS, 8, 0)), GST_FLOW_OK);
  }
  for (int i = 41; i <= 80; ++i) {  // then the clock catches up (stream at half speed)
    gst_test_clock_set_time(tc, i * 100 * MS);
    ASSERT_EQ(gst_harness_push(h, buffer_at(6 * S + (i - 40) * 50 * MS, 50 * MS, 8, 0)),
              GST_FLOW_OK);
  }
  auto msgs = c.named("iptvgapprobe-timestamp");
  std::vector<const GstStructure *> drift;
  for (auto *s : msgs)
    if (g_str_equal(gst_structure_get_string(s, "kind"), "drift")) drift.push_back(s);
  ASSERT_EQ(drift.size(), 2u);
  EXPECT_TRUE(active(drift[0]));
  EXPECT_FALSE(active(drift[1]));
  gint64 amount = 0;
  EXPECT_TRUE(gst_structure_get_int64(drift[0], "amount", &amount));
  EXPECT_LT(amount, -(gint64)S);  // the stream is ahead of the clock
  EXPECT_GT(u64(drift[1], "duration"), 0u);
  gst_object_unref(tc);
  gst_harness_teardown(h);
}

std::vector<const GstStructure *> timestamp_kind(Collector &c, const char *kind) {
  std::vector<const GstStructure *> out;
  for (auto *s : c.named("iptvgapprobe-timestamp"))
    if (g_str_equal(gst_structure_get_string(s, "kind"), kind)) out.push_back(s);
  return out;
}

// A live input whose first buffers reach the probe late, all at once (a demuxer holds its first
// PES while the worker links and starts its tails; a slow start under the sanitizers), then every
// buffer on time. That is no drift: the stream follows the clock. The reference used to be the
// first buffer's lateness, so every punctual buffer after it looked 3 s ahead of the clock: a
// drift raised at once and never ended (|drift| never came back under half the threshold), and a
// passthrough channel stayed `degraded` from its start (the sanitized chaos run).
TEST(GapProbeHarness, LateFirstBuffersAreNotADriftThatNeverEnds) {
  Collector c;
  GstHarness *h = make_probe(c, "drift-threshold=1.0 gap-threshold=100");
  gst_harness_set_src_caps_str(h, "video/x-h264,stream-format=byte-stream,alignment=au");
  GstTestClock *tc = gst_harness_get_testclock(h);
  // 3 s of stream (75 pictures) arrive in a burst at 3 s, 1 ms apart...
  for (int i = 0; i < 75; ++i) {
    gst_test_clock_set_time(tc, 3 * S + i * MS);
    ASSERT_EQ(gst_harness_push(h, buffer_at(i * 40 * MS, 40 * MS, 16, 0, i % 25)), GST_FLOW_OK);
  }
  // ...then each picture 100 ms after its time (the input's latency), for 20 s.
  for (int i = 75; i < 575; ++i) {
    gst_test_clock_set_time(tc, i * 40 * MS + 100 * MS);
    ASSERT_EQ(gst_harness_push(h, buffer_at(i * 40 * MS, 40 * MS, 16, 0, i % 25)), GST_FLOW_OK);
  }
  auto drift = timestamp_kind(c, "drift");
  EXPECT_TRUE(drift.empty()) << drift.size() << " drift messages, the first "
                             << (drift.empty() ? 0 : active(drift[0]));
  gst_object_unref(tc);
  gst_harness_teardown(h);
}

// A new segment (or a flush) restarts the timestamp and keyframe checks: the conditions they had
// raised end there, with a message. They used to be dropped silently, and the worker, which holds
// a condition until its end, kept the channel `degraded` for good.
TEST(GapProbeHarness, ANewSegmentOrAFlushEndsTheConditionsItRestarts) {
  Collector c;
  GstHarness *h = make_probe(c, "drift-threshold=1.0 gap-threshold=100 keyframe-gap-threshold=1.0");
  gst_harness_set_src_caps_str(h, "video/x-h264,stream-format=byte-stream,alignment=au");
  GstTestClock *tc = gst_harness_get_testclock(h);
  for (int i = 0; i <= 40; ++i) {  // stream time at 1.5x the clock for 4 s: drift; no keyframe
    gst_test_clock_set_time(tc, i * 100 * MS);
    ASSERT_EQ(gst_harness_push(h, buffer_at(i * 150 * MS, 150 * MS, 16, 0, i > 0)), GST_FLOW_OK);
  }
  ASSERT_EQ(gst_harness_push(h, buffer_at(GST_CLOCK_TIME_NONE, 150 * MS, 16, 0, true)),
            GST_FLOW_OK);  // and a buffer without a timestamp: missing
  auto drift = timestamp_kind(c, "drift");
  auto missing = timestamp_kind(c, "missing");
  auto key = c.named("iptvgapprobe-keyframe-gap");
  ASSERT_EQ(drift.size(), 1u);
  ASSERT_EQ(missing.size(), 1u);
  ASSERT_EQ(key.size(), 1u);
  EXPECT_TRUE(active(drift[0]) && active(missing[0]) && active(key[0]));
  GstSegment seg;
  gst_segment_init(&seg, GST_FORMAT_TIME);
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_segment(&seg)));
  drift = timestamp_kind(c, "drift");
  missing = timestamp_kind(c, "missing");
  ASSERT_EQ(drift.size(), 2u);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_FALSE(active(drift[1]));
  EXPECT_FALSE(active(missing[1]));
  EXPECT_EQ(c.named("iptvgapprobe-keyframe-gap").size(), 1u) << "a segment keeps keyframe state";
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_start()));
  ASSERT_TRUE(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
  key = c.named("iptvgapprobe-keyframe-gap");
  ASSERT_EQ(key.size(), 2u);
  EXPECT_FALSE(active(key[1]));
  EXPECT_GT(u64(key[1], "duration"), S);
  EXPECT_EQ(timestamp_kind(c, "drift").size(), 2u) << "nothing left to end";
  gst_object_unref(tc);
  gst_harness_teardown(h);
}

// ---- real pipelines ----

struct BusMessages {
  std::vector<GstStructure *> msgs;
  ~BusMessages() {
    for (auto *s : msgs) gst_structure_free(s);
  }
  std::vector<GstStructure *> named(const char *n) {
    std::vector<GstStructure *> out;
    for (auto *s : msgs)
      if (gst_structure_has_name(s, n)) out.push_back(s);
    return out;
  }
};

// Runs a pipeline until EOS (or `timeout`), collecting element messages.
void run_pipeline(GstElement *pipeline, BusMessages &out, GstClockTime timeout = 60 * S) {
  GstBus *bus = gst_element_get_bus(pipeline);
  ASSERT_NE(gst_element_set_state(pipeline, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  while (true) {
    GstMessage *m = gst_bus_timed_pop_filtered(
        bus, timeout, (GstMessageType)(GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
    ASSERT_NE(m, nullptr) << "timed out";
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
      GError *err = nullptr;
      gst_message_parse_error(m, &err, nullptr);
      ADD_FAILURE() << err->message;
      g_error_free(err);
      gst_message_unref(m);
      break;
    }
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
      gst_message_unref(m);
      break;
    }
    const GstStructure *s = gst_message_get_structure(m);
    if (g_str_has_prefix(gst_structure_get_name(s), "iptvgapprobe-"))
      out.msgs.push_back(gst_structure_copy(s));
    gst_message_unref(m);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  gst_object_unref(bus);
}

TEST(GapProbePipeline, LiveStallGivesOneGapAndOneRecovery) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(
      "appsrc name=src is-live=true do-timestamp=true format=time "
      "caps=video/x-raw,format=I420,width=64,height=36,framerate=25/1 ! "
      "iptvgapprobe name=probe gap-threshold=1.0 ! fakesink sync=false",
      &err);
  ASSERT_NE(p, nullptr) << err->message;
  GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src");
  BusMessages msgs;
  std::thread feeder([&] {
    auto push = [&](int n) {
      for (int i = 0; i < n; ++i) {
        GstBuffer *b = gst_buffer_new_allocate(nullptr, 64 * 36 * 3 / 2, nullptr);
        gst_buffer_memset(b, 0, 100, 64 * 36 * 3 / 2);
        gst_app_src_push_buffer(GST_APP_SRC(src), b);
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
      }
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    push(25);                                              // 1 s of flow
    std::this_thread::sleep_for(std::chrono::seconds(3));  // the stall
    push(25);
    gst_app_src_end_of_stream(GST_APP_SRC(src));
  });
  run_pipeline(p, msgs, 20 * S);
  feeder.join();
  auto gaps = msgs.named("iptvgapprobe-gap");
  auto rec = msgs.named("iptvgapprobe-recovered");
  ASSERT_EQ(gaps.size(), 1u);
  ASSERT_EQ(rec.size(), 1u);
  double gap = u64(gaps[0], "gap") / 1e9, outage = u64(rec[0], "duration") / 1e9;
  EXPECT_NEAR(gap, 1.0, 0.1);
  EXPECT_NEAR(outage, 3.0, 0.3);
  gst_object_unref(src);
  gst_object_unref(p);
}

// One condition, then normal content: concat plays the first source, then the second.
void content_switch(const char *first, const char *second, const char *probe_props,
                    const char *message, double expect_seconds) {
  std::string desc = std::string("concat name=c ! iptvgapprobe name=probe gap-threshold=100 ") +
                     probe_props + " ! fakesink sync=false " + first + " ! c. " + second + " ! c.";
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  ASSERT_NE(p, nullptr) << err->message;
  BusMessages msgs;
  run_pipeline(p, msgs);
  auto m = msgs.named(message);
  ASSERT_EQ(m.size(), 2u) << desc;
  EXPECT_TRUE(active(m[0]));
  EXPECT_FALSE(active(m[1]));
  EXPECT_NEAR(u64(m[1], "duration") / 1e9, expect_seconds, 0.1) << message;
  gst_object_unref(p);
}

TEST(GapProbePipeline, SilenceThenTone) {
  content_switch(
      "audiotestsrc wave=silence num-buffers=150 samplesperbuffer=480 ! "
      "audio/x-raw,format=S16LE,rate=48000,channels=2",
      "audiotestsrc wave=sine num-buffers=100 samplesperbuffer=480 ! "
      "audio/x-raw,format=S16LE,rate=48000,channels=2",
      "silence-seconds=1", "iptvgapprobe-silence", 1.5);
}

TEST(GapProbePipeline, BlackThenPicture) {
  const char *caps = "video/x-raw,format=I420,width=320,height=180,framerate=25/1";
  content_switch((std::string("videotestsrc pattern=black num-buffers=50 ! ") + caps).c_str(),
                 (std::string("videotestsrc pattern=smpte num-buffers=25 ! ") + caps).c_str(),
                 "black-seconds=1 freeze-seconds=100", "iptvgapprobe-black", 2.0);
}

TEST(GapProbePipeline, StillFrameThenMotion) {
  const char *caps = "video/x-raw,format=I420,width=320,height=180,framerate=25/1";
  // A real picture frozen (imagefreeze repeats one frame), then the moving pattern again.
  content_switch((std::string("videotestsrc pattern=smpte num-buffers=1 ! ") + caps +
                  " ! imagefreeze num-buffers=50")
                     .c_str(),
                 (std::string("videotestsrc pattern=smpte num-buffers=25 ! ") + caps).c_str(),
                 "freeze-seconds=1 black-seconds=100", "iptvgapprobe-freeze", 2.0 - 0.04);
}

}  // namespace
