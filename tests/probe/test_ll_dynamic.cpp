// The probe's dynamic low-latency rules (orchestrator/lib/probe/ll_dynamic.h):
//   - check_delta passes the origin's own delta updates and fails each broken one by its rule;
//   - judge_blocking draws the PART-TARGET line;
//   - check_ll_dynamic against the real origin fed with a part every 0.5 s: no issue, every
//     blocking reload answered well within a part target; against a server that answers
//     blocking reloads 0.8 s after the part is there (a libsoup server in this test): ll-blocking-
//     late.
#include <glib.h>
#include <gtest/gtest.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include "../origin/ll_fixture.h"
#include "origin/ll_playlist.h"
#include "origin/origin.h"
#include "probe/ll_dynamic.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace fs = std::filesystem;
using namespace ll_test;

namespace {

bool has_rule(const std::vector<iptv::probe::Issue> &v, const std::string &rule) {
  for (const auto &i : v)
    if (i.rule == rule) return true;
  return false;
}

std::string delta_of(const std::string &full) {
  auto d = iptv::delta_update(full, iptv::scan_media_playlist(full), false, {});
  return d ? *d : "";
}

TEST(LlDelta, TheOriginsDeltaAgreesAndEachBreakageIsNamed) {
  std::string full = ll_playlist(100, 20, 2);
  std::string good = delta_of(full);
  ASSERT_FALSE(good.empty());
  EXPECT_TRUE(iptv::probe::check_delta(full, good).empty());
  auto replace = [](std::string s, const std::string &a, const std::string &b) {
    size_t at = s.find(a);
    if (at != std::string::npos) s.replace(at, a.size(), b);
    return s;
  };
  // The skip count off by one: the remaining segments no longer line up.
  EXPECT_TRUE(has_rule(
      iptv::probe::check_delta(full, replace(good, "SKIPPED-SEGMENTS=14", "SKIPPED-SEGMENTS=13")),
      "ll-delta-mismatch"));
  // A wrong media sequence.
  EXPECT_TRUE(has_rule(
      iptv::probe::check_delta(full, replace(good, "MEDIA-SEQUENCE:100", "MEDIA-SEQUENCE:101")),
      "ll-delta-mismatch"));
  // A segment of the delta not the full one's.
  EXPECT_TRUE(
      has_rule(iptv::probe::check_delta(full, replace(good, "seg-00118.m4s\n", "seg-00999.m4s\n")),
               "ll-delta-mismatch"));
  // A different preload hint.
  EXPECT_TRUE(has_rule(
      iptv::probe::check_delta(full, replace(good, "seg-00120.2.m4s\"", "seg-00120.3.m4s\"")),
      "ll-delta-mismatch"));
  // Skipping inside CAN-SKIP-UNTIL: one more segment skipped and dropped from the list.
  std::string deeper = replace(good, "SKIPPED-SEGMENTS=14", "SKIPPED-SEGMENTS=15");
  size_t first = deeper.find("#EXTINF:");
  size_t after = deeper.find(".m4s\n", first) + 5;
  // (the parts of segment 114 are listed before it; dropping its EXTINF and URI lines only)
  deeper.erase(first, after - first);
  auto issues = iptv::probe::check_delta(full, deeper);
  EXPECT_TRUE(has_rule(issues, "ll-delta-boundary"));
  // Asked for a delta, given the full playlist although 14 segments are old enough.
  EXPECT_TRUE(has_rule(iptv::probe::check_delta(full, full), "ll-delta-boundary"));
  // A playlist with nothing old enough: the full one is the right answer.
  std::string young = ll_playlist(0, 5, 1);
  EXPECT_TRUE(iptv::probe::check_delta(young, young).empty());
}

TEST(LlBlocking, JudgedAgainstOnePartTarget) {
  EXPECT_FALSE(iptv::probe::judge_blocking(1400, 1000, 0.5));
  EXPECT_FALSE(iptv::probe::judge_blocking(1000, 1200, 0.5));  // answered before a poll saw it
  EXPECT_FALSE(iptv::probe::judge_blocking(1000, std::nullopt, 0.5));
  auto late = iptv::probe::judge_blocking(1600, 1000, 0.5);
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->rule, "ll-blocking-late");
}

// A live low-latency publisher: a part every 0.5 s (4 per 2 s segment), files then playlist.
class Publisher {
 public:
  explicit Publisher(std::function<void(int64_t, int, int)> publish) : publish_(publish) {
    thread_ = std::thread([this] {
      int complete = 20, pending = 0;
      while (!stop_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        if (++pending == 4) {
          pending = 0;
          ++complete;
        }
        publish_(0, complete, pending);
      }
    });
  }
  ~Publisher() {
    stop_ = true;
    thread_.join();
  }

 private:
  std::function<void(int64_t, int, int)> publish_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(LlDynamic, TheOriginPassesBothRules) {
  iptv_test::TempDir dir;
  std::string root = dir.path() + "/sport";
  fs::create_directories(root);
  auto publish = [&](int64_t first, int complete, int pending) {
    int64_t msn = first + complete;
    for (int i = 0; i < pending; ++i)
      iptv::write_file_atomic(root + "/" + stem(msn) + "." + std::to_string(i) + ".m4s", "p");
    iptv::write_file_atomic(root + "/index.m3u8", ll_playlist(first, complete, pending));
  };
  publish(0, 20, 0);
  iptv::OriginConfig cfg;
  cfg.threads = 1;
  iptv::Origin origin(cfg);
  std::string err;
  ASSERT_TRUE(origin.start(&err)) << err;
  origin.add_channel("sport", root);
  Publisher pub(publish);
  iptv::probe::LlDynamicOptions o;
  o.rounds = 6;
  o.max_s = 30;
  auto res = iptv::probe::check_ll_dynamic(
      "http://127.0.0.1:" + std::to_string(origin.port()) + "/hls/sport/index.m3u8", o);
  EXPECT_TRUE(res.low_latency);
  EXPECT_EQ(res.deltas_checked, 1);
  for (const auto &i : res.issues) ADD_FAILURE() << i.rule << ": " << i.message;
  EXPECT_GE(res.lag_ms.size(), 3u);
  for (double l : res.lag_ms) EXPECT_LT(l, 500.0);
  // Mostly negative: the blocking answer beats the poller, which sees the part up to 50 ms on.
  std::vector<double> lag = res.lag_ms;
  std::sort(lag.begin(), lag.end());
  EXPECT_LT(lag[lag.size() / 2], 100.0);
}

// A server that holds a blocking reload until its part is there, then 0.8 s more.
class SlowServer {
 public:
  SlowServer() {
    ctx_ = g_main_context_new();
    std::promise<void> up;
    thread_ = std::thread([this, &up] {
      g_main_context_push_thread_default(ctx_);
      server_ = soup_server_new(nullptr, nullptr);
      soup_server_add_handler(server_, "/", handler, this, nullptr);
      soup_server_listen_local(server_, 0, SOUP_SERVER_LISTEN_IPV4_ONLY, nullptr);
      GSList *uris = soup_server_get_uris(server_);
      port_ = g_uri_get_port(static_cast<GUri *>(uris->data));
      g_slist_free_full(uris, (GDestroyNotify)g_uri_unref);
      loop_ = g_main_loop_new(ctx_, FALSE);
      up.set_value();
      g_main_loop_run(loop_);
      soup_server_disconnect(server_);
      g_object_unref(server_);
      g_main_loop_unref(loop_);
      g_main_context_pop_thread_default(ctx_);
    });
    up.get_future().wait();
  }
  ~SlowServer() {
    g_main_context_invoke(
        ctx_,
        [](gpointer d) -> gboolean {
          g_main_loop_quit(static_cast<GMainLoop *>(d));
          return G_SOURCE_REMOVE;
        },
        loop_);
    thread_.join();
    g_main_context_unref(ctx_);
  }
  void set(std::string text) {
    std::lock_guard<std::mutex> lock(mu_);
    text_ = std::move(text);
  }
  int port() const { return port_; }

 private:
  struct Held {
    SlowServer *self;
    SoupServerMessage *msg;
    int64_t msn, part;
    bool ready = false;
  };
  std::string text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }
  // A timeout on this thread's context (the server's).
  static void after(unsigned ms, GSourceFunc fn, gpointer data) {
    GSource *s = g_timeout_source_new(ms);
    g_source_set_callback(s, fn, data, nullptr);
    g_source_attach(s, g_main_context_get_thread_default());
    g_source_unref(s);
  }
  static void answer(SoupServerMessage *msg, const std::string &body) {
    soup_server_message_set_status(msg, 200, nullptr);
    soup_server_message_set_response(msg, "application/vnd.apple.mpegurl", SOUP_MEMORY_COPY,
                                     body.data(), body.size());
  }
  static void handler(SoupServer *, SoupServerMessage *msg, const char *, GHashTable *query,
                      gpointer d) {
    auto *self = static_cast<SlowServer *>(d);
    const char *m =
        query ? static_cast<const char *>(g_hash_table_lookup(query, "_HLS_msn")) : nullptr;
    if (!m) return answer(msg, self->text());
    const char *p = static_cast<const char *>(g_hash_table_lookup(query, "_HLS_part"));
    auto *h = new Held{self, msg, std::atoll(m), p ? std::atoll(p) : -1};
    g_object_ref(msg);
    soup_server_message_pause(msg);
    after(
        20,
        [](gpointer d) -> gboolean {
          auto *h = static_cast<Held *>(d);
          if (!h->ready) {
            iptv::MediaPlaylistInfo i = iptv::scan_media_playlist(h->self->text());
            if (iptv::block_verdict(i, h->msn, h->part) != iptv::BlockVerdict::kReady)
              return G_SOURCE_CONTINUE;
            h->ready = true;
            after(
                800,
                [](gpointer d) -> gboolean {
                  auto *h = static_cast<Held *>(d);
                  answer(h->msg, h->self->text());
                  soup_server_message_unpause(h->msg);
                  g_object_unref(h->msg);
                  delete h;
                  return G_SOURCE_REMOVE;
                },
                h);
          }
          return G_SOURCE_REMOVE;
        },
        h);
  }

  GMainContext *ctx_;
  GMainLoop *loop_ = nullptr;
  SoupServer *server_ = nullptr;
  std::thread thread_;
  std::atomic<int> port_{0};
  std::mutex mu_;
  std::string text_;
};

TEST(LlDynamic, ALateBlockingAnswerIsNamed) {
  SlowServer slow;
  LlOptions o;
  o.skip_until = 0;  // no delta updates offered: only the blocking rule runs
  slow.set(ll_playlist(0, 20, 0, o));
  Publisher pub([&](int64_t first, int complete, int pending) {
    slow.set(ll_playlist(first, complete, pending, o));
  });
  iptv::probe::LlDynamicOptions opts;
  opts.rounds = 3;
  opts.max_s = 20;
  auto res = iptv::probe::check_ll_dynamic(
      "http://127.0.0.1:" + std::to_string(slow.port()) + "/index.m3u8", opts);
  EXPECT_TRUE(res.low_latency);
  EXPECT_EQ(res.deltas_checked, 0);
  EXPECT_TRUE(has_rule(res.issues, "ll-blocking-late"));
  ASSERT_FALSE(res.lag_ms.empty());
  for (double l : res.lag_ms) EXPECT_GT(l, 500.0);
}

}  // namespace
