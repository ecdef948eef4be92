// core/util: string helpers and atomic file replacement.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <atomic>
#include <thread>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace {

TEST(StrUtil, SplitTrimsAndSkipsEmpty) {
  EXPECT_EQ(iptv::split(" a, b ,,c ", ','), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(iptv::split("a,,b", ',', false), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(iptv::split("", ',').empty());
}

TEST(StrUtil, EditDistanceAndNearest) {
  EXPECT_EQ(iptv::edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(iptv::edit_distance("", "abc"), 3u);
  std::vector<std::string> keys = {"channel_id", "status", "profiles", "failover"};
  EXPECT_EQ(iptv::nearest("profils", keys), "profiles");
  EXPECT_EQ(iptv::nearest("chanel_id", keys), "channel_id");
  EXPECT_EQ(iptv::nearest("zzzzzz", keys), "");
}

TEST(AtomicFile, ReplacesWholeFileAndLeavesNoTemp) {
  iptv_test::TempDir dir;
  std::string path = dir.path() + "/index.m3u8";
  ASSERT_EQ(iptv::write_file_atomic(path, "one"), "");
  ASSERT_EQ(iptv::write_file_atomic(path, "two-two", true), "");
  std::string got;
  ASSERT_TRUE(iptv::read_file(path, got));
  EXPECT_EQ(got, "two-two");
  size_t files = 0;
  for (auto &e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1u);
}

TEST(AtomicFile, ReaderNeverSeesTornFile) {
  iptv_test::TempDir dir;
  std::string path = dir.path() + "/p.m3u8";
  std::string a(64 * 1024, 'a'), b(64 * 1024, 'b');
  ASSERT_EQ(iptv::write_file_atomic(path, a), "");
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) iptv::write_file_atomic(path, i % 2 ? a : b);
    stop = true;
  });
  int torn = 0, reads = 0;
  while (!stop) {
    std::string got;
    if (!iptv::read_file(path, got)) continue;
    ++reads;
    if (!(got == a || got == b)) ++torn;
  }
  writer.join();
  EXPECT_GT(reads, 0);
  EXPECT_EQ(torn, 0);
}

TEST(AtomicFile, ErrorNamesThePath) {
  std::string err = iptv::write_file_atomic("/nonexistent-dir/x/index.m3u8", "x");
  EXPECT_NE(err.find("/nonexistent-dir/x/index.m3u8"), std::string::npos) << err;
}

}  // namespace

namespace {

// Run only by GLogGuard.FailsTestOnUnexpectedWarning, in a child process.
TEST(GLogGuard, DISABLED_EmitsUnexpectedWarning) {
  g_warning("deliberate warning from a test");
}

TEST(GLogGuard, ExpectedWarningDoesNotFail) {
  iptv_test::ExpectGLog expect("deliberate expected warning");
  g_warning("deliberate expected warning");
  EXPECT_EQ(expect.count(), 1);
}

TEST(GLogGuard, FailsTestOnUnexpectedWarning) {
  std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::string cmd = self +
                    " --gtest_also_run_disabled_tests"
                    " --gtest_filter=GLogGuard.DISABLED_EmitsUnexpectedWarning >/dev/null 2>&1";
  int status = std::system(cmd.c_str());
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0) << "a g_warning inside a test must fail it";
}

}  // namespace

TEST(Strutil, Iso8601Utc) {
  EXPECT_EQ(iptv::iso8601_utc(1795978583123, true), "2026-11-29T18:56:23.123Z");
  EXPECT_EQ(iptv::iso8601_utc(1795978583123, false), "2026-11-29T18:56:23Z");
  EXPECT_EQ(iptv::iso8601_utc(0, true), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(iptv::iso8601_utc(-1, true), "1969-12-31T23:59:59.999Z");
}
