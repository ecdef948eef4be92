// storage.hot_dir: a RAM-backed folder is used as is; a folder on disk is used with a warning; a
// folder that cannot be made falls back to <data>/hls with a warning naming the error.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <filesystem>
#include <fstream>

#include "daemon/archive_adapter.h"
#include "log/log.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {
struct Captured {
  iptv::log::Logger logger;
  std::string lines;
  Captured() {
    logger.set_sink([this](std::string_view l) { lines += l; });
  }
};
}  // namespace

TEST(HotRoot, DefaultIsTheDataFolderSilently) {
  Captured c;
  EXPECT_EQ(iptv::daemon::resolve_hot_root("", "/data", c.logger), "/data/hls");
  EXPECT_EQ(c.lines, "");
}

TEST(HotRoot, DiskFolderIsUsedWithAWarning) {
  iptv_test::TempDir dir;
  Captured c;
  std::string hot = dir.path() + "/hot";
  EXPECT_EQ(iptv::daemon::resolve_hot_root(hot, dir.path(), c.logger), hot);
  EXPECT_TRUE(fs::is_directory(hot));
  EXPECT_NE(c.lines.find("not RAM-backed"), std::string::npos) << c.lines;
}

TEST(HotRoot, TmpfsIsUsedSilently) {
  iptv_test::TempDir dir;
  std::string hot = dir.path() + "/hot";
  fs::create_directories(hot);
  if (::mount("tmpfs", hot.c_str(), "tmpfs", 0, "size=1m") != 0)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  Captured c;
  EXPECT_EQ(iptv::daemon::resolve_hot_root(hot, dir.path(), c.logger), hot);
  EXPECT_EQ(c.lines, "");
  ::umount2(hot.c_str(), MNT_DETACH);
}

TEST(HotRoot, UnusableFolderFallsBackToDiskWithAWarning) {
  iptv_test::TempDir dir;
  std::string file = dir.path() + "/a-file";
  std::ofstream(file) << "x";
  Captured c;
  EXPECT_EQ(iptv::daemon::resolve_hot_root(file + "/hot", dir.path(), c.logger),
            dir.path() + "/hls");
  EXPECT_NE(c.lines.find("not usable"), std::string::npos) << c.lines;
  EXPECT_NE(c.lines.find(dir.path() + "/hls"), std::string::npos) << c.lines;
}
