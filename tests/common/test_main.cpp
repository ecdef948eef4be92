// Shared GoogleTest main: initialises GStreamer (when linked in) and fails the running test on any
// unexpected g_critical or g_warning. Tests that provoke one on purpose declare it with
// iptv_test::ExpectGLog.
#include <gtest/gtest.h>

#include "test_support.h"

int main(int argc, char **argv) {
  ::testing::InitGoogleTest(&argc, argv);
  iptv_test::install_glog_guard();
  iptv_test::init_gstreamer_if_linked(&argc, &argv);
  return RUN_ALL_TESTS();
}
