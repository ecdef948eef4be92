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

// Issue 19: the archived-object list is rebuilt from the bucket (ListObjectsV2, page after page)
// when the database lost it: a new node with an empty database, and a database restored from a
// backup that lacks the last rows. The restored rows play back from the bucket.
TEST(ObjectTier, RebuildsTheLostIndexFromTheBucket) {
  std::string missing = iptv_test::s3_server_missing();
  ASSERT_EQ(missing, "") << "needs " << missing;
  iptv_test::TempDir dir;
  iptv_test::S3Server s3(dir.path() + "/s3", "archive");
  ASSERT_TRUE(s3.start()) << s3.log();
  std::string hot = dir.path() + "/hls/news", warm = dir.path() + "/warm";
  Events ev;
  int64_t t0 = (now_ms() - 3 * 3600 * 1000) / 1000 * 1000;
  auto config = [&](const std::string &cache) {
    ObjectTierConfig oc;
    oc.s3.endpoint = s3.endpoint();
    oc.s3.bucket = "archive";
    oc.s3.prefix = "p/";
    oc.s3.credentials = {"S3RVER", "S3RVER"};
    oc.s3.list_page = 2;  // three pages for five objects: continuation tokens are followed
    oc.warm_keep_ms = 0;
    oc.cache_dir = cache;
    return oc;
  };
  {
    auto db = iptv::db::Db::open(dir.path() + "/old.db");
    Archiver a(*db, warm, ev.fn(), 3600);
    a.set_policy("news", {hot, 86400000, 0, 20000});
    a.start();
    for (int i = 0; i < 5; ++i) a.on_segment("news", publish(hot, i, t0));
    a.flush();
    ObjectTier tier(
        a.index(), warm, config(dir.path() + "/cache1"), [&] { return a.policies(); }, ev.fn());
    tier.run_now();
    ASSERT_EQ(tier.stats().uploaded, 5u);
    EXPECT_EQ(tier.stats().rebuilt, 0u);  // the first pass listed an empty bucket
    std::string err;
    EXPECT_EQ(tier.rebuild("news", &err), 0) << "a database that has every row gets none: " << err;
    a.stop();
  }
  // Another channel's segment and a foreign object under the channel's folder are not its rows.
  {
    std::ofstream(dir.path() + "/other") << "x";
    S3Client put(config("").s3);
    std::string day = iptv::iso8601_utc(t0, false).substr(0, 10);
    ASSERT_TRUE(put.put_file("sport/" + day + "/360p/" + std::to_string(t0) + "_2000_0.ts",
                             dir.path() + "/other")
                    .ok());
    ASSERT_TRUE(put.put_file("news/notes.txt", dir.path() + "/other").ok());
  }
  ASSERT_EQ(s3.object_count(), 7);
  // A new node: an empty database, an empty warm folder, the same bucket.
  fs::remove_all(warm);
  auto db = iptv::db::Db::open(dir.path() + "/new.db");
  Archiver b(*db, warm, ev.fn(), 3600);
  b.set_policy("news", {hot, 86400000, 0, 20000});
  b.start();
  EXPECT_EQ(b.index().extent("news").segments, 0u);
  ObjectTier tier(
      b.index(), warm, config(dir.path() + "/cache2"), [&] { return b.policies(); }, ev.fn());
  tier.run_now();
  EXPECT_EQ(tier.stats().rebuilt, 5u);
  EXPECT_EQ(tier.stats().uploaded, 0u) << "restored rows are not uploaded again";
  EXPECT_EQ(ev.count("archive.index_rebuilt"), 1);
  auto x = b.index().extent("news");
  EXPECT_EQ(x.segments, 5u);
  EXPECT_EQ(x.oldest_ms, t0);
  EXPECT_EQ(x.newest_end_ms, t0 + 5 * 2000);
  EXPECT_EQ(x.bytes, 5000u);
  auto range = b.index().range("news", "360p", t0, t0 + 10000);
  ASSERT_EQ(range.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(range[i].path, "");
    EXPECT_EQ(range[i].duration_ms, 2000);
    std::string f = tier.local_file(range[i], false);
    ASSERT_FALSE(f.empty()) << i;
    EXPECT_EQ(read_all(f), std::string(1000, 'a' + i)) << i;
  }
  tier.run_now();
  EXPECT_EQ(tier.stats().rebuilt, 5u) << "listed once per channel";
  // A database restored from an older backup: the last two rows are missing, the rest stay.
  b.index().remove({range[3], range[4]});
  EXPECT_EQ(tier.rebuild("news"), 2);
  EXPECT_EQ(b.index().extent("news").segments, 5u);
  // Retention still deletes restored rows' objects.
  b.set_removal_hook([&](const std::vector<Entry> &v) { tier.forget(v); });
  b.set_policy("news", {hot, 3600000, 0, 20000});
  b.sweep_now();
  tier.run_now();
  EXPECT_EQ(b.index().extent("news").segments, 0u);
  EXPECT_EQ(b.index().extent("sport").segments, 0u);
  EXPECT_EQ(s3.object_count(), 2);  // the foreign objects stay
  b.stop();
}
