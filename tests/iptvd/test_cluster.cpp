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

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "etcd_fixture.h"
#include "iptvd_fixture.h"

using namespace iptvd_test;

extern char **environ;

namespace {

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
      {"cluster:\n  etcd: [https://127.0.0.1:1]\n", "cluster.etcd[0]: https is not supported yet"},
      {"cluster:\n  etcd: [http://127.0.0.1:1]\n  username: root\n",
       "cluster.username: is not supported yet"},
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
  // Settled on the preferred node (a node that came up first may own it for a moment and hand
  // it over: MoveBackToThePreferredNodeIsMakeBeforeBreak).
  const std::string preferred = preferred_node({"na", "nb"}, "c1");
  ASSERT_TRUE(wait_for(
      60,
      [&] { return etcd.owner("c1") == preferred && serving(preferred == "na" ? a : b, "c1"); }))
      << a.log() << b.log();
  Iptvd &owner = preferred == "na" ? a : b;
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
  // And a hot-standby channel (a short window: its standby serves after 4 segments), run by a
  // second node too; `b`'s name leaves c1 on na.
  write_file(dir.path() + "/ch/hs.yaml",
             "channel_id: hs\nsource: test://smpte\nprofiles: [180p-250kbps]\npreset: "
             "ultrafast\nkeyframe_interval_seconds: 1\nhls:\n  segment_seconds: 1\n  "
             "window_segments: 3\nredundancy: hot-standby\n");
  std::string b_id;
  for (int i = 0; b_id.empty(); ++i)
    if (preferred_node({"na", "n" + std::to_string(i)}, "c1") == "na")
      b_id = "n" + std::to_string(i);
  Iptvd a(dir.path() + "/ch", {"--config", cluster_config(dir.path(), "na", etcd.url())});
  Iptvd b(dir.path() + "/ch", {"--config", cluster_config(dir.path(), b_id, etcd.url())});
  a.start();
  b.start();
  ASSERT_TRUE(a.running() && b.running()) << a.log() << b.log();
  ASSERT_TRUE(wait_for(60,
                       [&] {
                         return etcd.owner("c1") == "na" && serving(a, "c1") &&
                                !etcd.owner("hs", "standby").empty() && serving(a, "hs") &&
                                serving(b, "hs");
                       }))
      << a.log() << b.log();
  double t0 = now_s();
  etcd.signal(SIGSTOP);  // requests hang: unreachable, as behind a partition
  // Both stop: the owner of c1 (and of hs, or its standby), and hs's other node.
  bool stopped = wait_for(kTtl + 10, [&] {
    return served(a, "c1").status != 200 && served(a, "hs").status != 200 &&
           served(b, "hs").status != 200;
  });
  double dt = now_s() - t0;
  std::printf("partition: publishing stopped after %.2f s (TTL %d s)\n", dt, kTtl);
  EXPECT_TRUE(stopped) << a.log() << b.log();
  EXPECT_LE(dt, kTtl + 0.5);
  EXPECT_NE(a.log().find("stopped publishing"), std::string::npos) << a.log();
  // Cut off from etcd, the node is not ready (it can prove no ownership).
  Http ready = a.get("/readyz");
  EXPECT_EQ(ready.status, 503) << ready.body;
  EXPECT_NE(ready.body.find("\"etcd\":\"unreachable\""), std::string::npos) << ready.body;
  etcd.signal(SIGCONT);
  EXPECT_TRUE(wait_for(60, [&] { return serving(a, "c1"); })) << a.log();
  EXPECT_EQ(etcd.owner("c1"), "na");
  // The hot standby was fenced too (its own log line).
  EXPECT_NE((a.log() + b.log()).find("stopped the hot standby"), std::string::npos)
      << a.log() << b.log();
  // A removed record releases its owner key (the node stays up, so its lease would keep it).
  std::filesystem::remove(dir.path() + "/ch/c1.yaml");
  EXPECT_TRUE(wait_for(20, [&] { return etcd.owner("c1").empty(); })) << a.log();
}

// /readyz in a cluster counts only the channels this node owns (the others are offline here by
// design), and a grouped worker (worker.channels_per_process) carries its fencing token like a
// worker of its own: the group logs "publishing under fencing token REV" with REV the owner
// key's revision in etcd.
TEST(Cluster, ReadyzCountsOwnedChannelsGroupedWorkersCarryToken) {
  Etcd etcd;
  ASSERT_TRUE(etcd.wait_up());
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  const std::vector<std::string> ids = {"c1", "c2", "c3"};
  for (const auto &id : ids) write_file(dir.path() + "/ch/" + id + ".yaml", channel_yaml(id));
  auto grouped = [&](const std::string &node) {
    std::string cfg = cluster_config(dir.path(), node, etcd.url());
    // Debug: the group process's own output (where it logs the token) is logged at debug.
    write_file(cfg, slurp(cfg) +
                        "worker:\n  channels_per_process: 3\n  group_transcode: true\n"
                        "log:\n  level: debug\n");
    return cfg;
  };
  Iptvd a(dir.path() + "/ch", {"--config", grouped("na")});
  Iptvd b(dir.path() + "/ch", {"--config", grouped("nb")});
  a.start();
  b.start();
  ASSERT_TRUE(a.running() && b.running()) << a.log() << b.log();
  auto owner_of = [&](const std::string &id) -> Iptvd * {
    std::string o = etcd.owner(id);
    return o == "na" ? &a : o == "nb" ? &b : nullptr;
  };
  ASSERT_TRUE(wait_for(
      90,
      [&] {
        for (const auto &id : ids) {
          Iptvd *o = owner_of(id);
          // Live on its preferred node (where it stays).
          if (!o || etcd.owner(id) != preferred_node({"na", "nb"}, id) || o->state(id) != "live")
            return false;
        }
        return true;
      }))
      << a.log() << b.log();
  int owned_by_a = 0;
  for (const auto &id : ids) owned_by_a += owner_of(id) == &a;
  // Both nodes ready: each counts its own channels, the rest are owned elsewhere.
  for (Iptvd *d : {&a, &b}) {
    Http h = d->get("/readyz");
    EXPECT_EQ(h.status, 200) << h.body;
    auto j = nlohmann::json::parse(h.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << h.body;
    int mine = d == &a ? owned_by_a : (int)ids.size() - owned_by_a;
    EXPECT_EQ(j.value("owned_elsewhere", -1), (int)ids.size() - mine) << h.body;
    EXPECT_EQ(j["states"].value("live", 0), mine) << h.body;
    EXPECT_EQ(j["cluster"].value("etcd", ""), "ok") << h.body;
  }
  // Each channel runs in a group process of its owner, under the owner key's revision.
  for (const auto &id : ids) {
    Iptvd *o = owner_of(id);
    ASSERT_NE(o, nullptr);
    int64_t rev = etcd.revision(id);
    ASSERT_GT(rev, 0);
    pid_t wp = o->worker_pid(id);
    ASSERT_GT(wp, 0);
    std::string cmdline = slurp("/proc/" + std::to_string(wp) + "/cmdline");
    EXPECT_NE(cmdline.find(std::string("--group\0", 8)), std::string::npos) << cmdline;
    std::string line = "channel " + id + " publishing under fencing token " + std::to_string(rev);
    EXPECT_TRUE(wait_for(10, [&] { return o->log().find(line) != std::string::npos; }))
        << line << "\n"
        << o->log();
  }
}

// Move-back, make-before-break: the channel's preferred node joins while another node owns the
// channel. It runs the worker unserved until live, then the owner stops serving and releases the
// key, and the preferred node serves the worker already running: the playlist served by
// whichever node serves it (every node polled every 100 ms, as the cluster edge does) never skips
// a segment number nor resets, two nodes never serve at once, and etcd's owner key goes from one
// node to the other only through an absent key.
TEST(Cluster, MoveBackToThePreferredNodeIsMakeBeforeBreak) {
  Etcd etcd;
  ASSERT_TRUE(etcd.wait_up());
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/ch");
  write_file(dir.path() + "/ch/c1.yaml", channel_yaml("c1"));
  const std::string p_id = preferred_node({"na", "nb"}, "c1");
  const std::string q_id = p_id == "na" ? "nb" : "na";
  Iptvd q(dir.path() + "/ch", {"--config", cluster_config(dir.path(), q_id, etcd.url())});
  q.start();
  ASSERT_TRUE(q.running()) << q.log();
  ASSERT_TRUE(wait_for(60, [&] {
    return etcd.owner("c1") == q_id && parse_media(served(q, "c1").body).sequences.size() >= 3;
  })) << q.log();
  Iptvd p(dir.path() + "/ch", {"--config", cluster_config(dir.path(), p_id, etcd.url())});
  std::atomic<bool> stop{false};
  uint64_t highest = 0, skipped = 0, last_msn = 0;
  int max_serving = 0;
  double nobody_since = 0, longest_nobody = 0;
  std::vector<std::string> problems;
  std::thread follower([&] {
    while (!stop) {
      int serving = 0;
      for (Iptvd *d : {&q, &p}) {
        if (!d->running()) continue;
        Http h = served(*d, "c1");
        MediaList m = h.status == 200 ? parse_media(h.body) : MediaList{};
        if (m.sequences.empty()) continue;
        ++serving;
        if (m.media_sequence < last_msn)
          problems.push_back("media sequence reset: " + std::to_string(last_msn) + " -> " +
                             std::to_string(m.media_sequence));
        last_msn = std::max(last_msn, m.media_sequence);
        if (highest && m.sequences.back() > highest && m.sequences.front() > highest + 1)
          skipped += m.sequences.front() - highest - 1;
        highest = std::max(highest, m.sequences.back());
      }
      max_serving = std::max(max_serving, serving);
      double now = now_s();
      if (serving == 0 && !nobody_since) nobody_since = now;
      if (serving > 0 && nobody_since) {
        longest_nobody = std::max(longest_nobody, now - nobody_since);
        nobody_since = 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  double t0 = now_s();
  p.start();
  bool moved = wait_for(90, [&] { return etcd.owner("c1") == p_id && serving(p, "c1"); });
  double t_moved = now_s() - t0;
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  follower.join();
  ASSERT_TRUE(moved) << p.log() << q.log();
  std::printf(
      "move-back: %s joined; it serves after %.2f s; longest time nobody served %.2f s; "
      "%llu segment numbers skipped\n",
      p_id.c_str(), t_moved, longest_nobody, (unsigned long long)skipped);
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_LE(max_serving, 1) << "two nodes served the channel at once";
  EXPECT_EQ(skipped, 0u) << "the move-back skipped segment numbers";
  EXPECT_LE(longest_nobody, 4.0);
  EXPECT_NE(p.log().find("make-before-break"), std::string::npos) << p.log();
  EXPECT_NE(q.log().find("handed the channel over"), std::string::npos) << q.log();
  EXPECT_EQ(q.worker_pid("c1"), 0);
  auto history = etcd.owner_history("c1");
  std::string seen;
  for (const auto &[rev, node] : history) seen += std::to_string(rev) + ":" + node + " ";
  for (size_t i = 1; i < history.size(); ++i)
    if (!history[i].second.empty()) {
      EXPECT_EQ(history[i - 1].second, "") << "owner changed without a gap: " << seen;
    }
  EXPECT_EQ(history.back().second, p_id) << seen;
  // The worker started before the key was p's carries the fencing token since: a command on its
  // pipe once p owned the key, acknowledged by the worker (iptvd logs the ack; the worker's own
  // "publishing under fencing token" line is debug output).
  std::string line =
      "worker did 'fencing_token': fencing token " + std::to_string(etcd.revision("c1"));
  EXPECT_TRUE(wait_for(10, [&] { return p.log().find(line) != std::string::npos; })) << line << "\n"
                                                                                     << p.log();
}

// The first video PTS of a segment as ffprobe reads it from `url` (s; -1 when unreadable).
double first_video_pts(const std::string &url) {
  std::string out =
      sh("timeout 20 ffprobe -v error -select_streams v:0 -show_entries "
         "stream=start_time -of csv=p=0 '" +
         url + "' 2>/dev/null");
  try {
    return std::stod(out);
  } catch (...) {
    return -1;
  }
}

// Epoch-locked output: two nodes packaging the same channel from the same source give the same
// segment numbers and boundaries (durations), the same PDT within one frame, and the same
// MPEG-TS PTS within one frame: the PTS is the PDT (UTC in 90 kHz modulo 2^33), so a player
// that moves from one node to the other (a takeover behind an edge) continues its timeline.
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
    if (common <= 2) {
      // The PTS: the same on both nodes, and the PDT's UTC modulo the 33-bit wrap.
      std::string uri = "/hls/c1/180p/seg-" + std::to_string(seq) + ".ts";
      double pts_a = first_video_pts(a.base() + uri), pts_b = first_video_pts(b.base() + uri);
      double utc = g_date_time_to_unix(pa) + g_date_time_get_microsecond(pa) / 1e6;
      double wrap = 8589934592.0 / 90000.0;
      double expect = utc - std::floor(utc / wrap) * wrap;
      EXPECT_NEAR(pts_a, pts_b, 0.041) << "segment " << seq;
      EXPECT_NEAR(pts_a, expect, 0.041) << "segment " << seq << " PDT " << v.second;
      std::printf("segment %llu: PTS %.3f s on one node, %.3f s on the other, PDT %s\n",
                  (unsigned long long)seq, pts_a, pts_b, v.second.c_str());
    }
    g_date_time_unref(pa);
    g_date_time_unref(pb);
  }
  EXPECT_GE(common, 3) << served(a, "c1").body << "\n---\n" << served(b, "c1").body;
}
