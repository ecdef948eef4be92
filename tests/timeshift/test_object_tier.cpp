// The archive tier's object tier (orchestrator/lib/archive/object_tier) against a real S3 server
// (s3rver): finished periods are uploaded and their warm files deleted, read-back fills a cache
// bounded by size (least recently used goes), retention deletes the objects too, and a server
// that cannot be reached raises archive.upload_failed once, keeps the warm files, and recovers.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "archive/object_tier.h"
#include "s3_server.h"
#include "test_support.h"
#include "util/strutil.h"

using namespace iptv::archive;
namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Events {
  std::mutex mu;
  std::vector<std::string> types;
  Archiver::EventFn fn() {
    return [this](const std::string &, const std::string &type, const nlohmann::json &) {
      std::lock_guard lk(mu);
      types.push_back(type);
    };
  }
  int count(const std::string &t) {
    std::lock_guard lk(mu);
    return (int)std::count(types.begin(), types.end(), t);
  }
};

iptv::wire::Segment publish(const std::string &hot, int i, int64_t t0) {
  fs::create_directories(hot + "/360p");
  std::string uri = "360p/seg-" + std::to_string(i) + ".ts";
  std::ofstream(hot + "/" + uri) << std::string(1000, 'a' + i % 26);
  iptv::wire::Segment s;
  s.rendition = "360p";
  s.sequence = i;
  s.duration = 2.0;
  s.bytes = 1000;
  s.uri = uri;
  s.pdt = iptv::iso8601_utc(t0 + i * 2000LL, true);
  return s;
}

std::string read_all(const std::string &p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(ObjectTier, UploadsEvictsReadsBackAndForgets) {
  std::string missing = iptv_test::s3_server_missing();
  ASSERT_EQ(missing, "") << "needs " << missing;
  iptv_test::TempDir dir;
  iptv_test::S3Server s3(dir.path() + "/s3", "archive");
  ASSERT_TRUE(s3.start()) << s3.log();
  std::string hot = dir.path() + "/hls/news", warm = dir.path() + "/warm";
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  Events ev;
  Archiver a(*db, warm, ev.fn(), 3600);
  a.set_policy("news", {hot, 86400000, 0, 20000});
  a.start();
  int64_t t0 = (now_ms() - 3 * 3600 * 1000) / 1000 * 1000;  // three hours ago: finished periods
  for (int i = 0; i < 6; ++i) a.on_segment("news", publish(hot, i, t0));
  a.flush();

  ObjectTierConfig oc;
  oc.s3.endpoint = s3.endpoint();
  oc.s3.bucket = "archive";
  oc.s3.prefix = "p/";
  oc.s3.credentials = {"S3RVER", "S3RVER"};
  oc.warm_keep_ms = 0;
  oc.cache_dir = dir.path() + "/cache";
  oc.cache_bytes = 2500;  // two and a half segments
  ObjectTier tier(
      a.index(), warm, oc, [&] { return a.policies(); }, ev.fn());
  a.set_removal_hook([&](const std::vector<Entry> &v) { tier.forget(v); });
  tier.run_now();
  EXPECT_EQ(tier.stats().uploaded, 6u);
  EXPECT_EQ(tier.stats().evicted, 6u);
  Entry e;
  ASSERT_TRUE(a.index().find("news", "360p", t0 + 2000, &e));
  EXPECT_EQ(e.path, "");  // only the archive holds it now
  std::string key;
  ASSERT_TRUE(a.index().object(e, &key, nullptr));
  EXPECT_EQ(s3.object("p/" + key), std::string(1000, 'b'));
  EXPECT_FALSE(fs::exists(warm + "/" + key));
  EXPECT_FALSE(fs::exists(fs::path(warm + "/" + key).parent_path()));  // emptied folders go
  // Read-back through the cache, bounded by size: the least recently used goes first.
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) {
    Entry x;
    ASSERT_TRUE(a.index().find("news", "360p", t0 + i * 2000LL, &x));
    std::string f = tier.local_file(x, false);
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(read_all(f), std::string(1000, 'a' + i));
    got.push_back(f);
  }
  EXPECT_FALSE(fs::exists(got[0]));
  EXPECT_FALSE(fs::exists(got[1]));
  EXPECT_TRUE(fs::exists(got[3]));
  EXPECT_EQ(tier.stats().fetched, 4u);
  Entry again;
  ASSERT_TRUE(a.index().find("news", "360p", t0 + 6000, &again));
  tier.local_file(again, false);
  EXPECT_EQ(tier.stats().cache_hits, 1u);
  // Retention (1 h) removes the rows and, through the tier, the objects.
  a.set_policy("news", {hot, 3600000, 0, 20000});
  a.sweep_now();
  tier.run_now();
  EXPECT_EQ(a.index().extent("news").segments, 0u);
  EXPECT_EQ(tier.stats().deleted, 6u);
  EXPECT_EQ(s3.object("p/" + key), "");
  EXPECT_EQ(s3.object_count(), 0);
  a.stop();
}

TEST(ObjectTier, AnUnreachableServerKeepsWarmFilesUntilItIsBack) {
  std::string missing = iptv_test::s3_server_missing();
  ASSERT_EQ(missing, "") << "needs " << missing;
  iptv_test::TempDir dir;
  std::string hot = dir.path() + "/hls/news", warm = dir.path() + "/warm";
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  Events ev;
  Archiver a(*db, warm, ev.fn(), 3600);
  a.set_policy("news", {hot, 86400000, 0, 20000});
  a.start();
  int64_t t0 = (now_ms() - 3 * 3600 * 1000) / 1000 * 1000;
  for (int i = 0; i < 3; ++i) a.on_segment("news", publish(hot, i, t0));
  a.flush();
  auto tier_for = [&](const std::string &endpoint) {
    ObjectTierConfig oc;
    oc.s3.endpoint = endpoint;
    oc.s3.bucket = "archive";
    oc.s3.credentials = {"S3RVER", "S3RVER"};
    oc.s3.timeout_seconds = 5;
    oc.warm_keep_ms = 0;
    oc.cache_dir = dir.path() + "/cache";
    return std::make_unique<ObjectTier>(
        a.index(), warm, oc, [&] { return a.policies(); }, ev.fn());
  };
  int port = iptv_test::free_port();  // nothing listens there
  auto down = tier_for("http://127.0.0.1:" + std::to_string(port));
  down->run_now();
  down->run_now();
  EXPECT_EQ(ev.count("archive.upload_failed"), 1);
  EXPECT_EQ(down->stats().uploaded, 0u);
  Entry e;
  ASSERT_TRUE(a.index().find("news", "360p", t0, &e));
  EXPECT_TRUE(fs::exists(e.path)) << "a segment not uploaded stays warm";
  // With the server up, the next pass uploads what stayed warm.
  iptv_test::S3Server s3(dir.path() + "/s3", "archive");
  ASSERT_TRUE(s3.start()) << s3.log();
  auto up = tier_for(s3.endpoint());
  up->run_now();
  EXPECT_EQ(up->stats().uploaded, 3u);
  EXPECT_EQ(s3.object_count(), 3);
  a.stop();
}
