// Issue 23: passthrough channels grouped in one worker process (worker.channels_per_process).
// Per-channel containment inside a group: a bad input or a broken channel never stops the other
// channels of its process (they keep their worker and their numbering), the broken one restarts
// with backoff inside the group; a crash or a hang of the whole process restarts the group, and
// every channel's numbering continues.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <regex>
#include <set>
#include <thread>

#include "iptvd_fixture.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

class GroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    channels_ = tmp_.path() + "/channels";
    fs::create_directories(channels_);
    // 6 s loops, 320x180 at 25 fps with a keyframe a second: H.264 + AAC (what passthrough
    // remuxes), and MPEG-2 video + MP2 audio (an input passthrough cannot take).
    good_ = make_ts("good.ts", "-c:v libx264 -preset ultrafast -g 25 -b:v 300k -c:a aac");
    junk_ = make_ts("junk.ts", "-c:v mpeg2video -c:a mp2");
  }
  std::string make_ts(const std::string &name, const std::string &codecs) {
    std::string out = tmp_.path() + "/" + name;
    int st = -1;
    std::string log =
        sh("ffmpeg -nostdin -loglevel error -y -f lavfi -i "
           "testsrc=size=320x180:rate=25 -f lavfi -i sine=frequency=440 -t 6 " +
               codecs + " -f mpegts " + out + " 2>&1",
           &st);
    EXPECT_EQ(st, 0) << log;
    return out;
  }
  void add(const std::string &id, const std::string &file) {
    write_file(channels_ + "/" + id + ".yaml",
               "channel_id: " + id + "\nsource: file://" + file +
                   "\nprofiles: [passthrough]\nrights:\n  owner: Test\n  licence: test\n"
                   "hls:\n  segment_seconds: 1\n  window_segments: 30\n");
  }
  std::string config(int per_process) {
    std::string cfg = tmp_.path() + "/iptvd.yaml";
    write_file(cfg, "tokens:\n  mode: none\nworker:\n  channels_per_process: " +
                        std::to_string(per_process) +
                        "\n  restart_backoff:\n    initial_seconds: 1\n    max_seconds: 30\n"
                        "    jitter: 0.1\n");
    return cfg;
  }
  // Every listed channel live with `segments` segments of its passthrough rendition.
  static bool wait_live(Iptvd &d, const std::vector<std::string> &ids, double seconds,
                        int segments) {
    return wait_for(seconds, [&] {
      for (const auto &id : ids)
        if (d.state(id) != "live" || (int)media(d, id).sequences.size() < segments) return false;
      return true;
    });
  }
  static MediaList media(Iptvd &d, const std::string &id) {
    return parse_media(d.playlist(id, "source"));
  }
  static uint64_t last(Iptvd &d, const std::string &id) {
    auto m = media(d, id);
    return m.sequences.empty() ? 0 : m.sequences.back();
  }
  // The playlist's numbers go up by one from `from` on (none skipped, none reused).
  static void expect_contiguous_since(Iptvd &d, const std::string &id, uint64_t from) {
    auto m = media(d, id);
    ASSERT_FALSE(m.sequences.empty()) << id;
    EXPECT_LE(m.sequences.front(), from) << id << ": window moved past the mark";
    for (size_t i = 1; i < m.sequences.size(); ++i)
      EXPECT_EQ(m.sequences[i], m.sequences[i - 1] + 1) << id << "\n" << d.playlist(id, "source");
  }
  // Nice value and scheduling policy of every thread of `pid` (/proc/PID/task/TID/stat fields
  // 19 and 41).
  static std::vector<std::pair<int, int>> thread_priorities(pid_t pid) {
    std::vector<std::pair<int, int>> out;
    std::error_code ec;
    for (const auto &t : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
      std::ifstream f(t.path() / "stat");
      std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
      auto close = stat.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream in(stat.substr(close + 2));
      std::vector<std::string> v;
      for (std::string field; in >> field;) v.push_back(field);
      if (v.size() > 38) out.push_back({std::stoi(v[16]), std::stoi(v[38])});
    }
    return out;
  }
  static void expect_priority_below(pid_t daemon, pid_t worker) {
    auto dt = thread_priorities(daemon), wt = thread_priorities(worker);
    ASSERT_FALSE(dt.empty());
    ASSERT_GT(wt.size(), 3u) << "a group worker runs its pipelines' threads";
    int own = dt.front().first;  // one daemon thread's (all alike, checked next)
    for (auto [nice, policy] : dt) {
      EXPECT_EQ(nice, own) << "every daemon thread at the daemon's priority";
      EXPECT_EQ(policy, 0) << "SCHED_OTHER";
    }
    for (auto [nice, policy] : wt) {
      EXPECT_EQ(nice, std::min(19, own + 5)) << "every worker thread 5 nice levels below";
      EXPECT_EQ(policy, 0) << "SCHED_OTHER (worker.sched_batch is off by default)";
    }
  }
  iptv_test::TempDir tmp_;
  std::string channels_, good_, junk_;
};

}  // namespace

TEST_F(GroupTest, ABadInputOrABrokenChannelNeverStopsTheOthersInItsProcess) {
  add("steady", good_);
  add("broken", good_);
  add("junk", junk_);
  Iptvd d(channels_, {"--config", config(3)});
  d.start();
  ASSERT_TRUE(wait_live(d, {"steady", "broken"}, 60, 2)) << d.log();
  // The three share one process.
  pid_t group = d.worker_pid("steady");
  ASSERT_GT(group, 0);
  EXPECT_EQ(d.worker_pid("broken"), group);
  EXPECT_EQ(d.worker_pid("junk"), group);
  // Below the daemon's CPU priority (worker.nice, 5 by default, so the API, heartbeat and origin
  // threads get a core first): every thread of the group process.
  expect_priority_below(d.pid(), group);
  // The bad input: that channel alone goes to its slate; the others go on.
  ASSERT_TRUE(wait_for(30, [&] { return d.state("junk") == "slate"; })) << d.log();
  uint64_t steady0 = last(d, "steady"), broken0 = last(d, "broken");
  ASSERT_TRUE(wait_for(30, [&] { return last(d, "steady") >= steady0 + 3; })) << d.log();
  EXPECT_GT(last(d, "broken"), broken0);
  EXPECT_EQ(d.state("steady"), "live");

  // A broken output: the channel's rendition folder replaced by a file. The sink drops what it
  // cannot write and carries on (issue 19's full-disk handling: a write failure no longer ends
  // the worker), so the channel is `degraded` with the write failure as its reason and is not
  // restarted, while the others keep their process and their numbering.
  std::string dir = d.data() + "/hls/broken/source";
  uint64_t broken1 = last(d, "broken");
  fs::remove_all(dir);
  write_file(dir, "not a folder\n");
  std::string reason;
  ASSERT_TRUE(wait_for(60,
                       [&] {
                         nlohmann::json j = d.channel("broken");
                         if (!j.is_object() || j["state"] != "degraded") return false;
                         reason = j["reason"].get<std::string>();
                         return true;
                       }))
      << d.channel("broken").dump() << d.log();
  EXPECT_NE(reason.find("hot tier"), std::string::npos) << reason;
  EXPECT_EQ(d.worker_pid("broken"), group);
  // Meanwhile the others kept their process and their numbering.
  EXPECT_EQ(d.worker_pid("steady"), group);
  EXPECT_EQ(d.worker_pid("junk"), group);
  EXPECT_EQ(d.channel("steady")["restarts"], 0);
  EXPECT_EQ(d.channel("junk")["restarts"], 0);
  EXPECT_EQ(d.state("steady"), "live");
  expect_contiguous_since(d, "steady", steady0);
  EXPECT_EQ(media(d, "steady").discontinuities, 0) << d.playlist("steady", "source");

  // Mended: the channel is live again in the same process, its numbers going on.
  fs::remove(dir);
  fs::create_directories(dir);  // the folder back (the sink does not make it again)
  ASSERT_TRUE(wait_for(60, [&] { return d.state("broken") == "live"; })) << d.log();
  ASSERT_TRUE(wait_for(30, [&] { return last(d, "broken") > broken1; })) << d.log();
  EXPECT_EQ(d.worker_pid("broken"), group);
  EXPECT_EQ(d.worker_pid("steady"), group);
  EXPECT_EQ(d.channel("broken")["restarts"], 0);
  expect_contiguous_since(d, "steady", steady0);
}

// A channel whose pipeline fails inside its group (its output folder cannot be made: a file
// stands where its HLS tree goes, so iptvhlssink refuses to start) exits alone and is started
// again in the same process with a growing backoff, while the other channel of that process
// keeps its worker and its numbering. Once the file is gone the next attempt goes live, still in
// the same process.
TEST_F(GroupTest, ABrokenChannelRestartsAloneWithBackoffInsideItsProcess) {
  add("steady", good_);
  add("broken", good_);
  Iptvd d(channels_, {"--config", config(2)});
  std::string blocker = d.data() + "/hls/broken";
  fs::create_directories(d.data() + "/hls");
  write_file(blocker, "not a folder\n");
  d.start();
  ASSERT_TRUE(wait_live(d, {"steady"}, 60, 2)) << d.log();
  pid_t group = d.worker_pid("steady");
  ASSERT_GT(group, 0);
  uint64_t steady0 = last(d, "steady");
  // Three failed starts of `broken`, each followed by a longer wait (initial 1 s, doubling,
  // jitter 0.1), each run inside `steady`'s process.
  // The restarts' delays, oldest first, from the channel's recent events in the API.
  auto delays = [&] {
    std::vector<int> out;
    nlohmann::json j = d.channel("broken");
    if (!j.is_object() || !j["last_events"].is_array()) return out;
    for (const auto &e : j["last_events"])
      if (e["event_type"] == "worker.restarting" && e["detail"].contains("delay_ms"))
        out.insert(out.begin(), e["detail"]["delay_ms"].get<int>());
    return out;
  };
  std::set<pid_t> broken_pids;
  ASSERT_TRUE(wait_for(60,
                       [&] {
                         if (pid_t p = d.worker_pid("broken"); p > 0) broken_pids.insert(p);
                         return delays().size() >= 3;
                       }))
      << d.channel("broken").dump() << d.log();
  std::vector<int> ds = delays();
  for (size_t i = 1; i < ds.size(); ++i) EXPECT_GT(ds[i], ds[i - 1]) << "delays " << ds[i];
  EXPECT_GE(ds[0], 800);
  EXPECT_GE(ds[2], 3000);
  nlohmann::json bj = d.channel("broken");
  EXPECT_GE(bj["restarts"].get<int>(), 3) << bj.dump();
  // The reason names the folder the sink could not make.
  EXPECT_NE(bj["last_error"].get<std::string>().find("Cannot create " + blocker), std::string::npos)
      << bj.dump();
  for (pid_t p : broken_pids) EXPECT_EQ(p, group) << "broken ran outside its group";
  // Meanwhile `steady` kept its process, no restart, and its numbers without a gap.
  EXPECT_EQ(d.worker_pid("steady"), group);
  EXPECT_EQ(d.channel("steady")["restarts"], 0);
  EXPECT_EQ(d.state("steady"), "live");
  ASSERT_TRUE(wait_for(30, [&] { return last(d, "steady") >= steady0 + 3; })) << d.log();
  expect_contiguous_since(d, "steady", steady0);
  EXPECT_EQ(media(d, "steady").discontinuities, 0) << d.playlist("steady", "source");

  // Mended: the next attempt goes live in the same process.
  fs::remove(blocker);
  ASSERT_TRUE(wait_live(d, {"broken"}, 60, 2)) << d.channel("broken").dump() << d.log();
  EXPECT_EQ(d.worker_pid("broken"), group);
  EXPECT_EQ(d.worker_pid("steady"), group);
  EXPECT_EQ(d.channel("steady")["restarts"], 0);
  expect_contiguous_since(d, "steady", steady0);
  std::printf("[group] broken: %zu restarts before the fix, delays", ds.size());
  for (int x : ds) std::printf(" %d ms", x);
  std::printf("\n");
}

TEST_F(GroupTest, ACrashOrAHangOfTheProcessRestartsTheGroupAndNumberingContinues) {
  add("one", good_);
  add("two", good_);
  add("three", good_);
  // Two to a process: two channels share one, the third has one of its own.
  Iptvd d(channels_, {"--config", config(2)});
  d.start();
  ASSERT_TRUE(wait_live(d, {"one", "two", "three"}, 60, 2)) << d.log();
  std::map<pid_t, std::vector<std::string>> by_pid;
  for (const char *id : {"one", "two", "three"}) by_pid[d.worker_pid(id)].push_back(id);
  ASSERT_EQ(by_pid.size(), 2u) << d.log();
  std::vector<std::string> pair, alone;
  for (auto &[pid, ids] : by_pid) (ids.size() == 2 ? pair : alone) = ids;
  ASSERT_EQ(pair.size(), 2u);
  ASSERT_EQ(alone.size(), 1u);
  pid_t other = d.worker_pid(alone[0]);

  int restarts = 0;
  for (int sig : {SIGKILL, SIGSTOP}) {
    pid_t victim = d.worker_pid(pair[0]);
    ASSERT_GT(victim, 0);
    std::map<std::string, uint64_t> before;
    for (auto &id : pair) before[id] = last(d, id);
    uint64_t other_before = last(d, alone[0]);
    ::kill(victim, sig);
    // Both channels of the process come back together, in one new process (a stopped one is
    // found by the heartbeat watchdog and killed whole).
    ASSERT_TRUE(wait_for(60,
                         [&] {
                           pid_t n = d.worker_pid(pair[0]);
                           return n > 0 && n != victim && d.worker_pid(pair[1]) == n &&
                                  d.state(pair[0]) == "live" && d.state(pair[1]) == "live";
                         }))
        << "signal " << sig << "\n"
        << d.log();
    ++restarts;
    for (auto &id : pair) {
      ASSERT_TRUE(wait_for(30, [&] { return last(d, id) > before[id] + 1; })) << id << d.log();
      auto m = media(d, id);
      expect_continued(m, before[id], id + "\n" + d.playlist(id, "source"));
      EXPECT_EQ(d.channel(id)["restarts"], restarts) << d.channel(id).dump();
    }
    // The other process was not touched.
    EXPECT_EQ(d.worker_pid(alone[0]), other);
    EXPECT_GT(last(d, alone[0]), other_before);
    EXPECT_EQ(d.channel(alone[0])["restarts"], 0);
  }
  std::string log = d.log();
  EXPECT_NE(log.find("worker killed by SIGKILL"), std::string::npos);
  EXPECT_NE(log.find("worker hung (no heartbeat"), std::string::npos) << log;
  EXPECT_NE(log.find("killing the group process"), std::string::npos) << log;
}
