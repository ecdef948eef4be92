// orchestrator/lib/archive: the warm tier's index against a real SQLite file: idempotent adds,
// range queries, retention order (never the live window), re-index from disk after a restart.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "archive/archive_index.h"
#include "test_support.h"

using namespace iptv::archive;
namespace fs = std::filesystem;

namespace {

constexpr int64_t kT0 = 1796668000000;  // 2026-12-07T18:26:40Z

Entry seg(const std::string &ch, const std::string &r, int i, uint64_t bytes = 1000) {
  Entry e;
  e.channel = ch;
  e.rendition = r;
  e.start_ms = kT0 + i * 2000LL;
  e.duration_ms = 2000;
  e.path = "/hot/" + ch + "/" + r + "/" + std::to_string(i) + ".ts";
  e.bytes = bytes;
  return e;
}

}  // namespace

TEST(ArchiveIndex, AddIsIdempotentAndRangesOverlap) {
  iptv_test::TempDir dir;
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  ArchiveIndex idx(*db);
  std::vector<Entry> batch;
  for (int i = 0; i < 50; ++i) batch.push_back(seg("news", "360p", i));
  for (int i = 0; i < 50; ++i) batch.push_back(seg("news", "180p", i));
  idx.add(batch);
  idx.add(batch);  // a repeated report changes nothing
  auto x = idx.extent("news");
  EXPECT_EQ(x.segments, 100u);
  EXPECT_EQ(x.oldest_ms, kT0);
  EXPECT_EQ(x.newest_end_ms, kT0 + 100000);
  // 11 s .. 21 s: the segments starting at 10 .. 20 (holding both ends), of one rendition.
  auto r = idx.range("news", "360p", kT0 + 11000, kT0 + 21000);
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r.front().start_ms, kT0 + 10000);
  EXPECT_EQ(r.back().start_ms, kT0 + 20000);
  EXPECT_EQ(idx.range("news", "360p", kT0 + 11000, 0).size(), 45u);  // open: up to the newest
  EXPECT_TRUE(idx.range("sports", "360p", kT0, kT0 + 10000).empty());
  Entry e;
  ASSERT_TRUE(idx.find("news", "180p", kT0 + 4000, &e));
  EXPECT_EQ(e.path, "/hot/news/180p/2.ts");
  EXPECT_FALSE(idx.find("news", "180p", kT0 + 4001, &e));
  // A tier move changes the path only.
  EXPECT_TRUE(idx.set_path("news", "180p", kT0 + 4000, "/warm/x.ts"));
  ASSERT_TRUE(idx.find("news", "180p", kT0 + 4000, &e));
  EXPECT_EQ(e.path, "/warm/x.ts");
  EXPECT_FALSE(idx.set_path("news", "180p", kT0 + 4001, "/warm/y.ts"));
}

TEST(ArchiveIndex, RefusesImpossibleDurationsWithoutPartialWrites) {
  iptv_test::TempDir dir;
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  ArchiveIndex idx(*db);
  std::vector<Entry> batch = {seg("news", "360p", 0), seg("news", "360p", 1)};
  batch[1].duration_ms = 0;
  EXPECT_THROW(idx.add(batch), iptv::db::Error);
  EXPECT_EQ(idx.extent("news").segments, 0u);  // the good row rolled back with the bad one
}

TEST(ArchiveIndex, RetentionTakesOldestFirstAndNeverTheLiveWindow) {
  iptv_test::TempDir dir;
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  ArchiveIndex idx(*db);
  std::vector<Entry> batch;
  for (int i = 0; i < 20; ++i) batch.push_back(seg("news", "360p", i, 1000));
  idx.add(batch);
  const int64_t live_from = kT0 + 30000;  // segments 15..19 are the live window
  // Age: everything before segment 5 has expired.
  auto v = idx.retention_victims("news", kT0 + 10000, 0, live_from);
  ASSERT_EQ(v.size(), 5u);
  EXPECT_EQ(v.front().start_ms, kT0);
  EXPECT_EQ(v.back().start_ms, kT0 + 8000);
  // Size cap 12 KB of 20 KB: the 8 oldest go, oldest first.
  v = idx.retention_victims("news", 0, 12000, live_from);
  ASSERT_EQ(v.size(), 8u);
  EXPECT_EQ(v.front().start_ms, kT0);
  // A cap below the live window's size still never touches the live window.
  v = idx.retention_victims("news", kT0 + 1000000, 1, live_from);
  ASSERT_EQ(v.size(), 15u);
  for (auto &e : v) EXPECT_LT(e.start_ms, live_from);
  idx.remove(v);
  EXPECT_EQ(idx.extent("news").segments, 5u);
  EXPECT_EQ(idx.extent("news").oldest_ms, live_from);
}

TEST(ArchiveIndex, WarmPathsRoundTripAndRefuseForeignFiles) {
  Entry e = seg("news", "360p", 3);
  e.discontinuity_sequence = 2;
  std::string rel = warm_relpath(e, "ts");
  EXPECT_EQ(rel, "news/2026-12-07/360p/1796668006000_2000_2.ts");
  Entry back;
  ASSERT_TRUE(parse_warm_relpath(rel, &back));
  EXPECT_EQ(back.start_ms, e.start_ms);
  EXPECT_EQ(back.duration_ms, 2000);
  EXPECT_EQ(back.discontinuity_sequence, 2);
  for (const char *bad :
       {"news/2026-12-08/360p/1796668006000_2000_2.ts",  // wrong day folder
        "news/2026-12-07/360p/1796668006000_2000.ts",
        "news/2026-12-07/360p/17966680060x0_2000_2.ts", "news/2026-12-07/360p/1796668006000_0_2.ts",
        "news/2026-12-07/1796668006000_2000_2.ts", "news/2026-12-07/360p/init.mp4"})
    EXPECT_FALSE(parse_warm_relpath(bad, &back)) << bad;
}

TEST(ArchiveIndex, ReindexRebuildsFromDiskAfterALostDatabase) {
  iptv_test::TempDir dir;
  std::string warm = dir.path() + "/warm";
  std::vector<Entry> written;
  for (int i = 0; i < 12; ++i) {
    Entry e = seg("news", i % 2 ? "360p" : "180p", i, 0);
    fs::path p = fs::path(warm) / warm_relpath(e, "ts");
    fs::create_directories(p.parent_path());
    std::ofstream(p) << std::string(100 + i, 'x');
    e.path = p.string();
    e.bytes = 100 + i;
    written.push_back(e);
  }
  std::ofstream(fs::path(warm) / "news" / "stray.txt") << "not a segment";
  {
    auto db = iptv::db::Db::open(dir.path() + "/state.db");
    ArchiveIndex idx(*db);
    auto [added, dropped] = idx.reindex("news", warm);
    EXPECT_EQ(added, 12);
    EXPECT_EQ(dropped, 0);
    EXPECT_EQ(idx.extent("news").bytes, uint64_t(12 * 100 + 66));
    // A second pass finds nothing new.
    EXPECT_EQ(idx.reindex("news", warm), std::make_pair(0, 0));
  }
  // The database is lost; a fresh one is rebuilt from the files alone.
  fs::remove(dir.path() + "/state.db");
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  ArchiveIndex idx(*db);
  EXPECT_EQ(idx.reindex("news", warm).first, 12);
  auto r = idx.range("news", "360p", kT0, kT0 + 24000);
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].path, written[1].path);
  // A file deleted behind the index's back is dropped on the next pass.
  fs::remove(written[1].path);
  EXPECT_EQ(idx.reindex("news", warm), std::make_pair(0, 1));
  EXPECT_EQ(idx.range("news", "360p", kT0, kT0 + 24000).size(), 5u);
}
