// bench/archive: the catch-up index at full size. Fills a real SQLite file with 7 days of 2 s
// segments for 3 renditions (907,200 rows), then times, over many random ranges:
//   - the index query for a 2-hour catch-up playlist of one rendition (target: <= 10 ms),
//   - rendering that playlist (core/timeshift),
//   - the same for a 10-minute and a 24-hour range,
//   - one segment lookup by time (what the origin does per archived segment request).
// Prints a Markdown table of medians and p95s (ms).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "archive/archive_index.h"
#include "timeshift/catchup.h"

using namespace iptv;
using Clock = std::chrono::steady_clock;

static double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

static std::pair<double, double> stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v[v.size() / 2], v[std::min(v.size() - 1, v.size() * 95 / 100)]};
}

int main(int argc, char **argv) {
  std::string dir = argc > 1 ? argv[1] : "/tmp/bench-archive";
  int reps = argc > 2 ? std::atoi(argv[2]) : 200;
  std::filesystem::create_directories(dir);
  std::filesystem::remove(dir + "/state.db");
  auto db = db::Db::open(dir + "/state.db");
  archive::ArchiveIndex idx(*db);
  const int64_t t0 = 1796000000000, seg_ms = 2000, days = 7;
  const int64_t n = days * 86400000 / seg_ms;
  const char *renditions[] = {"1080p", "720p", "360p"};
  auto fill0 = Clock::now();
  for (const char *r : renditions) {
    std::vector<archive::Entry> batch;
    batch.reserve(10000);
    for (int64_t i = 0; i < n; ++i) {
      archive::Entry e;
      e.channel = "news";
      e.rendition = r;
      e.start_ms = t0 + i * seg_ms;
      e.duration_ms = seg_ms;
      e.bytes = 1250000;
      e.path = dir + "/warm/news/" + std::to_string(e.start_ms) + ".ts";
      batch.push_back(std::move(e));
      if (batch.size() == 10000) {
        idx.add(batch);
        batch.clear();
      }
    }
    idx.add(batch);
  }
  double fill_s = ms_since(fill0) / 1000;
  std::mt19937_64 rng(42);
  std::printf("| query over 7 days x 3 renditions (%lld rows) | segments | median ms | p95 ms |\n",
              (long long)(n * 3));
  std::printf("| --- | --- | --- | --- |\n");
  for (int64_t span_min : {10, 120, 1440}) {
    std::vector<double> q, rend;
    size_t segs = 0;
    std::uniform_int_distribution<int64_t> pick(t0, t0 + days * 86400000 - span_min * 60000);
    for (int k = 0; k < reps; ++k) {
      int64_t a = pick(rng), b = a + span_min * 60000;
      auto t = Clock::now();
      auto rows = idx.range("news", renditions[k % 3], a, b);
      q.push_back(ms_since(t));
      t = Clock::now();
      std::vector<timeshift::ArchivedSegment> v;
      v.reserve(rows.size());
      for (auto &e : rows) v.push_back(e.segment());
      timeshift::CatchupRequest req;
      req.start_ms = a;
      req.end_ms = b;
      req.uri_for = [](const timeshift::ArchivedSegment &s) {
        return "archive/" + std::to_string(s.start_ms) + ".ts";
      };
      auto pl = timeshift::render_catchup(v, req);
      rend.push_back(ms_since(t));
      segs = pl.segments;
    }
    auto [qm, qp] = stats(q);
    auto [rm, rp] = stats(rend);
    std::printf("| index query, %lld min range | %zu | %.2f | %.2f |\n", (long long)span_min, segs,
                qm, qp);
    std::printf("| playlist render, %lld min range | %zu | %.2f | %.2f |\n", (long long)span_min,
                segs, rm, rp);
  }
  std::vector<double> f;
  std::uniform_int_distribution<int64_t> seg(0, n - 1);
  for (int k = 0; k < reps * 10; ++k) {
    archive::Entry e;
    auto t = Clock::now();
    idx.find("news", "720p", t0 + seg(rng) * seg_ms, &e);
    f.push_back(ms_since(t));
  }
  auto [fm, fp] = stats(f);
  std::printf("| one segment lookup by time | 1 | %.3f | %.3f |\n", fm, fp);
  std::printf("\nIndex filled in %.1f s; database %.1f MB.\n", fill_s,
              std::filesystem::file_size(dir + "/state.db") / 1e6);
  return 0;
}
