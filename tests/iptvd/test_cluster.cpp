// Issue 20, items 1 and 2: channel ownership in etcd, fencing, epoch-locked output. Real
// processes: Debian's etcd (etcd-server) on free loopback ports with its own data folder, and
// two iptvd nodes with their own ports and data folders running test:// channels at 320x180.
#include <fcntl.h>
#include <glib.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "iptvd_fixture.h"

using namespace iptvd_test;

extern char **environ;

namespace {

// One etcd member on 127.0.0.1 (client and peer ports free), killed when destroyed.
class Etcd {
 public:
  Etcd() {
    client_ = iptv_test::free_port();
    int peer = iptv_test::free_port();
    std::string c = "http://127.0.0.1:" + std::to_string(client_);
    std::string p = "http://127.0.0.1:" + std::to_string(peer);
    std::vector<std::string> args = {"/usr/bin/etcd",
                                     "--name",
                                     "t",
                                     "--data-dir",
                                     dir_.path() + "/data",
                                     "--listen-client-urls",
                                     c,
                                     "--advertise-client-urls",
                                     c,
                                     "--listen-peer-urls",
                                     p,
                                     "--initial-advertise-peer-urls",
                                     p,
                                     "--initial-cluster",
                                     "t=" + p,
                                     "--logger",
                                     "zap"};
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string out = dir_.path() + "/etcd.out";
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&fa);
  }
  ~Etcd() {
    if (pid_ > 0) {
      ::kill(pid_, SIGCONT);
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool wait_up() {
    return pid_ > 0 && wait_for(30, [&] {
             return sh("curl -s -m 2 " + url() + "/health").find("true") != std::string::npos;
           });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(client_); }
  void signal(int sig) { ::kill(pid_, sig); }
  // The value of the owner key of `channel` ("" when none), read through the JSON gateway.
  std::string owner(const std::string &channel) {
    std::string key = "/iptv/owners/" + channel;
    gchar *k = g_base64_encode((const guchar *)key.data(), key.size());
    std::string out =
        sh("curl -s -m 5 -X POST " + url() + "/v3/kv/range -d '{\"key\":\"" + k + "\"}'");
    g_free(k);
    auto j = nlohmann::json::parse(out, nullptr, false);
    if (!j.is_object() || !j.contains("kvs")) return "";
    gsize n = 0;
    guchar *v = g_base64_decode(j["kvs"][0].value("value", "").c_str(), &n);
    std::string s((const char *)v, n);
    g_free(v);
    auto o = nlohmann::json::parse(s, nullptr, false);
    return o.is_object() ? o.value("node", "") : "";
  }

 private:
  iptv_test::TempDir dir_;
  int client_ = 0;
  pid_t pid_ = 0;
};

constexpr int kTtl = 3;

std::string cluster_config(const std::string &dir, const std::string &node,
                           const std::string &etcd_url, int ttl = kTtl) {
  std::string path = dir + "/" + node + ".yaml";
  write_file(path, "tokens:\n  mode: none\ncluster:\n  etcd: [" + etcd_url +
                       "]\n  lease_ttl_seconds: " + std::to_string(ttl) + "\n  node_id: " + node +
                       "\n");
  return path;
}

// The playlist of `ch`'s 180p rendition as a viewer gets it from node `d` (status 0 on error).
Http served(Iptvd &d, const std::string &ch) {
  return d.get("/hls/" + ch + "/180p/index.m3u8");
}

bool serving(Iptvd &d, const std::string &ch) {
  Http h = served(d, ch);
  return h.status == 200 && !parse_media(h.body).sequences.empty();
}

}  // namespace

// A cluster config that is wrong or inconsistent is refused at start, naming the field.
TEST(Cluster, BadConfigIsRefusedNamingTheField) {
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  struct Case {
    std::string yaml, expect;
  } cases[] = {
      {"cluster:\n  lease_ttl_seconds: 10\n", "cluster.etcd: is required"},
      {"cluster:\n  etcd: [ftp://x:1]\n", "cluster.etcd[0]: expected an http"},
      {"cluster:\n  etcd: []\n", "cluster.etcd: must list at least one"},
      {"cluster:\n  etcd: [http://127.0.0.1:1]\n  lease_ttl_seconds: 1\n",
       "cluster.lease_ttl_seconds"},
      {"cluster:\n  etcd: [http://127.0.0.1:1]\n  node_id: 'a/b'\n", "cluster.node_id: must be"},
      {"node:\n  name: x\ncluster:\n  etcd: [http://127.0.0.1:1]\n  node_id: y\n",
       "cluster.node_id: 'y' differs from node.name 'x'"},
      {"cluster:\n  etcd: [http://127.0.0.1:1]\n  advertise_url: 'http://a b'\n",
       "cluster.advertise_url"},
      {"cluster:\n  etcd: [http://127.0.0.1:1]\n  lease_tll_seconds: 5\n",
       "did you mean 'lease_ttl_seconds'"},
  };
  for (const auto &c : cases) {
    std::string cfg = dir.path() + "/bad.yaml";
    write_file(cfg, "tokens:\n  mode: none\n" + c.yaml);
    int st = -1;
    std::string out = sh(iptv_test::build_root() + "/orchestrator/iptvd/iptvd --channels " +
                             dir.path() + "/ch --data " + dir.path() +
                             "/data --listen 127.0.0.1:0" + " --config " + cfg + " 2>&1",
                         &st);
    EXPECT_EQ(st, 2) << c.yaml << "\n" << out;
    EXPECT_NE(out.find(c.expect), std::string::npos) << c.yaml << "\n" << out;
  }
  // The --node flag and cluster.node_id name the same node too.
  std::string cfg = dir.path() + "/bad.yaml";
  write_file(cfg, "tokens:\n  mode: none\ncluster:\n  etcd: [http://127.0.0.1:1]\n  node_id: y\n");
  int st = -1;
  std::string out = sh(iptv_test::build_root() + "/orchestrator/iptvd/iptvd --channels " +
                           dir.path() + "/ch --data " + dir.path() + "/data --listen 127.0.0.1:0" +
                           " --node z --config " + cfg + " 2>&1",
                       &st);
  EXPECT_EQ(st, 2) << out;
  EXPECT_NE(out.find("--node z differs from cluster.node_id 'y'"), std::string::npos) << out;
}

// etcd unreachable at start: iptvd retries and says so, and serves nothing it does not own;
// once etcd answers, it owns and serves the channel.
TEST(Cluster, EtcdUnreachableAtStartRetriesAndServesNothing) {
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  write_file(dir.path() + "/ch/c1.yaml", channel_yaml("c1"));
  int dead = iptv_test::free_port();
  Iptvd d(
      dir.path() + "/ch",
      {"--config", cluster_config(dir.path(), "n1", "http://127.0.0.1:" + std::to_string(dead))});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  EXPECT_TRUE(wait_for(20, [&] { return d.log().find("etcd unreachable") != std::string::npos; }))
      << d.log();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(d.worker_pid("c1"), 0) << "a worker runs for a channel this node does not own";
  EXPECT_NE(served(d, "c1").status, 200);
  Http h = d.get("/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_NE(h.body.find("\"etcd\":\"unreachable\""), std::string::npos) << h.body;
}

// One owner at a time; SIGKILL of the owner moves the channel to the other node within
// TTL + 5 s, and its playlist continues the media sequence (no reset).
TEST(Cluster, OwnerKilledChannelMovesWithoutSequenceReset) {
  Etcd etcd;
  ASSERT_TRUE(etcd.wait_up());
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  write_file(dir.path() + "/ch/c1.yaml", channel_yaml("c1"));
  Iptvd a(dir.path() + "/ch", {"--config", cluster_config(dir.path(), "na", etcd.url())});
  Iptvd b(dir.path() + "/ch", {"--config", cluster_config(dir.path(), "nb", etcd.url())});
  a.start();
  b.start();
  ASSERT_TRUE(a.running() && b.running()) << a.log() << b.log();
  ASSERT_TRUE(wait_for(60, [&] { return serving(a, "c1") || serving(b, "c1"); }))
      << a.log() << b.log();
  Iptvd &owner = serving(a, "c1") ? a : b;
  Iptvd &other = &owner == &a ? b : a;
  std::string owner_id = &owner == &a ? "na" : "nb";
  // Exclusive: etcd names the serving node, the other one runs no worker and serves nothing.
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(etcd.owner("c1"), owner_id);
    EXPECT_NE(served(other, "c1").status, 200);
    EXPECT_EQ(other.worker_pid("c1"), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  // Let the owner publish a few segments, then kill it.
  ASSERT_TRUE(
      wait_for(30, [&] { return parse_media(served(owner, "c1").body).sequences.size() >= 3; }));
  MediaList before = parse_media(served(owner, "c1").body);
  ASSERT_FALSE(before.sequences.empty());
  uint64_t last_before = before.sequences.back();
  double t0 = now_s();
  owner.signal(SIGKILL);
  double t_owned = 0, t_served = 0;
  bool moved = wait_for(kTtl + 30, [&] {
    if (!t_owned && etcd.owner("c1") == (owner_id == "na" ? "nb" : "na")) t_owned = now_s();
    return serving(other, "c1");
  });
  t_served = now_s();
  ASSERT_TRUE(moved) << other.log();
  if (!t_owned) t_owned = t_served;
  std::printf("takeover: owner key moved after %.2f s, playlist served after %.2f s (TTL %d s)\n",
              t_owned - t0, t_served - t0, kTtl);
  EXPECT_LE(t_owned - t0, kTtl + 5.0);
  EXPECT_LE(t_served - t0, kTtl + 5.0) << "on a loaded machine the worker start-up may be slow";
  // The new owner's worker carries its fencing token (the owner key's revision).
  pid_t wp = other.worker_pid("c1");
  ASSERT_GT(wp, 0);
  std::string cmdline = slurp("/proc/" + std::to_string(wp) + "/cmdline");
  EXPECT_NE(cmdline.find(std::string("--fencing-token\0", 16)), std::string::npos) << cmdline;
  MediaList after = parse_media(served(other, "c1").body);
  ASSERT_FALSE(after.sequences.empty());
  // No reset: the new owner's numbers continue past the old owner's (epoch numbering).
  EXPECT_GT(after.sequences.front(), last_before)
      << "media sequence reset on takeover: before " << last_before << ", after "
      << after.sequences.front();
  EXPECT_LT(after.sequences.front(), last_before + 60);
}

// etcd unreachable (stopped) from a node: it stops publishing within the TTL, and owns and
// serves again once etcd answers.
TEST(Cluster, PartitionedNodeStopsPublishingWithinTtl) {
  Etcd etcd;
  ASSERT_TRUE(etcd.wait_up());
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  write_file(dir.path() + "/ch/c1.yaml", channel_yaml("c1"));
  Iptvd a(dir.path() + "/ch", {"--config", cluster_config(dir.path(), "na", etcd.url())});
  a.start();
  ASSERT_TRUE(a.running()) << a.log();
  ASSERT_TRUE(wait_for(60, [&] { return serving(a, "c1"); })) << a.log();
  double t0 = now_s();
  etcd.signal(SIGSTOP);  // requests hang: unreachable, as behind a partition
  bool stopped = wait_for(kTtl + 10, [&] { return served(a, "c1").status != 200; });
  double dt = now_s() - t0;
  std::printf("partition: publishing stopped after %.2f s (TTL %d s)\n", dt, kTtl);
  EXPECT_TRUE(stopped) << a.log();
  EXPECT_LE(dt, kTtl + 0.5);
  EXPECT_NE(a.log().find("stopped publishing"), std::string::npos) << a.log();
  etcd.signal(SIGCONT);
  EXPECT_TRUE(wait_for(60, [&] { return serving(a, "c1"); })) << a.log();
  EXPECT_EQ(etcd.owner("c1"), "na");
  // A removed record releases its owner key (the node stays up, so its lease would keep it).
  std::filesystem::remove(dir.path() + "/ch/c1.yaml");
  EXPECT_TRUE(wait_for(20, [&] { return etcd.owner("c1").empty(); })) << a.log();
}

// Epoch-locked output: two nodes packaging the same channel from the same source give the same
// segment numbers and boundaries (durations) and the same PDT within one frame.
TEST(Cluster, TwoNodesSameSourceSameSegments) {
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  write_file(dir.path() + "/ch/c1.yaml", channel_yaml("c1"));
  Iptvd a(dir.path() + "/ch");
  Iptvd b(dir.path() + "/ch");
  a.start();
  b.start();
  ASSERT_TRUE(a.wait_live({"c1"}, 60, 4) && b.wait_live({"c1"}, 60, 4)) << a.log() << b.log();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  auto pdts = [](const std::string &text) {
    std::map<uint64_t, std::pair<double, std::string>> out;  // seq -> duration, PDT
    MediaList m = parse_media(text);
    std::istringstream in(text);
    std::string line, pdt;
    double dur = 0;
    uint64_t seq = m.media_sequence;
    while (std::getline(in, line)) {
      if (line.rfind("#EXT-X-PROGRAM-DATE-TIME:", 0) == 0) pdt = line.substr(25);
      if (line.rfind("#EXTINF:", 0) == 0) dur = std::stod(line.substr(8));
      if (!line.empty() && line[0] != '#') out[seq++] = {dur, pdt};
    }
    return out;
  };
  auto sa = pdts(served(a, "c1").body), sb = pdts(served(b, "c1").body);
  int common = 0;
  for (const auto &[seq, v] : sa) {
    auto it = sb.find(seq);
    if (it == sb.end()) continue;
    // The segments both nodes finished (the newest may still differ by when it was read).
    ++common;
    EXPECT_NEAR(v.first, it->second.first, 0.041) << "segment " << seq;
    GDateTime *pa = g_date_time_new_from_iso8601(v.second.c_str(), nullptr);
    GDateTime *pb = g_date_time_new_from_iso8601(it->second.second.c_str(), nullptr);
    ASSERT_TRUE(pa && pb) << v.second << " / " << it->second.second;
    EXPECT_LE(std::llabs(g_date_time_difference(pa, pb)), 41000) << "segment " << seq;
    g_date_time_unref(pa);
    g_date_time_unref(pb);
  }
  EXPECT_GE(common, 3) << served(a, "c1").body << "\n---\n" << served(b, "c1").body;
}
