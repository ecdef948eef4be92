// GStreamer-free parts of the supervisor: worker status lines, restart backoff, reload plans.
#include <gtest/gtest.h>

#include <glib.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "config/daemon_config.h"
#include "daemon/backoff.h"
#include "daemon/reload.h"
#include "daemon/worker_process.h"
#include "daemon/worker_status.h"
#include "records/loader.h"
#include "test_support.h"

using namespace iptv::daemon;

TEST(WorkerStatus, ParsesEveryType) {
  std::string err;
  auto hb = parse_status_line(R"({"t":"hb","media_age_ms":120})", &err);
  ASSERT_TRUE(hb);
  EXPECT_EQ(std::get<StHeartbeat>(*hb).media_age_ms, 120);
  auto st = parse_status_line(
      R"({"t":"state","state":"failover","reason":"primary lost","active_source":"backup"})", &err);
  ASSERT_TRUE(st);
  EXPECT_EQ(std::get<StState>(*st).state, "failover");
  EXPECT_EQ(std::get<StState>(*st).active_source, "backup");
  auto seg = parse_status_line(
      R"({"t":"segment","rendition":"360p","sequence":881234,"discontinuity_sequence":2,)"
      R"("duration":2.0,"bytes":150000,"uri":"360p/seg-881234.ts","extra":1})",
      &err);
  ASSERT_TRUE(seg);
  EXPECT_EQ(std::get<StSegment>(*seg).sequence, 881234u);
  EXPECT_EQ(std::get<StSegment>(*seg).bytes, 150000u);
  auto stats = parse_status_line(
      R"({"t":"stats","renditions":{"360p":{"fps":29.97,"bitrate":610000}}})", &err);
  ASSERT_TRUE(stats);
  EXPECT_DOUBLE_EQ(std::get<StStats>(*stats).renditions.at("360p").fps, 29.97);
  auto pr = parse_status_line(R"({"t":"probe","condition":"silence","active":true})", &err);
  ASSERT_TRUE(pr);
  EXPECT_TRUE(std::get<StProbe>(*pr).active);
  auto ev = parse_status_line(R"({"t":"event","event_type":"failover.activated"})", &err);
  ASSERT_TRUE(ev);
  EXPECT_EQ(std::get<StEvent>(*ev).event_type, "failover.activated");
}

TEST(WorkerStatus, ParsesSourceHealthAndProbeStreams) {
  std::string err;
  auto src = parse_status_line(
      R"({"t":"source","source":"backup","healthy":true,"detail":"receiving"})", &err);
  ASSERT_TRUE(src) << err;
  EXPECT_EQ(std::get<StSource>(*src).source, "backup");
  EXPECT_TRUE(std::get<StSource>(*src).healthy);
  auto pr = parse_status_line(
      R"({"t":"probe","condition":"timestamp","active":false,"stream":"audio","source":"primary"})",
      &err);
  ASSERT_TRUE(pr);
  EXPECT_EQ(std::get<StProbe>(*pr).stream, "audio");
  EXPECT_FALSE(std::get<StProbe>(*pr).active);
}

TEST(WorkerStatus, RejectsGarbageWithAReason) {
  std::string err;
  EXPECT_FALSE(parse_status_line("not json", &err));
  EXPECT_EQ(err, "not a JSON object");
  EXPECT_FALSE(parse_status_line(R"({"t":"bogus"})", &err));
  EXPECT_NE(err.find("bogus"), std::string::npos);
  EXPECT_FALSE(parse_status_line("[1,2]", &err));
  // A wrong type in a field is refused, naming the field (issue 13: the wire types are strict;
  // it used to fall back to the default silently).
  EXPECT_FALSE(parse_status_line(R"({"t":"hb","media_age_ms":"soon"})", &err));
  EXPECT_EQ(err, "hb: field 'media_age_ms' expected an integer");
}

namespace {
// The nice value and scheduling policy a WorkerProcess child runs with: the child is
// `cat /proc/self/stat` (fields 19 and 41), read through the worker's output pipe.
std::pair<int, int> child_priority(const WorkerLimits &limits) {
  std::string stat;
  bool done = false;
  WorkerCallbacks cb;
  cb.on_output = [&](const std::string &l) { stat += l; };
  cb.on_exit = [&](bool, int) { done = true; };
  WorkerProcess p({"/bin/cat", "/proc/self/stat"}, limits, cb);
  std::string err;
  EXPECT_TRUE(p.start(&err)) << err;
  gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
  // Both the exit and the whole line (EOF of the pipe may come after the exit).
  while ((!done || stat.find(')') == std::string::npos) && g_get_monotonic_time() < end)
    if (!g_main_context_iteration(nullptr, FALSE)) g_usleep(1000);
  std::istringstream in(stat.substr(std::min(stat.size(), stat.rfind(')') + 2)));
  std::vector<std::string> v;
  for (std::string t; in >> t;) v.push_back(t);
  EXPECT_GE(v.size(), 39u) << stat;
  if (v.size() < 39) return {-100, -1};
  return {std::stoi(v[16]), std::stoi(v[38])};  // fields 19 (nice) and 41 (policy)
}
}  // namespace

// Issue 23: workers run below the daemon's CPU priority, so that the API, heartbeat and origin
// threads get a core first when every channel cuts at once (worker.nice, worker.sched_batch).
TEST(WorkerProcess, RunsNiceLevelsBelowTheDaemonWithSchedBatch) {
  errno = 0;
  int own = getpriority(PRIO_PROCESS, 0);
  WorkerLimits below;
  below.nice = 5;
  below.sched_batch = true;
  auto [nice, policy] = child_priority(below);
  EXPECT_EQ(nice, std::min(19, own + 5)) << "the worker's nice is relative to the daemon's";
  EXPECT_EQ(policy, SCHED_BATCH);
  WorkerLimits same;  // worker.nice: 0, sched_batch: false: the daemon's own priority
  auto [nice0, policy0] = child_priority(same);
  EXPECT_EQ(nice0, own);
  EXPECT_EQ(policy0, SCHED_OTHER);
}

TEST(Backoff, GrowsExponentiallyWithJitterAndCaps) {
  BackoffPolicy p;
  p.initial_seconds = 0.5;
  p.max_seconds = 4;
  p.jitter = 0.2;
  double u = 0.5;  // no jitter
  Backoff b(p, [&] { return u; });
  EXPECT_DOUBLE_EQ(b.next_delay(1), 0.5);
  EXPECT_DOUBLE_EQ(b.next_delay(1), 1.0);
  EXPECT_DOUBLE_EQ(b.next_delay(1), 2.0);
  EXPECT_DOUBLE_EQ(b.next_delay(1), 4.0);
  EXPECT_DOUBLE_EQ(b.next_delay(1), 4.0);  // capped
  u = 0.0;                                 // the low edge of the jitter
  EXPECT_DOUBLE_EQ(b.next_delay(1), 3.2);
  u = 0.999999;
  EXPECT_NEAR(b.next_delay(1), 4.8, 1e-4);
  // A run longer than stable_after_seconds starts over.
  u = 0.5;
  EXPECT_DOUBLE_EQ(b.next_delay(120), 0.5);
}

TEST(Backoff, RealJitterSpreadsRestarts) {
  BackoffPolicy p;
  Backoff a(p), b(p);
  bool differ = false;
  for (int i = 0; i < 5; ++i) differ |= a.next_delay(0) != b.next_delay(0);
  EXPECT_TRUE(differ) << "two channels crashing together must not restart in lockstep";
}

namespace {

void write(const std::string &path, const std::string &text) {
  std::ofstream(path) << text;
}

std::string rec(const std::string &id, const std::string &extra = "") {
  return "channel_id: " + id + "\nsource: test://smpte\nprofiles: [180p-250kbps]\n" + extra;
}

std::map<std::string, iptv::ChannelRecord> as_map(const iptv::LoadResult &r) {
  std::map<std::string, iptv::ChannelRecord> m;
  for (auto &c : r.channels) m[c.channel_id] = c;
  return m;
}

}  // namespace

TEST(Reload, DiffsPerChannelAndKeepsTheLastGoodVersion) {
  iptv_test::TempDir tmp;
  std::string d = tmp.path();
  write(d + "/a.yaml", rec("a"));
  write(d + "/b.yaml", rec("b"));
  write(d + "/c.yaml", rec("c"));
  auto first = iptv::load_channels({d});
  ASSERT_TRUE(first.ok());
  auto current = as_map(first);

  write(d + "/b.yaml", rec("b", "preset: ultrafast\n"));   // changed
  std::remove((d + "/c.yaml").c_str());                    // removed
  write(d + "/e.yaml", rec("e"));                          // added
  write(d + "/a.yaml", rec("a", "profiles_typo: [1]\n"));  // broken
  auto second = iptv::load_channels({d});
  ReloadPlan plan = plan_reload(current, second);
  EXPECT_EQ(plan.changed, std::vector<std::string>{"b"});
  EXPECT_EQ(plan.added, std::vector<std::string>{"e"});
  EXPECT_EQ(plan.removed, std::vector<std::string>{"c"});
  EXPECT_EQ(plan.kept_last_good, std::vector<std::string>{"a"});
  EXPECT_EQ(plan.unchanged, std::vector<std::string>{"a"});
  ASSERT_FALSE(plan.errors.empty());
  EXPECT_NE(plan.errors[0].str().find("a.yaml:4:1"), std::string::npos) << plan.errors[0].str();
  ASSERT_TRUE(plan.next.count("a"));
  EXPECT_EQ(plan.next.at("a").content_sha256, current.at("a").content_sha256) << "last good";
  EXPECT_EQ(plan.next.size(), 3u);
}

TEST(Reload, FingerprintSeesABackupSourceChange) {
  iptv_test::TempDir tmp;
  std::string d = tmp.path();
  write(d + "/main.yaml", rec("main", "failover:\n  enabled: true\n  backup_source: spare\n"));
  write(d + "/spare.yaml", rec("spare"));
  auto current = as_map(iptv::load_channels({d}));
  write(d + "/spare.yaml", "channel_id: spare\nsource: test://ball\nprofiles: [180p-250kbps]\n");
  auto second = iptv::load_channels({d});
  // The fingerprint the daemon uses covers the backup's source; main's own file is unchanged.
  auto fp = [](const iptv::ChannelRecord &r,
               const std::map<std::string, iptv::ChannelRecord> &all) {
    std::string s = r.content_sha256;
    if (!r.failover.backup_source.empty() && all.count(r.failover.backup_source))
      s += all.at(r.failover.backup_source).source.uri;
    return s;
  };
  ReloadPlan plan = plan_reload(current, second, fp);
  EXPECT_EQ(plan.changed, (std::vector<std::string>{"main", "spare"}));
  EXPECT_TRUE(plan.unchanged.empty());
  // Without it only the edited file counts.
  ReloadPlan plain = plan_reload(current, second);
  EXPECT_EQ(plain.changed, std::vector<std::string>{"spare"});
}

TEST(Reload, AFileRenamedToAnotherChannelRetiresTheOld) {
  iptv_test::TempDir tmp;
  std::string d = tmp.path();
  write(d + "/a.yaml", rec("a"));
  auto current = as_map(iptv::load_channels({d}));
  std::remove((d + "/a.yaml").c_str());
  write(d + "/z.yaml", rec("z"));
  ReloadPlan plan = plan_reload(current, iptv::load_channels({d}));
  EXPECT_EQ(plan.removed, std::vector<std::string>{"a"});
  EXPECT_EQ(plan.added, std::vector<std::string>{"z"});
  EXPECT_TRUE(plan.kept_last_good.empty());
}

// Issue 25 item 6: the docs name only settings that exist. Every key of docs/iptvd-config.md's
// table is accepted by the config parser (no "unknown key"), and docs/api.md names no setting
// that is not a config key and lists the refusal body among its errors.
namespace {
std::string read_doc(const std::string &name) {
  std::ifstream f(iptv_test::source_root() + "/docs/" + name);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

TEST(DocDrift, EveryDocumentedConfigKeyIsAConfigKey) {
  std::string doc = read_doc("iptvd-config.md");
  ASSERT_FALSE(doc.empty());
  std::istringstream in(doc);
  std::string line;
  int keys = 0;
  while (std::getline(in, line)) {
    if (keys > 0 && line.rfind("#", 0) == 0) break;  // the top-level table ends (webhooks[] next)
    if (line.rfind("| `", 0) != 0) continue;
    std::string key = line.substr(3, line.find('`', 3) - 3);
    // Nest the dotted key: a.b.c: x
    std::string yaml, indent;
    size_t a = 0;
    while (true) {
      size_t dot = key.find('.', a);
      std::string part = key.substr(a, dot == std::string::npos ? std::string::npos : dot - a);
      yaml += indent + part + ":" + (dot == std::string::npos ? " 1\n" : "\n");
      if (dot == std::string::npos) break;
      indent += "  ";
      a = dot + 1;
    }
    auto r = iptv::config::parse_daemon_config(yaml, "doc.yaml");
    for (const auto &e : r.errors)
      EXPECT_EQ(e.str().find("unknown key"), std::string::npos)
          << "docs/iptvd-config.md names '" << key
          << "', which the parser does not know: " << e.str();
    ++keys;
  }
  EXPECT_GE(keys, 20);
  std::string api = read_doc("api.md");
  for (const char *ghost : {"metrics_public", "bind_client_ip", "ApiConfig.",
                            "sessions.ttl_seconds", "playlist_session_ttl_seconds"})
    EXPECT_EQ(api.find(ghost), std::string::npos)
        << "docs/api.md names '" << ghost << "', which is not a config key";
  EXPECT_NE(api.find("{\"error\": \"refused\", \"reason\": REASON"), std::string::npos)
      << "docs/api.md's list of errors lacks the refusal body";
}
