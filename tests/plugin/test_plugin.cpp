// The iptv plugin loads from this build (never an installed copy) and its elements survive every
// state transition: the cheap leak-and-crash check of gst-plugins' generic/states.c.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <string>

#include "test_support.h"

namespace {

const char *kElements[] = {"iptvabrladder", "iptvhlssink", "iptvgapprobe"};

TEST(Plugin, LoadsFromThisBuild) {
  GstPlugin *plugin = gst_registry_find_plugin(gst_registry_get(), "iptv");
  ASSERT_NE(plugin, nullptr) << "plugin 'iptv' not in the registry";
  std::string file = gst_plugin_get_filename(plugin);
  EXPECT_EQ(file.rfind(iptv_test::build_root(), 0), 0u)
      << "loaded " << file << ", not the copy in " << iptv_test::build_root();
  gst_object_unref(plugin);
}

class ElementStates : public ::testing::TestWithParam<const char *> {};

TEST_P(ElementStates, CyclesAllStates) {
  GstElement *e = gst_element_factory_make(GetParam(), nullptr);
  ASSERT_NE(e, nullptr) << GetParam();
  const GstState up[] = {GST_STATE_READY, GST_STATE_NULL, GST_STATE_READY, GST_STATE_NULL};
  for (GstState s : up) {
    GstStateChangeReturn r = gst_element_set_state(e, s);
    EXPECT_NE(r, GST_STATE_CHANGE_FAILURE) << GetParam() << " -> " << gst_element_state_get_name(s);
  }
  gst_object_unref(e);
}

INSTANTIATE_TEST_SUITE_P(All, ElementStates, ::testing::ValuesIn(kElements));

// Every element, configured so it can leave READY, in a pipeline (so it gets a clock and a bus)
// through NULL -> READY -> PAUSED -> PLAYING and back down, twice, with the reconfigurations
// that rebuild its insides in between. Under valgrind (scripts/memcheck, suite 'memcheck') this is
// the cheap leak check: every internal element, request pad and clock wait must be released.
const GstState kCycle[] = {GST_STATE_READY,  GST_STATE_PAUSED, GST_STATE_PLAYING,
                           GST_STATE_PAUSED, GST_STATE_READY,  GST_STATE_NULL};

// Returns how many element messages named `count` (if given) the bus got while in PLAYING (the
// pipeline flushes its bus on the way to NULL).
int cycle(GstElement *pipeline, const char *what, const char *count = nullptr) {
  int n = 0;
  for (GstState s : kCycle) {
    GstStateChangeReturn r = gst_element_set_state(pipeline, s);
    EXPECT_NE(r, GST_STATE_CHANGE_FAILURE) << what << " -> " << gst_element_state_get_name(s);
    if (s != GST_STATE_PLAYING) continue;
    g_usleep(100 * 1000);  // let clock waits fire
    GstBus *bus = gst_element_get_bus(pipeline);
    while (GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)) {
      if (count && gst_structure_has_name(gst_message_get_structure(m), count)) n++;
      gst_message_unref(m);
    }
    gst_object_unref(bus);
  }
  return n;
}

TEST(ConfiguredStates, GapProbeWatchdogArmsFiresAndStops) {
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *e = gst_element_factory_make("iptvgapprobe", nullptr);
  ASSERT_NE(e, nullptr);
  // Nothing flows: the watchdog armed at PLAYING fires within the 100 ms stay, once (a gap stays
  // open until data comes); going down unschedules it.
  g_object_set(e, "gap-threshold", 0.02, nullptr);
  gst_bin_add(GST_BIN(pipeline), e);
  EXPECT_EQ(cycle(pipeline, "iptvgapprobe", "iptvgapprobe-gap"), 1);
  EXPECT_EQ(cycle(pipeline, "iptvgapprobe (again)", "iptvgapprobe-gap"), 1);
  // A threshold longer than the stay: the wait is still pending when PLAYING ends.
  g_object_set(e, "gap-threshold", 30.0, nullptr);
  EXPECT_EQ(cycle(pipeline, "iptvgapprobe (pending wait)", "iptvgapprobe-gap"), 0);
  gst_object_unref(pipeline);
}

TEST(ConfiguredStates, AbrLadderRebuildsAndCycles) {
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *e = gst_element_factory_make("iptvabrladder", nullptr);
  ASSERT_NE(e, nullptr);
  g_object_set(e, "profiles", "180p-250kbps,160x90@100", nullptr);
  gst_bin_add(GST_BIN(pipeline), e);
  cycle(pipeline, "iptvabrladder");
  // Both rebuild the rungs (internal elements, tee request pads, ghost pads).
  g_object_set(e, "profiles", "160x90@100", nullptr);
  g_object_set(e, "preset", "ultrafast", nullptr);
  cycle(pipeline, "iptvabrladder (rebuilt)");
  EXPECT_EQ(e->numsrcpads, 1);
  gst_object_unref(pipeline);
}

TEST(ConfiguredStates, HlsSinkPadsAndCycles) {
  iptv_test::TempDir dir;
  GstElement *pipeline = gst_pipeline_new(nullptr);
  GstElement *e = gst_element_factory_make("iptvhlssink", nullptr);
  ASSERT_NE(e, nullptr);
  g_object_set(e, "location", dir.path().c_str(), "playlist-type", 2 /* vod */, "http-port", 0,
               nullptr);
  gst_util_set_object_arg(G_OBJECT(e), "sequence-mode", "counter");
  gst_bin_add(GST_BIN(pipeline), e);
  GstPad *v0 = gst_element_request_pad_simple(e, "video_%u");
  GstPad *v1 = gst_element_request_pad_simple(e, "video_%u");
  GstPad *audio = gst_element_request_pad_simple(e, "audio");
  ASSERT_TRUE(v0 && v1 && audio);
  // A sink never prerolls without data: PAUSED and PLAYING stay ASYNC, which is not a failure.
  cycle(pipeline, "iptvhlssink (2 video + audio, serving HTTP)");
  // Off the air and back (rewrites the multivariant playlist state).
  g_object_set(e, "disabled-renditions", "v1", nullptr);
  cycle(pipeline, "iptvhlssink (v1 disabled)");
  g_object_set(e, "disabled-renditions", "", nullptr);
  gst_element_release_request_pad(e, audio);
  gst_element_release_request_pad(e, v1);
  gst_object_unref(audio);
  gst_object_unref(v1);
  cycle(pipeline, "iptvhlssink (1 video)");
  // video_0 stays requested: finalize releases what is left.
  gst_object_unref(v0);
  gst_object_unref(pipeline);
}

}  // namespace
