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

}  // namespace
