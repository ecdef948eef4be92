// WebhookDeliverer against a real HTTP receiver in another process (tests/store/
// webhook_receiver.py on 127.0.0.1): failing first attempts, killed mid-run and restarted, and a
// deliverer restarted over the same database file.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "db/sqlite_db.h"
#include "log/log.h"
#include "store/state_store.h"
#include "store/webhooks.h"
#include "test_support.h"

using iptv::store::make_event;
using iptv::store::StateStore;
using iptv::store::WebhookDeliverer;
using namespace std::chrono_literals;

namespace {

const std::string kSecret = "test-webhook-secret-0123456789";

bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// The receiver process.
class Receiver {
 public:
  Receiver(int port, std::string log, int fail_first, int delay_ms)
      : port_(port), log_(std::move(log)) {
    std::string script = iptv_test::source_root() + "/tests/store/webhook_receiver.py";
    std::vector<std::string> args = {"python3",      script,
                                     "--port",       std::to_string(port),
                                     "--secret",     kSecret,
                                     "--log",        log_,
                                     "--fail-first", std::to_string(fail_first),
                                     "--delay-ms",   std::to_string(delay_ms)};
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char *> argv;
      for (auto &a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 1);
      execvp("python3", argv.data());
      _exit(127);
    }
    for (int i = 0; i < 200 && !port_open(port); ++i) std::this_thread::sleep_for(25ms);
    EXPECT_TRUE(port_open(port)) << "receiver did not start";
  }
  ~Receiver() { kill_now(); }
  void kill_now() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

 private:
  int port_;
  std::string log_;
  pid_t pid_ = -1;
};

std::vector<nlohmann::json> read_log(const std::string &path) {
  std::vector<nlohmann::json> out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(j);
  }
  return out;
}

size_t accepted_events(const std::string &path) {
  std::set<std::string> ids;
  for (auto &r : read_log(path))
    if (r["status"] == 200) ids.insert(r["idempotency_key"].get<std::string>());
  return ids.size();
}

iptv::config::WebhookConfig hook_config(int port, int max_attempts = 50) {
  iptv::config::WebhookConfig w;
  w.name = "ops";
  w.url = "http://127.0.0.1:" + std::to_string(port) + "/hook?source=iptvd";
  w.secret = kSecret;
  w.timeout_seconds = 5;
  w.max_attempts = max_attempts;
  w.backoff = {0.05, 0.4, 0.2};
  return w;
}

template <typename F>
bool wait_for(F cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return cond();
}

// Logs of the deliverer go to a string, so the test can also check the secret never shows.
struct QuietLogger {
  iptv::log::Logger logger;
  std::string text;
  std::mutex mu;
  QuietLogger() {
    logger.configure(iptv::log::Format::kJson, iptv::log::Level::kDebug);
    logger.set_sink([this](std::string_view l) {
      std::lock_guard lk(mu);
      text += l;
    });
  }
};

}  // namespace

TEST(Webhooks, SignatureAndBackoffHelpers) {
  // RFC 4231 test case 2.
  EXPECT_EQ(iptv::store::webhook_signature("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  iptv::config::BackoffConfig b{0.5, 4, 0};
  EXPECT_EQ(iptv::store::backoff_delay_ms(b, 1), 500);
  EXPECT_EQ(iptv::store::backoff_delay_ms(b, 2), 1000);
  EXPECT_EQ(iptv::store::backoff_delay_ms(b, 3), 2000);
  EXPECT_EQ(iptv::store::backoff_delay_ms(b, 4), 4000);
  EXPECT_EQ(iptv::store::backoff_delay_ms(b, 9), 4000);
}

TEST(Webhooks, AtLeastOnceThroughFailuresAReceiverKillAndADaemonRestart) {
  iptv_test::TempDir dir;
  std::string dbpath = dir.path() + "/iptvd.db";
  std::string rlog = dir.path() + "/received.jsonl";
  int port = iptv_test::free_port();
  QuietLogger ql;
  std::vector<std::string> ids;  // every event id recorded
  std::map<std::string, std::string> type_of;
  uint64_t delivered_first_run = 0;

  auto receiver = std::make_unique<Receiver>(port, rlog, /*fail_first=*/3, /*delay_ms=*/40);
  {
    auto db = iptv::db::Db::open(dbpath);
    StateStore store(*db);
    WebhookDeliverer hooks(store, {hook_config(port)}, ql.logger);
    hooks.start();
    for (int i = 0; i < 30; ++i) {
      std::string ch = i % 2 ? "news" : "sport";
      auto r = store.transition(
          ch, i % 4 < 2 ? "live" : "failover", "flip " + std::to_string(i),
          make_event(i % 4 < 2 ? "failover.returned" : "failover.activated", ch, "success"));
      ASSERT_GT(r.event_id, 0);
      auto e = store.events({.after_id = r.event_id - 1, .limit = 1});
      ids.push_back(e.at(0).event_id);
      type_of[e[0].event_id] = e[0].event_type;
    }
    // Kill the receiver mid-run: some delivered, some not.
    ASSERT_TRUE(wait_for([&] { return accepted_events(rlog) >= 8; }, 20s));
    receiver->kill_now();
    size_t before_kill = accepted_events(rlog);
    EXPECT_LT(before_kill, 30u) << "the receiver was too fast to be killed mid-run";
    // Events keep coming while it is down; attempts fail (connection refused).
    for (int i = 0; i < 10; ++i) {
      bool ins = false;
      iptv::store::Event e =
          make_event("record.rejected", "news", "failure", R"({"error":"bad yaml"})");
      e.event_id = "reject-news-" + std::to_string(i);
      store.record_event(e, &ins);
      ASSERT_TRUE(ins);
      ids.push_back(e.event_id);
      type_of[e.event_id] = e.event_type;
    }
    ASSERT_TRUE(wait_for([&] { return hooks.delivery_failures() >= 4; }, 10s));
    delivered_first_run = hooks.deliveries();
    EXPECT_GE(delivered_first_run, 7u);  // 8 logged by the receiver, one may be in flight
    EXPECT_GT(hooks.outbox_depth(), 0);
    hooks.stop();  // the daemon stops with undelivered events
  }
  // The daemon is down; the receiver comes back (no more failures).
  receiver = std::make_unique<Receiver>(port, rlog, 0, 0);
  {
    auto db = iptv::db::Db::open(dbpath);
    StateStore store(*db);
    WebhookDeliverer hooks(store, {hook_config(port)}, ql.logger);
    EXPECT_GT(hooks.outbox_depth(), 0);
    hooks.start();
    ASSERT_TRUE(wait_for([&] { return hooks.outbox_depth() == 0; }, 30s))
        << "left: " << hooks.outbox_depth();
    auto st = hooks.stats();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_EQ(st[0].pending, 0);
    EXPECT_EQ(st[0].dead, 0);
    EXPECT_EQ(st[0].delivered, 40);
    // This run delivered what the first left (a request in flight at the kill may be repeated).
    EXPECT_GE(hooks.deliveries(), 40u - delivered_first_run);
    EXPECT_LE(hooks.deliveries(), 40u);
    hooks.stop();
  }
  receiver->kill_now();

  // Every event was delivered at least once, with a valid signature and its own idempotency key.
  auto recs = read_log(rlog);
  std::map<std::string, int> ok_count;
  std::map<std::string, std::string> body_id_of_key;
  int failed_500 = 0;
  for (auto &r : recs) {
    std::string key = r["idempotency_key"];
    EXPECT_TRUE(r["signature_ok"].get<bool>()) << r.dump();
    // Independently of the receiver: recompute the HMAC here.
    EXPECT_EQ(iptv::store::webhook_signature(kSecret, r["body"].get<std::string>()),
              r["signature"].get<std::string>());
    auto body = nlohmann::json::parse(r["body"].get<std::string>());
    EXPECT_EQ(body["event_id"], key);
    EXPECT_EQ(r["event"], body["event_type"]);
    ASSERT_TRUE(type_of.count(key)) << "unknown event delivered: " << key;
    EXPECT_EQ(r["event"], type_of[key]);
    EXPECT_EQ(r["content_type"], "application/json");
    EXPECT_EQ(r["path"], "/hook?source=iptvd");
    EXPECT_FALSE(r["timestamp"].get<std::string>().empty());
    EXPECT_GE(std::stoi(r["attempt"].get<std::string>()), 1);
    for (const char *f : {"event_type", "job_id", "channel_id", "profile", "input_checksum",
                          "output_uri", "attempt", "status", "detail", "created_at"})
      EXPECT_TRUE(body.contains(f)) << f;
    // One key, one event: a key never names two different bodies' events.
    auto [it, fresh] = body_id_of_key.emplace(key, body["event_id"]);
    if (!fresh) {
      EXPECT_EQ(it->second, body["event_id"]);
    }
    if (r["status"] == 200)
      ok_count[key]++;
    else
      failed_500++;
  }
  EXPECT_EQ(failed_500, 3);
  ASSERT_EQ(ids.size(), 40u);
  for (auto &id : ids) {
    EXPECT_GE(ok_count[id], 1) << "never delivered: " << id;
  }
  EXPECT_EQ(ok_count.size(), 40u);  // nothing delivered that was not recorded
  // Retried deliveries said so.
  bool saw_retry = false;
  for (auto &r : recs) saw_retry = saw_retry || std::stoi(r["attempt"].get<std::string>()) > 1;
  EXPECT_TRUE(saw_retry);
  // The deliverer logged its failures, never the secret.
  EXPECT_NE(ql.text.find("webhook delivery failed"), std::string::npos);
  EXPECT_EQ(ql.text.find(kSecret), std::string::npos);
}

TEST(Webhooks, DeadLetterAfterMaxAttemptsAndEventFilter) {
  iptv_test::TempDir dir;
  std::string rlog = dir.path() + "/received.jsonl";
  int port = iptv_test::free_port();
  QuietLogger ql;
  Receiver receiver(port, rlog, /*fail_first=*/1000, 0);
  auto db = iptv::db::Db::open(dir.path() + "/iptvd.db");
  StateStore store(*db);
  auto cfg = hook_config(port, /*max_attempts=*/3);
  cfg.events = {"slate.*"};
  WebhookDeliverer hooks(store, {cfg}, ql.logger);
  hooks.start();
  store.record_event(make_event("slate.entered", "news"));
  store.record_event(make_event("channel.state", "news"));  // filtered out
  store.record_event(make_event("slate.left", "news"));
  ASSERT_TRUE(wait_for([&] { return hooks.stats()[0].dead == 2; }, 20s));
  hooks.stop();
  auto recs = read_log(rlog);
  EXPECT_EQ(recs.size(), 6u);  // 3 attempts x 2 events, then no more
  std::map<std::string, int> per_type;
  for (auto &r : recs) per_type[r["event"]]++;
  EXPECT_EQ(per_type["slate.entered"], 3);
  EXPECT_EQ(per_type["slate.left"], 3);
  EXPECT_EQ(per_type.count("channel.state"), 0u);
  EXPECT_EQ(hooks.delivery_failures(), 6u);
  EXPECT_EQ(hooks.delivery_attempts(), 6u);
  EXPECT_EQ(hooks.deliveries(), 0u);
  EXPECT_EQ(hooks.outbox_depth(), 0);
  EXPECT_NE(ql.text.find("webhook delivery dead-lettered"), std::string::npos);
  EXPECT_NE(hooks.stats()[0].last_error.find("500"), std::string::npos);
  // An operator can requeue dead letters.
  EXPECT_EQ(store.requeue_dead("ops"), 2);
}
