// Test support shared by every suite.
#pragma once

#include <glib.h>

#include <string>
#include <vector>

namespace iptv_test {

// Routes GLib logging through a writer that records warnings and criticals; a GoogleTest listener
// fails the current test if any arrived that the test did not expect.
void install_glog_guard();

// Calls gst_init when the test binary links GStreamer (weak reference), a no-op otherwise.
void init_gstreamer_if_linked(int *argc, char ***argv);

// While alive, GLib warnings/criticals whose message contains `substring` are expected: they do
// not fail the test. `count()` tells how many matched.
class ExpectGLog {
 public:
  explicit ExpectGLog(std::string substring);
  ~ExpectGLog();
  int count() const;

 private:
  size_t index_;
};

// Paths from the build (set by meson in the environment).
std::string build_root();   // IPTV_BUILD_ROOT
std::string source_root();  // IPTV_SOURCE_ROOT

// A fresh temporary directory, removed with its contents when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

// Runs `cmd` with /bin/sh and returns its standard output; `status` gets the exit code (-1 when
// it did not exit normally).
std::string sh(const std::string &cmd, int *status = nullptr);

}  // namespace iptv_test
