// Low-latency HLS through Debian's nginx running docs/deploy/nginx-edge.conf as shipped (only
// ports and paths filled in), in front of the origin with EdgeAuth tokens in the path:
//   - identical blocking reloads from many viewers (each with their own token) collapse into ONE
//     origin request while the origin holds it, and every viewer gets the part once published;
//     counted at the origin (its request observer) and in nginx's access log;
//   - a different part is a different object (the query is in the cache key);
//   - the preload-hinted part asked by several viewers: one origin request, held, then served;
//   - delta updates pass through and a forged token is refused at the edge.
// The answer times of the collapsed viewers are printed (nginx polls its cache lock every
// 500 ms: docs/low-latency-origin.md).
#include <glib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ll_fixture.h"
#include "nginx_edge.h"
#include "origin/origin.h"
#include "raw_http.h"
#include "test_support.h"
#include "token/token.h"
#include "util/atomic_file.h"

namespace fs = std::filesystem;
using namespace origin_test;
using namespace ll_test;

namespace {

// Counts the origin's answered requests by path and query (what reached it through the edge).
class Counter : public iptv::RequestObserver {
 public:
  void on_request(const iptv::ObservedRequest &r) override {
    std::lock_guard<std::mutex> lock(mu_);
    seen_.push_back(std::string(r.rel) + (r.query.empty() ? "" : "?") + std::string(r.query));
  }
  int count(const std::string &needle) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<int>(std::count_if(seen_.begin(), seen_.end(), [&](const std::string &s) {
      return s.find(needle) != std::string::npos;
    }));
  }

 private:
  std::mutex mu_;
  std::vector<std::string> seen_;
};

class LlEdgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (iptv_test::sh("command -v nginx").empty()) GTEST_SKIP() << "nginx is not installed";
    dir_ = std::make_unique<iptv_test::TempDir>();
    root_ = dir_->path() + "/sport";
    fs::create_directories(root_ + "/hi");
    fs::create_directories(dir_->path() + "/nginx");
    ring_.add("k1", std::string(32, '\x5a'), true);
    iptv::OriginConfig cfg;
    cfg.mode = iptv::TokenMode::kEdgeAuth;
    cfg.keys = ring_;
    cfg.threads = 2;
    origin_ = std::make_unique<iptv::Origin>(cfg);
    std::string err;
    ASSERT_TRUE(origin_->start(&err)) << err;
    origin_->add_channel("sport", root_);
    origin_->set_observer(counter_);
    edge_ = std::make_unique<iptv_test::NginxEdge>(
        dir_->path() + "/nginx", "docs/deploy/nginx-edge.conf",
        std::map<std::string, std::string>{
            {"@ORIGIN@", "127.0.0.1:" + std::to_string(origin_->port())}});
    ASSERT_TRUE(wait_until([&] { return get_once(edge_->port(), "/", 2).status > 0; }, 10))
        << edge_->logs();
  }
  void TearDown() override {
    edge_.reset();
    if (origin_) origin_->stop();
  }
  std::string base(const std::string &session) {
    iptv::TokenClaims c;
    int64_t now = g_get_real_time() / 1000000;
    c.start = now - 5;
    c.expiry = now + 600;
    c.acl = iptv::acl_for_channel("sport");
    c.session = session;
    return "/hls/sport/" + iptv::token_to_path_segment(iptv::sign_token(c, ring_)) + "/hi/";
  }
  void publish(int64_t first, int complete, int pending, const LlOptions &o = {}) {
    int64_t msn = first + complete;
    for (int i = 0; i < pending; ++i)
      ASSERT_EQ(
          iptv::write_file_atomic(root_ + "/hi/" + stem(msn) + "." + std::to_string(i) + ".m4s",
                                  "part " + std::to_string(msn) + "." + std::to_string(i)),
          "");
    ASSERT_EQ(
        iptv::write_file_atomic(root_ + "/hi/index.m3u8", ll_playlist(first, complete, pending, o)),
        "");
  }
  // `n` viewers (their own tokens) ask `file` through the edge at once; once the origin holds
  // one request and the rest had time to queue at the edge, `release` publishes. Returns the
  // answers and their times after the release (ms).
  std::vector<std::pair<Response, double>> rush(int n, const std::string &file,
                                                const std::function<void()> &release) {
    std::vector<std::pair<Response, double>> out(n);
    std::vector<int> socks;
    for (int i = 0; i < n; ++i) {
      int s = connect_to(edge_->port(), 20);
      EXPECT_GE(s, 0);
      EXPECT_TRUE(send_get(s, base("viewer-" + std::to_string(i)) + file));
      socks.push_back(s);
    }
    EXPECT_TRUE(wait_until([&] { return origin_->stats().parked >= 1; }, 10));
    // Every viewer's auth subrequest is answered and the rest wait on the edge's cache lock.
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    EXPECT_EQ(origin_->stats().parked, 1u) << "the edge passed more than one request on";
    Clock::time_point t0 = Clock::now();
    release();
    std::vector<std::thread> readers;
    for (int i = 0; i < n; ++i)
      readers.emplace_back([&, i] {
        out[i].first = read_response(socks[i]);
        out[i].second = since(t0) * 1000;
        close(socks[i]);
      });
    for (auto &t : readers) t.join();
    return out;
  }

  std::unique_ptr<iptv_test::TempDir> dir_;
  std::string root_;
  iptv::KeyRing ring_;
  std::unique_ptr<iptv::Origin> origin_;
  std::shared_ptr<Counter> counter_ = std::make_shared<Counter>();
  std::unique_ptr<iptv_test::NginxEdge> edge_;
};

TEST_F(LlEdgeTest, IdenticalBlockingReloadsCollapseIntoOneOriginRequest) {
  publish(0, 10, 2);
  const int kViewers = 12;
  const std::string q = "_HLS_msn=10&_HLS_part=2";
  auto answers = rush(kViewers, "index.m3u8?" + q, [&] { publish(0, 10, 3); });
  std::vector<double> ms;
  for (auto &[r, t] : answers) {
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_NE(r.body.find("seg-00010.2.m4s"), std::string::npos) << r.body;
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  std::printf(
      "%d collapsed blocking reloads through nginx: first %.1f ms, median %.1f ms, "
      "max %.1f ms after the publish\n",
      kViewers, ms.front(), ms[ms.size() / 2], ms.back());
  EXPECT_EQ(counter_->count(q), 1) << "origin requests for the blocking URL";
  EXPECT_EQ(edge_->origin_fetches(q), 1) << edge_->access_log();
  EXPECT_EQ(origin_->stats().parked_answered, 1u);
  // Within the lock's poll (500 ms) plus a loaded machine's slack: not the 10 s lock timeout.
  EXPECT_LT(ms.back(), 2000.0);

  // The next part is another object: it is held again, not served from the cached answer.
  const std::string q3 = "_HLS_msn=10&_HLS_part=3";
  auto next = rush(3, "index.m3u8?" + q3, [&] { publish(0, 10, 4); });
  for (auto &[r, t] : next) EXPECT_NE(r.body.find("seg-00010.3.m4s"), std::string::npos);
  EXPECT_EQ(counter_->count(q3), 1);
  // A plain reload is not answered from a blocking answer's cache entry (and vice versa).
  Response plain = get_once(edge_->port(), base("late") + "index.m3u8");
  EXPECT_EQ(plain.status, 200);
  EXPECT_EQ(header(plain, "Cache-Control"), "max-age=1");
}

TEST_F(LlEdgeTest, PreloadHintedPartHeldThroughTheEdgeThenServedOnce) {
  publish(0, 10, 2);  // hint: seg-00010.2.m4s
  auto answers = rush(4, "seg-00010.2.m4s", [&] { publish(0, 10, 3); });
  for (auto &[r, t] : answers) {
    EXPECT_EQ(r.status, 200) << r.head;
    EXPECT_EQ(r.body, "part 10.2");
  }
  EXPECT_EQ(counter_->count("seg-00010.2.m4s"), 1);
  // Served from the edge's cache from now on (immutable).
  Response again = get_once(edge_->port(), base("late") + "seg-00010.2.m4s");
  EXPECT_EQ(again.body, "part 10.2");
  EXPECT_EQ(header(again, "X-Cache-Status"), "HIT");
  EXPECT_EQ(counter_->count("seg-00010.2.m4s"), 1);
}

TEST_F(LlEdgeTest, DeltaUpdatesPassAndForgedTokensStopAtTheEdge) {
  publish(0, 20, 1);
  Response full = get_once(edge_->port(), base("a") + "index.m3u8");
  Response delta = get_once(edge_->port(), base("b") + "index.m3u8?_HLS_skip=YES");
  ASSERT_EQ(full.status, 200);
  ASSERT_EQ(delta.status, 200);
  EXPECT_EQ(full.body.find("#EXT-X-SKIP"), std::string::npos);
  EXPECT_NE(delta.body.find("#EXT-X-SKIP:SKIPPED-SEGMENTS=14"), std::string::npos) << delta.body;
  std::string forged = base("c");
  forged[forged.size() - 5] = forged[forged.size() - 5] == '0' ? '1' : '0';
  Response r = get_once(edge_->port(), forged + "index.m3u8?_HLS_msn=20&_HLS_part=1");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(header(r, "X-Iptv-Deny"), "forged");
  EXPECT_EQ(origin_->stats().parked, 0u);
}

}  // namespace
