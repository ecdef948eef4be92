// A full disk under a real iptvd: small tmpfs mounts (size=) for the hot and the warm folder,
// filled by the test. The channel goes `degraded` with a reason naming the full tier and an event
// (archive.write_failed with disk_full, or the worker's disk-full probe), the live playlist stays
// whole (and, for the warm tier, keeps advancing), and freeing space brings it back to `live`.
// Mounting needs root (CAP_SYS_ADMIN): elsewhere the tests are skipped, saying so.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "iptvd_fixture.h"
#include "test_support.h"
#include "util/strutil.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

struct Tmpfs {
  std::string path, error;
  Tmpfs(std::string p, const std::string &size) : path(std::move(p)) {
    fs::create_directories(path);
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) != 0)
      error = std::strerror(errno);
  }
  ~Tmpfs() {
    if (error.empty()) ::umount2(path.c_str(), MNT_DETACH);
  }
};

// Fills the filesystem of `dir` until a write fails with ENOSPC; returns the filler's path.
std::string fill(const std::string &dir) {
  std::string p = dir + "/filler";
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::string block(16384, 'x');
  while (fd >= 0 && ::write(fd, block.data(), block.size()) > 0) {
  }
  for (int i = 0; fd >= 0 && i < 64 && ::write(fd, block.data(), 512) > 0; i++) {
  }
  if (fd >= 0) ::close(fd);
  return p;
}

// The playlist is whole: a header, and every EXTINF followed by a URI line.
bool whole(const std::string &text) {
  if (text.rfind("#EXTM3U", 0) != 0 || text.empty() || text.back() != '\n') return false;
  auto lines = iptv::split(text, '\n');
  for (size_t i = 0; i < lines.size(); i++)
    if (lines[i].rfind("#EXTINF:", 0) == 0 && (i + 1 >= lines.size() || lines[i + 1][0] == '#'))
      return false;
  return true;
}

std::string state_of(Iptvd &d, const std::string &id, std::string *reason) {
  auto j = d.channel(id);
  *reason = j.value("reason", std::string());
  return j.value("state", std::string());
}

// The media playlist as a viewer gets it (the fixture's playlist() reads <data>/hls, and this
// channel's live window is in the hot folder).
std::string served(Iptvd &d, const std::string &id) {
  return d.get("/hls/" + id + "/180p/index.m3u8").body;
}

}  // namespace

TEST(StorageFull, AFullWarmTierDegradesTheChannelAndTheLiveWindowGoesOn) {
  iptv_test::TempDir state;
  Tmpfs warm(state.path() + "/warm", "1m");
  if (!warm.error.empty()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << warm.error;
  iptv_test::TempDir dir;
  write_file(dir.path() + "/news.yaml",
             channel_yaml("news",
                          "access:\n  account_required: false\n"
                          "rights: {owner: Test, licence: T-1, catchup_days: 2}\n"
                          "catchup: {days: 1}\n"));
  write_file(state.path() + "/iptvd.yaml", "tokens:\n  mode: none\nstorage:\n  warm_dir: " +
                                               warm.path + "\n  sweep_seconds: 1\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"news"}, 60, 2)) << d.log();
  std::string filler = fill(warm.path);
  std::string reason;
  ASSERT_TRUE(wait_for(60, [&] { return state_of(d, "news", &reason) == "degraded"; }))
      << reason << d.log();
  EXPECT_NE(reason.find("disk full: warm tier"), std::string::npos) << reason;
  EXPECT_NE(reason.find(std::strerror(ENOSPC)), std::string::npos) << reason;
  EXPECT_NE(d.sql("SELECT detail FROM st_events WHERE channel_id='news' AND "
                  "event_type='archive.write_failed'")
                .find("\"disk_full\":true"),
            std::string::npos);
  // The live window goes on, whole, while the warm tier is full; no partial copy is left.
  auto before = parse_media(d.playlist("news", "180p"));
  ASSERT_TRUE(wait_for(30, [&] {
    auto now = parse_media(d.playlist("news", "180p"));
    return now.media_sequence >= before.media_sequence + 3;
  }));
  EXPECT_TRUE(whole(d.playlist("news", "180p")));
  EXPECT_EQ(state_of(d, "news", &reason), "degraded") << reason;
  for (auto &f : fs::recursive_directory_iterator(warm.path))
    EXPECT_EQ(f.path().string().find(".part"), std::string::npos) << f.path();
  // Space again: the next copy succeeds, archive.recovered, and the channel is live.
  fs::remove(filler);
  ASSERT_TRUE(wait_for(60, [&] { return state_of(d, "news", &reason) == "live"; }))
      << reason << d.log();
  EXPECT_NE(d.sql("SELECT count(*) FROM st_events WHERE channel_id='news' AND "
                  "event_type='archive.recovered'"),
            "0\n");
}

// The hot folder fills up under a running channel (TS or fMP4 output): degraded with the reason,
// every playlist read whole and every segment it lists served, the worker rides it out, and
// freeing space brings the channel back to live.
void hot_folder_full(const std::string &format_yaml) {
  iptv_test::TempDir state;
  Tmpfs hot(state.path() + "/hot", "4m");
  if (!hot.error.empty()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root): " << hot.error;
  SCOPED_TRACE(format_yaml.empty() ? "ts" : "fmp4");
  iptv_test::TempDir dir;
  write_file(dir.path() + "/cmaf.yaml",
             channel_yaml("cmaf", format_yaml + "access:\n  account_required: false\n"));
  write_file(state.path() + "/iptvd.yaml",
             "tokens:\n  mode: none\nstorage:\n  hot_dir: " + hot.path + "\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(wait_for(60, [&] {
    return d.state("cmaf") == "live" && parse_media(served(d, "cmaf")).sequences.size() >= 2;
  })) << d.log();
  pid_t worker = d.worker_pid("cmaf");
  std::string filler = fill(hot.path);
  std::string reason;
  ASSERT_TRUE(wait_for(60, [&] { return state_of(d, "cmaf", &reason) == "degraded"; }))
      << reason << d.log();
  EXPECT_NE(reason.find("hot tier (live window)"), std::string::npos) << reason;
  EXPECT_NE(reason.find(std::strerror(ENOSPC)), std::string::npos) << reason;
  EXPECT_NE(d.sql("SELECT detail FROM st_events WHERE channel_id='cmaf' AND "
                  "event_type='probe.condition.raised'")
                .find("disk-full"),
            std::string::npos);
  // While full: every playlist read is whole and every segment it lists is there.
  for (int i = 0; i < 5; i++) {
    std::string text = served(d, "cmaf");
    ASSERT_TRUE(whole(text)) << text;
    for (auto &line : iptv::split(text, '\n'))
      if (!line.empty() && line[0] != '#') {
        EXPECT_EQ(d.get("/hls/cmaf/180p/" + line).status, 200) << line;
      }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  EXPECT_EQ(d.worker_pid("cmaf"), worker) << "the worker should ride the full disk out";
  // Space again: segments are written again and the channel is live.
  fs::remove(filler);
  ASSERT_TRUE(wait_for(60, [&] { return state_of(d, "cmaf", &reason) == "live"; }))
      << reason << d.log();
  EXPECT_NE(d.sql("SELECT detail FROM st_events WHERE channel_id='cmaf' AND "
                  "event_type='probe.condition.cleared'")
                .find("disk-full"),
            std::string::npos);
}

TEST(StorageFull, AFullHotFolderDegradesAFmp4ChannelAndNoPlaylistIsLeftTorn) {
  hot_folder_full("  segment_format: fmp4\n");
}

TEST(StorageFull, AFullHotFolderDegradesATsChannelAndNoPlaylistIsLeftTorn) {
  hot_folder_full("");
}
