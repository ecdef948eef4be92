// iptvabrladder in real pipelines: aligned keyframes on a grid, epoch anchoring across ladders
// started apart, aspect ratio, dropped rungs, frame-rate caps, VBV rate control, encoder
// selection and fallback with fake hardware encoders, and live overload isolation.
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace {

constexpr GstClockTime S = GST_SECOND;

struct PadLog {
  std::mutex mu;
  std::map<std::string, std::vector<GstClockTime>> keyframes;  // running time
  std::map<std::string, std::vector<std::pair<GstClockTime, gsize>>> sizes;
  std::map<std::string, guint64> frames;
  std::map<std::string, std::string> caps;
};

struct ProbeCtx {
  PadLog *log;
  std::string name;
  GstSegment segment;
};

GstPadProbeReturn log_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *c = static_cast<ProbeCtx *>(data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT) gst_event_copy_segment(ev, &c->segment);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps(ev, &caps);
      gchar *s = gst_caps_to_string(caps);
      std::lock_guard<std::mutex> l(c->log->mu);
      c->log->caps[c->name] = s;
      g_free(s);
    }
    return GST_PAD_PROBE_OK;
  }
  GstBuffer *b = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClockTime rt = gst_segment_to_running_time(&c->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(b));
  std::lock_guard<std::mutex> l(c->log->mu);
  c->log->frames[c->name]++;
  c->log->sizes[c->name].push_back({rt, gst_buffer_get_size(b)});
  if (!GST_BUFFER_FLAG_IS_SET(b, GST_BUFFER_FLAG_DELTA_UNIT))
    c->log->keyframes[c->name].push_back(rt);
  (void)pad;
  return GST_PAD_PROBE_OK;
}

// Attaches a logging probe to the sink pad of every element named "sink_<name>".
std::vector<std::unique_ptr<ProbeCtx>> attach(GstElement *pipeline, PadLog &log,
                                              const std::vector<std::string> &names) {
  std::vector<std::unique_ptr<ProbeCtx>> ctxs;
  for (const auto &n : names) {
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), ("sink_" + n).c_str());
    EXPECT_NE(sink, nullptr) << n;
    if (!sink) continue;
    auto c = std::make_unique<ProbeCtx>();
    c->log = &log;
    c->name = n;
    gst_segment_init(&c->segment, GST_FORMAT_TIME);
    GstPad *pad = gst_element_get_static_pad(sink, "sink");
    gst_pad_add_probe(
        pad, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        log_probe, c.get(), nullptr);
    gst_object_unref(pad);
    gst_object_unref(sink);
    ctxs.push_back(std::move(c));
  }
  return ctxs;
}

struct RunResult {
  std::vector<GstStructure *> element_msgs;
  std::vector<std::string> warnings;
  bool error = false;
  ~RunResult() {
    for (auto *s : element_msgs) gst_structure_free(s);
  }
  std::vector<GstStructure *> named(const char *n) {
    std::vector<GstStructure *> out;
    for (auto *s : element_msgs)
      if (gst_structure_has_name(s, n)) out.push_back(s);
    return out;
  }
};

void run_until_eos(GstElement *p, RunResult &res, GstClockTime timeout = 120 * S) {
  GstBus *bus = gst_element_get_bus(p);
  EXPECT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  while (true) {
    GstMessage *m =
        gst_bus_timed_pop_filtered(bus, timeout,
                                   (GstMessageType)(GST_MESSAGE_ELEMENT | GST_MESSAGE_EOS |
                                                    GST_MESSAGE_ERROR | GST_MESSAGE_WARNING));
    if (!m) {
      ADD_FAILURE() << "timed out";
      break;
    }
    bool done = false;
    switch (GST_MESSAGE_TYPE(m)) {
      case GST_MESSAGE_ERROR: {
        GError *e = nullptr;
        gst_message_parse_error(m, &e, nullptr);
        ADD_FAILURE() << "error: " << e->message;
        res.error = true;
        g_error_free(e);
        done = true;
        break;
      }
      case GST_MESSAGE_WARNING: {
        GError *e = nullptr;
        gst_message_parse_warning(m, &e, nullptr);
        res.warnings.push_back(e->message);
        g_error_free(e);
        break;
      }
      case GST_MESSAGE_EOS:
        done = true;
        break;
      default:
        res.element_msgs.push_back(gst_structure_copy(gst_message_get_structure(m)));
        break;
    }
    gst_message_unref(m);
    if (done) break;
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
}

GstElement *parse(const std::string &desc) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  if (!p) ADD_FAILURE() << (err ? err->message : "parse failed") << ": " << desc;
  if (err) g_error_free(err);
  return p;
}

TEST(Ladder, KeyframesIdenticalAcrossRungsAndOnTheGrid) {
  // 24 s of moving video, faster than real time (not live: running-time anchoring).
  GstElement *p = parse(
      "videotestsrc pattern=ball num-buffers=600 ! "
      "video/x-raw,width=320,height=180,framerate=25/1 ! "
      "iptvabrladder name=l profiles=320x180@300,192x108@150,128x72@80 preset=ultrafast "
      "keyframe-interval=2 "
      "l.src_0 ! fakesink name=sink_0 l.src_1 ! fakesink name=sink_1 l.src_2 ! fakesink "
      "name=sink_2");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1", "2"});
  RunResult res;
  run_until_eos(p, res);
  auto &k0 = log.keyframes["0"];
  ASSERT_GE(k0.size(), 12u);  // 0, 2, 4, ... 22 s
  EXPECT_EQ(k0, log.keyframes["1"]);
  EXPECT_EQ(k0, log.keyframes["2"]);
  for (GstClockTime t : k0) EXPECT_EQ(t % (2 * S), 0u) << "keyframe off the grid at " << t;
  EXPECT_EQ(log.frames["0"], 600u);
  // Parsed H.264 with profile and level in the caps.
  EXPECT_NE(log.caps["0"].find("profile="), std::string::npos) << log.caps["0"];
  EXPECT_NE(log.caps["0"].find("level="), std::string::npos);
  EXPECT_NE(log.caps["0"].find("stream-format=(string)byte-stream"), std::string::npos);
  auto sel = res.named("iptvabrladder-encoder-selected");
  ASSERT_EQ(sel.size(), 3u);
  EXPECT_STREQ(gst_structure_get_string(sel[0], "encoder"), "x264enc");
  gst_object_unref(p);
}

TEST(Ladder, EpochAnchoredLaddersStartedApartCutTogether) {
  // One live source; ladder A runs from the start, ladder B joins 3 s later (as a restarted or
  // redundant encoder would). With epoch anchoring both put keyframes at the same UTC instants.
  GstElement *p = parse(
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=160,height=90,framerate=25/1 ! "
      "tee name=t allow-not-linked=true "
      "t. ! queue ! iptvabrladder name=a profiles=160x90@100 preset=ultrafast keyframe-interval=1 "
      "keyframe-anchor=epoch ! fakesink name=sink_a");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"a"});
  ASSERT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  std::this_thread::sleep_for(std::chrono::milliseconds(3300));
  GstElement *b = gst_parse_bin_from_description(
      "queue name=qb ! iptvabrladder name=b profiles=160x90@100 preset=ultrafast "
      "keyframe-interval=1 keyframe-anchor=epoch ! fakesink name=sink_b async=false",
      TRUE, nullptr);
  ASSERT_NE(b, nullptr);
  gst_bin_add(GST_BIN(p), b);
  auto ctx_b = attach(p, log, {"b"});
  GstElement *tee = gst_bin_get_by_name(GST_BIN(p), "t");
  GstPad *tp = gst_element_request_pad_simple(tee, "src_%u");
  GstPad *qsink = gst_element_get_static_pad(b, "sink");  // the bin's ghost pad
  gst_element_sync_state_with_parent(b);
  ASSERT_EQ(gst_pad_link(tp, qsink), GST_PAD_LINK_OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(4000));
  gst_element_set_state(p, GST_STATE_NULL);
  std::vector<GstClockTime> ka, kb;
  {
    std::lock_guard<std::mutex> l(log.mu);
    ka = log.keyframes["a"];
    kb = log.keyframes["b"];
  }
  ASSERT_GE(ka.size(), 6u);
  ASSERT_GE(kb.size(), 3u);
  // B's first keyframe starts its stream; every later one coincides with one of A's.
  for (size_t i = 1; i < kb.size(); ++i)
    EXPECT_NE(std::find(ka.begin(), ka.end(), kb[i]), ka.end()) << "B keyframe at " << kb[i];
  // And they are one interval apart.
  for (size_t i = 2; i < kb.size(); ++i) EXPECT_NEAR((double)(kb[i] - kb[i - 1]) / S, 1.0, 0.05);
  gst_object_unref(qsink);
  gst_object_unref(tp);
  gst_object_unref(tee);
  gst_object_unref(p);
}

TEST(Ladder, AspectRatioKeptTallerRungDroppedFrameRateCapped) {
  // A 4:3 50 fps source: 360p is taller and dropped; 120p keeps 4:3; the @25 rung halves the rate.
  GstElement *p = parse(
      "videotestsrc pattern=ball num-buffers=100 ! "
      "video/x-raw,width=320,height=240,framerate=50/1 ! "
      "iptvabrladder name=l profiles=360p-600kbps,160x120@150,160x120@100@25 preset=ultrafast "
      "l.src_0 ! fakesink name=sink_0 l.src_1 ! fakesink name=sink_1 l.src_2 ! fakesink "
      "name=sink_2");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1", "2"});
  RunResult res;
  run_until_eos(p, res);
  auto dropped = res.named("iptvabrladder-rung-dropped");
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_STREQ(gst_structure_get_string(dropped[0], "pad"), "src_0");
  EXPECT_STREQ(gst_structure_get_string(dropped[0], "profile"), "360p-600kbps");
  ASSERT_EQ(res.warnings.size(), 1u);
  EXPECT_NE(res.warnings[0].find("360p-600kbps"), std::string::npos);
  EXPECT_EQ(log.frames["0"], 0u);
  EXPECT_NE(log.caps["1"].find("width=(int)160, height=(int)120"), std::string::npos)
      << log.caps["1"];
  EXPECT_EQ(log.frames["1"], 100u);
  EXPECT_NE(log.caps["2"].find("framerate=(fraction)25/1"), std::string::npos) << log.caps["2"];
  EXPECT_NEAR((double)log.frames["2"], 50.0, 1.0);
  gst_object_unref(p);
}

TEST(Ladder, VbvRateControlHoldsTheTarget) {
  // 30 s of moving, detailed video: average within 10% of the target, no 2 s window above 1.5x.
  const double target_kbps = 300;
  GstElement *p = parse(
      "videotestsrc pattern=smpte horizontal-speed=3 num-buffers=750 ! "
      "video/x-raw,width=320,height=180,framerate=25/1 ! "
      "iptvabrladder name=l profiles=320x180@300 preset=ultrafast ! fakesink name=sink_0");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0"});
  RunResult res;
  run_until_eos(p, res);
  auto &sz = log.sizes["0"];
  ASSERT_EQ(sz.size(), 750u);
  double total_bits = 0;
  for (auto &[t, n] : sz) total_bits += n * 8.0;
  double avg_kbps = total_bits / 30.0 / 1000.0;
  EXPECT_NEAR(avg_kbps, target_kbps, target_kbps * 0.10);
  double worst = 0;
  for (size_t i = 0; i < sz.size(); ++i) {
    double bits = 0;
    for (size_t j = i; j < sz.size() && sz[j].first < sz[i].first + 2 * S; ++j)
      bits += sz[j].second * 8.0;
    if (sz.back().first >= sz[i].first + 2 * S - S / 25)
      worst = std::max(worst, bits / 2.0 / 1000.0);
  }
  EXPECT_LE(worst, 1.5 * target_kbps) << "a 2 s window peaked at " << worst << " kbit/s";
  RecordProperty("avg_kbps", std::to_string(avg_kbps));
  RecordProperty("worst_2s_kbps", std::to_string(worst));
  gst_object_unref(p);
}

// ---- encoder selection with fake hardware encoders ----

// A fake encoder element: "opens" (NULL->READY) or fails like NVENC with a full session budget.
struct FakeEncClass {
  GstElementClass parent;
};
struct FakeEnc {
  GstElement parent;
};
static bool g_fake_nv_fails = true;
static GstStateChangeReturn fake_change_state(GstElement *e, GstStateChange t) {
  GstElementFactory *f = gst_element_get_factory(e);
  if (t == GST_STATE_CHANGE_NULL_TO_READY && f && g_str_equal(GST_OBJECT_NAME(f), "nvh264enc") &&
      g_fake_nv_fails) {
    GST_ELEMENT_ERROR(e, RESOURCE, NO_SPACE_LEFT, ("out of memory (session budget full)"),
                      (nullptr));
    return GST_STATE_CHANGE_FAILURE;
  }
  return GST_ELEMENT_CLASS(g_type_class_peek_parent(G_OBJECT_GET_CLASS(e)))->change_state(e, t);
}
static void fake_class_init(gpointer klass, gpointer) {
  static GstStaticPadTemplate s =
      GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw"));
  static GstStaticPadTemplate c =
      GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-h264"));
  gst_element_class_add_static_pad_template(GST_ELEMENT_CLASS(klass), &s);
  gst_element_class_add_static_pad_template(GST_ELEMENT_CLASS(klass), &c);
  gst_element_class_set_static_metadata(GST_ELEMENT_CLASS(klass), "fake", "Codec/Encoder/Video",
                                        "fake hw encoder", "test");
  GST_ELEMENT_CLASS(klass)->change_state = fake_change_state;
}
static void fake_init(GTypeInstance *inst, gpointer) {
  GstElement *e = GST_ELEMENT(inst);
  GstElementClass *k = GST_ELEMENT_GET_CLASS(e);
  gst_element_add_pad(
      e, gst_pad_new_from_template(gst_element_class_get_pad_template(k, "sink"), "sink"));
  gst_element_add_pad(
      e, gst_pad_new_from_template(gst_element_class_get_pad_template(k, "src"), "src"));
}
static void register_fake(const char *factory) {
  GTypeInfo info = {sizeof(FakeEncClass), nullptr, nullptr,   fake_class_init, nullptr, nullptr,
                    sizeof(FakeEnc),      0,       fake_init, nullptr};
  std::string tname = std::string("TestFake_") + factory;
  GType t = g_type_from_name(tname.c_str());
  if (!t) t = g_type_register_static(GST_TYPE_ELEMENT, tname.c_str(), &info, (GTypeFlags)0);
  gst_element_register(nullptr, factory, GST_RANK_NONE, t);
}

// Brings a ladder to PAUSED with a source and returns its encoder-selected messages.
std::vector<std::string> selected_encoders(const char *props, bool *failed = nullptr,
                                           std::string *reason = nullptr) {
  GstElement *p = parse(std::string("videotestsrc is-live=true ! video/x-raw,width=160,height=90 ! "
                                    "iptvabrladder name=l profiles=160x90@100 ") +
                        props + " ! fakesink");
  GstBus *bus = gst_element_get_bus(p);
  GstStateChangeReturn r = gst_element_set_state(p, GST_STATE_PAUSED);
  if (failed) *failed = r == GST_STATE_CHANGE_FAILURE;
  std::vector<std::string> out;
  while (GstMessage *m = gst_bus_pop(bus)) {
    if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT &&
        gst_structure_has_name(gst_message_get_structure(m), "iptvabrladder-encoder-selected")) {
      out.push_back(gst_structure_get_string(gst_message_get_structure(m), "encoder"));
      if (reason)
        *reason = gst_structure_get_string(gst_message_get_structure(m), "fallback-reason");
    }
    gst_message_unref(m);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
  return out;
}

TEST(LadderEncoders, AutoPicksNvencThenVaapiThenFallsBack) {
  register_fake("nvh264enc");
  register_fake("vah264enc");
  g_fake_nv_fails = false;
  EXPECT_EQ(selected_encoders("encoder=auto"), std::vector<std::string>{"nvh264enc"});
  g_fake_nv_fails = true;  // NVENC's session budget is full: the next best is VA-API
  std::string reason;
  EXPECT_EQ(selected_encoders("encoder=auto", nullptr, &reason),
            std::vector<std::string>{"vah264enc"});
  EXPECT_NE(reason.find("nvh264enc failed to open"), std::string::npos) << reason;
  EXPECT_EQ(selected_encoders("encoder=nvenc hw-fallback=software", nullptr, &reason),
            std::vector<std::string>{"x264enc"});
  EXPECT_EQ(selected_encoders("encoder=x264"), std::vector<std::string>{"x264enc"});
}

TEST(LadderEncoders, HardwareFailureFailsClearlyUnderFail) {
  register_fake("nvh264enc");
  g_fake_nv_fails = true;
  bool failed = false;
  // Setting the profiles reports the problem at once (a WARNING); starting fails with an ERROR.
  auto got = selected_encoders("encoder=nvenc hw-fallback=fail", &failed);
  EXPECT_TRUE(failed);
  EXPECT_TRUE(got.empty());
}

TEST(LadderLive, SlowRungDropsAndNeverStallsTheOthers) {
  // Rung 1's consumer takes 150 ms per frame (slower than 25 fps); rung 0 must keep its pace.
  GstElement *p = parse(
      "videotestsrc is-live=true pattern=ball num-buffers=75 ! "
      "video/x-raw,width=160,height=90,framerate=25/1 ! "
      "iptvabrladder name=l profiles=160x90@100,128x72@80 preset=ultrafast encoder=x264 "
      "l.src_0 ! fakesink name=sink_0 sync=false "
      "l.src_1 ! identity sleep-time=150000 ! fakesink name=sink_1 sync=false");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1"});
  RunResult res;
  run_until_eos(p, res, 30 * S);
  EXPECT_GE(log.frames["0"], 74u);
  EXPECT_LT(log.frames["1"], 60u);
  GstElement *l = gst_bin_get_by_name(GST_BIN(p), "l");
  GstStructure *stats = nullptr;
  g_object_get(l, "stats", &stats, nullptr);
  ASSERT_NE(stats, nullptr);
  const GValue *rungs = gst_structure_get_value(stats, "rungs");
  ASSERT_EQ(gst_value_array_get_size(rungs), 2u);
  const GstStructure *r0 = gst_value_get_structure(gst_value_array_get_value(rungs, 0));
  const GstStructure *r1 = gst_value_get_structure(gst_value_array_get_value(rungs, 1));
  guint64 d0 = 0, d1 = 0, in1 = 0;
  gst_structure_get_uint64(r0, "frames-dropped", &d0);
  gst_structure_get_uint64(r1, "frames-dropped", &d1);
  gst_structure_get_uint64(r1, "frames-in", &in1);
  EXPECT_EQ(d0, 0u);
  EXPECT_GT(d1, 10u);
  EXPECT_EQ(in1, 75u);
  EXPECT_STREQ(gst_structure_get_string(r1, "encoder"), "x264enc");
  gst_structure_free(stats);
  gst_object_unref(l);
  gst_object_unref(p);
}

// (encoder=x264: the fake hardware encoders registered above stay in the registry.)
TEST(LadderNegotiation, FlexibleSourceGetsTheTopRungWithNoCapsFilter) {
  // videotestsrc defaults to 320x240; asked by the ladder it produces the top rung's 1080p.
  GstElement *p = parse(
      "videotestsrc num-buffers=3 ! iptvabrladder name=l profiles=1080p-6mbps,360p-600kbps "
      "encoder=x264 preset=ultrafast l.src_0 ! fakesink name=sink_0 l.src_1 ! fakesink "
      "name=sink_1");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1"});
  RunResult res;
  run_until_eos(p, res);
  EXPECT_TRUE(res.warnings.empty()) << res.warnings[0];
  EXPECT_TRUE(res.named("iptvabrladder-rung-dropped").empty());
  EXPECT_NE(log.caps["0"].find("width=(int)1920, height=(int)1080"), std::string::npos)
      << log.caps["0"];
  EXPECT_NE(log.caps["1"].find("width=(int)640, height=(int)360"), std::string::npos)
      << log.caps["1"];
  EXPECT_EQ(log.frames["0"], 3u);
  gst_object_unref(p);
}

TEST(LadderNegotiation, TopRungFrameRateAndI420AreAskedFor) {
  GstElement *p = parse(
      "videotestsrc name=src num-buffers=2 ! iptvabrladder name=l profiles=320x180@200@25 "
      "encoder=x264 preset=ultrafast ! fakesink");
  ASSERT_NE(p, nullptr);
  GstElement *src = gst_bin_get_by_name(GST_BIN(p), "src");
  ASSERT_NE(src, nullptr);
  GstPad *sp = gst_element_get_static_pad(src, "src");
  ASSERT_EQ(gst_element_set_state(p, GST_STATE_PAUSED), GST_STATE_CHANGE_ASYNC);
  ASSERT_EQ(gst_element_get_state(p, nullptr, nullptr, 60 * S), GST_STATE_CHANGE_SUCCESS);
  GstCaps *caps = gst_pad_get_current_caps(sp);
  ASSERT_NE(caps, nullptr);
  gchar *s = gst_caps_to_string(caps);
  std::string cs = s;
  g_free(s);
  EXPECT_NE(cs.find("format=(string)I420, width=(int)320, height=(int)180, "
                    "framerate=(fraction)25/1"),
            std::string::npos)
      << cs;
  gst_caps_unref(caps);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(sp);
  gst_object_unref(src);
  gst_object_unref(p);
}

TEST(LadderNegotiation, ScalerBeforeTheLadderKeepsTheSourceAspectRatio) {
  // A 4:3 source through videoscale: 1080 lines, the width from 4:3 on square pixels.
  GstElement *p = parse(
      "videotestsrc num-buffers=3 ! video/x-raw,width=640,height=480 ! videoscale ! "
      "iptvabrladder name=l profiles=1080p-6mbps,360p-600kbps encoder=x264 preset=ultrafast "
      "l.src_0 ! fakesink name=sink_0 l.src_1 ! fakesink name=sink_1");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1"});
  RunResult res;
  run_until_eos(p, res);
  EXPECT_NE(log.caps["0"].find("width=(int)1440, height=(int)1080"), std::string::npos)
      << log.caps["0"];
  EXPECT_NE(log.caps["1"].find("width=(int)480, height=(int)360"), std::string::npos)
      << log.caps["1"];
  EXPECT_EQ(log.frames["0"], 3u);
  gst_object_unref(p);
}

TEST(LadderNegotiation, FixedSizeSourceKeepsItsSizeAndDropsTallerRungs) {
  GstElement *p = parse(
      "videotestsrc num-buffers=3 ! video/x-raw,width=320,height=240 ! "
      "iptvabrladder name=l profiles=360p-600kbps,160x120@150 encoder=x264 preset=ultrafast "
      "l.src_0 ! fakesink name=sink_0 l.src_1 ! fakesink name=sink_1");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1"});
  RunResult res;
  run_until_eos(p, res);
  EXPECT_EQ(res.named("iptvabrladder-rung-dropped").size(), 1u);
  EXPECT_EQ(log.frames["1"], 3u);
  EXPECT_NE(log.caps["1"].find("width=(int)160, height=(int)120"), std::string::npos);
  gst_object_unref(p);
}

TEST(LadderNegotiation, NoRungFitsIsAnErrorNamingSourceAndSmallestRung) {
  GstElement *p = parse(
      "videotestsrc is-live=true ! video/x-raw,width=320,height=240 ! "
      "iptvabrladder name=l profiles=720p-3mbps,360p-600kbps encoder=x264 preset=ultrafast "
      "l.src_0 ! fakesink l.src_1 ! fakesink");
  ASSERT_NE(p, nullptr);
  GstBus *bus = gst_element_get_bus(p);
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 60 * S,
                                             (GstMessageType)(GST_MESSAGE_ERROR | GST_MESSAGE_EOS));
  ASSERT_NE(m, nullptr) << "neither an error nor EOS";
  ASSERT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_ERROR) << "a silent EOS";
  GError *e = nullptr;
  gst_message_parse_error(m, &e, nullptr);
  EXPECT_STREQ(GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), "l");
  EXPECT_NE(std::string(e->message).find("320x240"), std::string::npos) << e->message;
  EXPECT_NE(std::string(e->message).find("360p-600kbps"), std::string::npos) << e->message;
  g_error_free(e);
  gst_message_unref(m);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
}

TEST(LadderNegotiation, NoRungFitsExitsNonZeroUnderGstLaunch) {
  int status = 0;
  std::string out = iptv_test::sh(
      "timeout 60 gst-launch-1.0 videotestsrc num-buffers=30 ! video/x-raw,width=320,height=240 ! "
      "iptvabrladder profiles=720p-3mbps,360p-600kbps name=l l.src_0 ! fakesink "
      "l.src_1 ! fakesink 2>&1",
      &status);
  EXPECT_NE(status, 0) << out;
  EXPECT_NE(status, 124) << "gst-launch-1.0 hung: " << out;
  EXPECT_NE(out.find("No rung fits the 320x240 source: the smallest rung, 360p-600kbps"),
            std::string::npos)
      << out;
}

}  // namespace

namespace {

// CPU time (ns) spent by this process's threads named `comm` (/proc/self/task/*/schedstat: time
// on a CPU, in ns, whatever the machine's load).
guint64 threads_cpu_ns(const std::string &comm) {
  guint64 total = 0;
  GDir *dir = g_dir_open("/proc/self/task", 0, nullptr);
  if (!dir) return 0;
  while (const char *tid = g_dir_read_name(dir)) {
    std::string base = std::string("/proc/self/task/") + tid;
    gchar *name = nullptr, *sched = nullptr;
    if (g_file_get_contents((base + "/comm").c_str(), &name, nullptr, nullptr) &&
        g_file_get_contents((base + "/schedstat").c_str(), &sched, nullptr, nullptr) &&
        g_strstrip(name) == comm)
      total += g_ascii_strtoull(sched, nullptr, 10);
    g_free(name);
    g_free(sched);
  }
  g_dir_close(dir);
  return total;
}

guint64 rung_stat(GstElement *ladder, guint rung, const char *field) {
  GstStructure *stats = nullptr;
  g_object_get(ladder, "stats", &stats, nullptr);
  const GValue *rungs = gst_structure_get_value(stats, "rungs");
  guint64 v = 0;
  gst_structure_get_uint64(gst_value_get_structure(gst_value_array_get_value(rungs, rung)), field,
                           &v);
  gst_structure_free(stats);
  return v;
}

// The element upstream of `e` (its sink pad's peer's parent).
GstElement *upstream_of(GstElement *e) {
  GstPad *sink = gst_element_get_static_pad(e, "sink");
  GstPad *peer = sink ? gst_pad_get_peer(sink) : nullptr;
  GstElement *up = peer ? gst_pad_get_parent_element(peer) : nullptr;
  if (peer) gst_object_unref(peer);
  if (sink) gst_object_unref(sink);
  return up;
}

guint64 frames_of(PadLog &log, const std::string &n) {
  std::lock_guard<std::mutex> l(log.mu);
  return log.frames[n];
}

}  // namespace

TEST(LadderPause, DisabledRungEncodesNothingAndResumesOnTheGridAligned) {
  // Live, three rungs (a cascade: 1 is scaled from 0, 2 from 1). Rung 1 is paused while rung 2
  // (scaled from its picture) stays on air, then enabled again.
  GstElement *p = parse(
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=25/1 ! "
      "iptvabrladder name=l profiles=320x180@300,192x108@150,128x72@80 preset=veryfast "
      "encoder=x264 keyframe-interval=1 keyframe-anchor=running-time "
      "l.src_0 ! fakesink name=sink_0 sync=false l.src_1 ! fakesink name=sink_1 sync=false "
      "l.src_2 ! fakesink name=sink_2 sync=false");
  ASSERT_NE(p, nullptr);
  PadLog log;
  auto ctx = attach(p, log, {"0", "1", "2"});
  GstElement *l = gst_bin_get_by_name(GST_BIN(p), "l");
  // Rung 1's encoding threads: its encoder's queue thread and the x264 threads it started
  // (named after it).
  GstPad *src1 = gst_element_get_static_pad(l, "src_1");
  GstPad *target = gst_ghost_pad_get_target(GST_GHOST_PAD(src1));
  GstElement *caps1 = gst_pad_get_parent_element(target);
  GstElement *parse1 = upstream_of(caps1), *enc1 = upstream_of(parse1);
  GstElement *queue1 = upstream_of(enc1);
  ASSERT_NE(queue1, nullptr);
  gchar *qname = gst_element_get_name(queue1);
  std::string comm = std::string(qname) + ":src";
  g_free(qname);
  for (GstObject *o : {GST_OBJECT(src1), GST_OBJECT(target), GST_OBJECT(caps1), GST_OBJECT(parse1),
                       GST_OBJECT(enc1), GST_OBJECT(queue1)})
    gst_object_unref(o);
  ASSERT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
  auto wait_for = [&](const std::function<bool()> &cond, int seconds) {
    for (int i = 0; i < seconds * 20 && !cond(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return cond();
  };
  ASSERT_TRUE(wait_for([&] { return frames_of(log, "1") >= 25; }, 30));
  // On air: what rung 1's encoding costs over 2 s of input.
  guint64 cpu0 = threads_cpu_ns(comm), enc0 = rung_stat(l, 1, "frames-encoded");
  ASSERT_TRUE(wait_for([&] { return rung_stat(l, 1, "frames-encoded") >= enc0 + 50; }, 30));
  guint64 on_air = threads_cpu_ns(comm) - cpu0;
  ASSERT_GT(on_air, 0u) << "no thread named " << comm;
  // Paused: no frame reaches its encoder, no buffer leaves its pad, ~no CPU.
  g_object_set(l, "disabled-rungs", "src_1", nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  guint64 enc_paused = rung_stat(l, 1, "frames-encoded"), out_paused = frames_of(log, "1");
  guint64 cpu_paused = threads_cpu_ns(comm), in2 = frames_of(log, "2");
  // As much input as the on-air measurement had (2 s), measured by what rung 2 got meanwhile.
  ASSERT_TRUE(wait_for([&] { return frames_of(log, "2") >= in2 + 50; }, 30));
  guint64 off_air = threads_cpu_ns(comm) - cpu_paused;
  EXPECT_EQ(rung_stat(l, 1, "frames-encoded"), enc_paused);
  EXPECT_EQ(frames_of(log, "1"), out_paused);
  EXPECT_LT(off_air, on_air / 20) << "paused " << off_air << " ns against " << on_air
                                  << " ns on air";
  std::printf("rung 1 threads' CPU over 50 frames: %.2f ms on air, %.3f ms paused (%.1f%%)\n",
              on_air / 1e6, off_air / 1e6, 100.0 * off_air / on_air);
  GstClockTime last_before;
  {
    std::lock_guard<std::mutex> g(log.mu);
    ASSERT_FALSE(log.sizes["1"].empty());
    last_before = log.sizes["1"].back().first;
  }
  // Enabled again: it resumes at a keyframe on the grid, the same frame as the other rungs'.
  g_object_set(l, "disabled-rungs", "", nullptr);
  ASSERT_TRUE(wait_for([&] { return frames_of(log, "1") >= out_paused + 30; }, 30));
  gst_element_send_event(p, gst_event_new_eos());
  RunResult res;
  run_until_eos(p, res, 30 * S);
  std::lock_guard<std::mutex> g(log.mu);
  auto &sizes = log.sizes["1"];
  size_t first_after = out_paused;
  ASSERT_LT(first_after, sizes.size());
  GstClockTime resume = sizes[first_after].first;
  EXPECT_GT(resume, last_before + S) << "the pause left no gap";
  // The grid's keyframe is the first frame at or after each multiple of the interval (a live
  // source's frames sit a few ms after them): within one frame (40 ms).
  EXPECT_LT(resume % S, 40 * GST_MSECOND) << "resumed off the grid at " << resume;
  auto &k1 = log.keyframes["1"];
  std::string around;  // the buffers around the resume point: running time, size, key
  for (size_t i = first_after >= 3 ? first_after - 3 : 0; i < sizes.size() && i < first_after + 4;
       ++i)
    around += std::to_string(sizes[i].first) + ":" + std::to_string(sizes[i].second) +
              (std::find(k1.begin(), k1.end(), sizes[i].first) != k1.end() ? ":key " : " ");
  EXPECT_NE(std::find(k1.begin(), k1.end(), resume), k1.end())
      << "the first buffer after the pause is not a keyframe: " << around;
  auto &k0 = log.keyframes["0"];
  EXPECT_NE(std::find(k0.begin(), k0.end(), resume), k0.end())
      << "rung 0 has no keyframe at the resume point " << resume;
  // Every buffer after the resume point is newer: nothing left over from before the pause.
  for (size_t i = first_after; i < sizes.size(); ++i) EXPECT_GE(sizes[i].first, resume);
  // Rung 2, scaled from rung 1's picture, never paused.
  EXPECT_GT(log.frames["2"], log.frames["1"]);
  gst_object_unref(l);
  gst_object_unref(p);
}

namespace {

// Mean absolute difference of the Y, U and V planes of two I420 samples.
double plane_mad(GstSample *a, GstSample *b) {
  GstVideoInfo ia, ib;
  gst_video_info_from_caps(&ia, gst_sample_get_caps(a));
  gst_video_info_from_caps(&ib, gst_sample_get_caps(b));
  GstVideoFrame fa, fb;
  if (!gst_video_frame_map(&fa, &ia, gst_sample_get_buffer(a), GST_MAP_READ)) return 1e9;
  if (!gst_video_frame_map(&fb, &ib, gst_sample_get_buffer(b), GST_MAP_READ)) {
    gst_video_frame_unmap(&fa);
    return 1e9;
  }
  double sum = 0;
  guint64 n = 0;
  for (guint c = 0; c < 3; ++c) {
    int w = GST_VIDEO_FRAME_COMP_WIDTH(&fa, c), h = GST_VIDEO_FRAME_COMP_HEIGHT(&fa, c);
    for (int y = 0; y < h; ++y) {
      const guint8 *ra =
          GST_VIDEO_FRAME_COMP_DATA(&fa, c) + y * GST_VIDEO_FRAME_COMP_STRIDE(&fa, c);
      const guint8 *rb =
          GST_VIDEO_FRAME_COMP_DATA(&fb, c) + y * GST_VIDEO_FRAME_COMP_STRIDE(&fb, c);
      for (int x = 0; x < w; ++x, ++n) sum += std::abs((int)ra[x] - (int)rb[x]);
    }
  }
  gst_video_frame_unmap(&fa);
  gst_video_frame_unmap(&fb);
  return n ? sum / n : 1e9;
}

}  // namespace

TEST(LadderMemory, DecoderFramesWithPaddedLayoutAreEncodedAsTheyAre) {
  // A decoder's frames carry their layout (padded strides, plane offsets) in a video meta. The
  // encoder is handed a view of each frame (so the frame goes back to the decoder once x264 has
  // copied it): the view must keep that layout, or the picture comes out sheared.
  // The reference: the same (deterministic) source, raw.
  auto pull_all = [](const std::string &desc) {
    std::vector<GstSample *> got;
    GstElement *p = parse(desc);
    if (!p) return got;
    GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "out");
    g_object_set(sink, "max-buffers", 0u, nullptr);
    EXPECT_NE(gst_element_set_state(p, GST_STATE_PLAYING), GST_STATE_CHANGE_FAILURE);
    for (GstSample *s; (s = gst_app_sink_try_pull_sample(GST_APP_SINK(sink), 30 * S));)
      got.push_back(s);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(p);
    return got;
  };
  const std::string src =
      "videotestsrc pattern=smpte75 num-buffers=20 ! "
      "video/x-raw,width=320,height=180,framerate=25/1,format=I420 ! ";
  auto ins = pull_all(src + "appsink name=out sync=false");
  // Decoded straight into the ladder (nothing else downstream of the decoder, so it hands out
  // its own padded frames).
  auto outs = pull_all(src +
                       "x264enc pass=qual quantizer=12 speed-preset=ultrafast ! avdec_h264 ! "
                       "iptvabrladder profiles=320x180@4000 encoder=x264 preset=ultrafast "
                       "keyframe-anchor=running-time ! avdec_h264 ! videoconvert ! "
                       "video/x-raw,format=I420 ! appsink name=out sync=false");
  ASSERT_EQ(ins.size(), 20u);
  ASSERT_EQ(outs.size(), 20u);
  for (size_t i = 0; i < ins.size(); ++i)
    EXPECT_LT(plane_mad(ins[i], outs[i]), 6.0) << "frame " << i;
  for (GstSample *s : ins) gst_sample_unref(s);
  for (GstSample *s : outs) gst_sample_unref(s);
}
