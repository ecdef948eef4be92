// iptvctl status / channel show / events [--follow] / failover / session against a running
// ApiServer (the real binary, as people and scripts run it).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "api_fixture.h"

using nlohmann::json;
using namespace iptv_test;

std::string slurp_file(const std::string &path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

class IptvctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tree_ = new TempDir();
    ASSERT_TRUE(make_hls_tree(tree_->path() + "/news", 3));
  }
  static void TearDownTestSuite() { delete tree_; }
  void SetUp() override {
    cp_ = std::make_unique<ControlPlane>(tree_->path() + "/news");
    bin_ = g_getenv("IPTVCTL") ? g_getenv("IPTVCTL") : "";
    ASSERT_FALSE(bin_.empty());
  }
  // Runs iptvctl with URL and key in the environment (HOME set to an empty dir: no config).
  std::string run(const std::string &args, int *status, const std::string &role = "operator",
                  const std::string &env = "") {
    std::string e = "env -u IPTV_URL -u IPTV_API_KEY HOME=" + home_.path() +
                    " XDG_CONFIG_HOME=" + home_.path() + "/.config ";
    if (!role.empty()) e += "IPTV_URL=" + cp_->base + " IPTV_API_KEY=" + cp_->keys[role] + " ";
    return sh(e + env + " " + bin_ + " " + args + " 2>&1", status);
  }
  static TempDir *tree_;
  TempDir home_;
  std::unique_ptr<ControlPlane> cp_;
  std::string bin_;
};
TempDir *IptvctlTest::tree_ = nullptr;

TEST_F(IptvctlTest, StatusTableAndJson) {
  int st = -1;
  std::string out = run("status", &st, "read");
  ASSERT_EQ(st, 0) << out;
  auto lines = iptv::split(out, '\n');
  ASSERT_EQ(lines.size(), 8u) << out;  // header + 7 channels
  EXPECT_TRUE(
      std::regex_search(lines[0], std::regex("^CHANNEL +STATE +SOURCE +LAST SEG +RESTARTS")));
  EXPECT_TRUE(std::regex_search(out, std::regex("\nmusic +failover +backup +1\\.5s +0 +0 +- ")))
      << out;
  out = run("status --format json --state live", &st, "read");
  ASSERT_EQ(st, 0) << out;
  json j = json::parse(out);
  for (const auto &c : j["channels"]) EXPECT_EQ(c["state"], "live");
  EXPECT_EQ(j["channels"].size(), 4u);
  // No key: the API's 401 comes through with exit code 1.
  out = run("status", &st, "", "IPTV_URL=" + cp_->base);
  EXPECT_EQ(st, 1);
  EXPECT_NE(out.find("HTTP 401 unauthorized"), std::string::npos) << out;
}

TEST_F(IptvctlTest, UrlAndKeyFromFlagsEnvOrConfigFile) {
  int st = -1;
  std::string out = run("status --url " + cp_->base + " --key " + cp_->keys["read"], &st, "");
  EXPECT_EQ(st, 0) << out;
  std::string keyfile = home_.path() + "/key";
  iptv::write_file_atomic(keyfile, cp_->keys["read"] + "\n");
  std::filesystem::create_directories(home_.path() + "/.config");
  iptv::write_file_atomic(home_.path() + "/.config/iptvctl.yaml",
                          "url: " + cp_->base + "\nkey_file: " + keyfile + "\n");
  out = run("status", &st, "");
  EXPECT_EQ(st, 0) << out;
  // Flags beat the environment, which beats the file.
  out = run("status --key wrong", &st, "");
  EXPECT_EQ(st, 1);
  out = run("status", &st, "", "IPTV_API_KEY=wrong");
  EXPECT_EQ(st, 1);
  iptv::write_file_atomic(home_.path() + "/.config/iptvctl.yaml", "urll: x\n");
  out = run("status", &st, "");
  EXPECT_EQ(st, 2);  // a broken config file is a usage error
  EXPECT_NE(out.find("unknown key 'urll'"), std::string::npos) << out;
  out = run("status --bogus", &st, "read");
  EXPECT_EQ(st, 2);
}

TEST_F(IptvctlTest, ChannelShowAnswersTheIncidentQuestions) {
  cp_->fake.post_event("failover.activated", "news");
  int st = -1;
  std::string out = run("channel show news", &st, "read");
  ASSERT_EQ(st, 0) << out;
  EXPECT_NE(out.find("state     live: receiving"), std::string::npos) << out;
  EXPECT_TRUE(
      std::regex_search(out, std::regex("360p +on +x264enc +1\\.5s +100 +600 kbit/s +25\\.0")))
      << out;
  EXPECT_NE(out.find("srt://***@10.0.0.1:9000?***"), std::string::npos);
  EXPECT_EQ(out.find("topsecret"), std::string::npos);
  EXPECT_NE(out.find("failover.activated"), std::string::npos);
  out = run("channel show news --format json", &st, "read");
  EXPECT_EQ(json::parse(out)["renditions"][0]["encoder"], "x264enc");
  out = run("channel show nope", &st, "read");
  EXPECT_EQ(st, 1);
  EXPECT_NE(out.find("HTTP 404"), std::string::npos);
}

TEST_F(IptvctlTest, FailoverAndReturn) {
  int st = -1;
  std::string out = run("failover news", &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("news: failover accepted"), std::string::npos) << out;
  ASSERT_EQ(cp_->fake.actions.size(), 1u);
  EXPECT_EQ(cp_->fake.actions[0].second, iptv::control::Action::kFailover);
  out = run("failover music --return", &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_EQ(cp_->fake.actions[1].second, iptv::control::Action::kReturn);
  out = run("failover news --return", &st);  // already on the primary
  EXPECT_EQ(st, 1);
  EXPECT_NE(out.find("HTTP 409 conflict"), std::string::npos) << out;
  out = run("failover news", &st, "read");
  EXPECT_EQ(st, 1);
  EXPECT_NE(out.find("HTTP 403"), std::string::npos) << out;
}

TEST_F(IptvctlTest, SessionCreatePlaysAndRevokeStopsIt) {
  int st = -1;
  std::string out =
      run("session create --channel news --subject alice --region GB --format json", &st);
  ASSERT_EQ(st, 0) << out;
  json j = json::parse(out);
  std::string url = j["playback_url"];
  EXPECT_EQ(http("GET", url).status, 200);
  out = run("session create --channel news --subject mallory", &st);
  EXPECT_EQ(st, 1);
  EXPECT_NE(out.find("not_entitled"), std::string::npos) << out;
  out = run("session revoke " + j["session_id"].get<std::string>(), &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_EQ(http("GET", url).status, 403);
  out = run("session create --channel news --subject alice", &st);
  ASSERT_EQ(st, 0) << out;
  EXPECT_NE(out.find("url      " + cp_->base + "/hls/news/"), std::string::npos) << out;
  out = run("session revoke --subject alice", &st);
  EXPECT_EQ(st, 0) << out;
  EXPECT_NE(out.find("revoked 1 sessions of alice"), std::string::npos) << out;
}

TEST_F(IptvctlTest, EventsAndFollow) {
  cp_->fake.post_event("source.lost", "news");
  cp_->fake.post_event("failover.activated", "news");
  int st = -1;
  std::string out = run("events", &st, "read");
  ASSERT_EQ(st, 0) << out;
  auto lines = iptv::split(out, '\n');
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_NE(lines[0].find("source.lost"), std::string::npos);  // oldest first
  std::thread poster([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    cp_->fake.post_event("failover.returned", "music");
    cp_->fake.post_event("failover.returned", "news");
  });
  out = run("events --follow --max 1 --channel news --format json", &st, "read", "timeout 20");
  poster.join();
  EXPECT_EQ(st, 0) << out;
  lines = iptv::split(out, '\n');
  // Issue 25 item 7: --follow starts now; the history is not replayed unless asked.
  ASSERT_EQ(lines.size(), 1u) << out;
  EXPECT_EQ(json::parse(lines[0])["event_type"], "failover.returned");
  EXPECT_EQ(json::parse(lines[0])["channel_id"], "news");
  EXPECT_EQ(json::parse(lines[0])["id"], 4);
  // --since ID replays what came after ID (0: everything), then follows.
  out = run("events --follow --since 1 --max 3 --format json", &st, "read", "timeout 20");
  EXPECT_EQ(st, 0) << out;
  lines = iptv::split(out, '\n');
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(json::parse(lines[0])["id"], 2);
  EXPECT_EQ(json::parse(lines[2])["id"], 4);
}

// Issue 25 item 7: long event types keep the columns; a restarted daemon is followed again.
TEST_F(IptvctlTest, EventColumnsHoldAndFollowSurvivesARestart) {
  cp_->fake.post_event("probe.condition.cleared", "news");
  cp_->fake.post_event("a.very.long.event.type.that.never.ends", "news");
  cp_->fake.post_event("source.lost", "news");
  int st = -1;
  std::string out = run("events", &st, "read");
  ASSERT_EQ(st, 0) << out;
  auto lines = iptv::split(out, '\n');
  ASSERT_EQ(lines.size(), 3u) << out;
  // The channel column starts at the same place on every line.
  size_t col = lines[0].find(" news ");
  ASSERT_NE(col, std::string::npos) << out;
  for (const auto &l : lines) EXPECT_EQ(l.find(" news "), col) << out;

  // The daemon's API goes away and comes back on the same port, answering 404 for a while (as
  // iptvd's origin does before it mounts the API): iptvctl says so, reconnects and resumes.
  TempDir t;
  std::string outf = t.path() + "/out", errf = t.path() + "/err";
  std::string e = "env -u IPTV_URL -u IPTV_API_KEY HOME=" + home_.path() +
                  " IPTV_URL=" + cp_->base + " IPTV_API_KEY=" + cp_->keys["read"] + " ";
  sh(e + "timeout 40 " + bin_ + " events --follow --max 1 --format json >" + outf + " 2>" + errf +
     " & echo $! > " + t.path() + "/pid");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  cp_->unmount_api();
  cp_->fake.post_event("source.lost", "news");  // while it is away: delivered on resume
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  cp_->mount_api();
  for (int i = 0; i < 250 && slurp_file(outf).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string err = slurp_file(errf), got = slurp_file(outf);
  EXPECT_NE(err.find("reconnecting"), std::string::npos) << err;
  EXPECT_NE(err.find("reconnected, resuming after event"), std::string::npos) << err;
  EXPECT_NE(got.find("\"id\":4"), std::string::npos) << got << err;
  sh("kill $(cat " + t.path() + "/pid) 2>/dev/null");
}

// Issue 25 item 7: iptvctl token builds URLs on the origin of IPTV_URL, like the other commands.
TEST_F(IptvctlTest, TokenUsesIptvUrl) {
  TempDir t;
  std::ofstream(t.path() + "/keys")
      << "k1 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n";
  int st = -1;
  std::string out = run("token --channel news --ttl 60 --key-file " + t.path() + "/keys", &st);
  ASSERT_EQ(st, 0) << out;
  EXPECT_EQ(out.rfind(cp_->base + "/hls/news/", 0), 0u) << out;
  out = run("token --channel news --ttl 60 --key-file " + t.path() +
                "/keys --base http://edge.example:9000/",
            &st);
  EXPECT_EQ(out.rfind("http://edge.example:9000/hls/news/", 0), 0u) << out;
}

// Issue 25 item 7: probe --duration N follows a live stream for N s (within 0.5 s), neither one
// target duration less nor a long inspection grace more.
TEST_F(IptvctlTest, ProbeFollowsForItsDuration) {
  // A live copy of the tree: no ENDLIST, 6 s target duration (a reload every 3 to 6 s).
  TempDir live;
  std::string src = slurp_file(tree_->path() + "/news/index.m3u8");
  std::string pl;
  for (const auto &l : iptv::split(src, '\n')) {
    if (l == "#EXT-X-ENDLIST") continue;
    pl += (l.rfind("#EXT-X-TARGETDURATION", 0) == 0 ? "#EXT-X-TARGETDURATION:6" : l) + "\n";
  }
  std::filesystem::copy(tree_->path() + "/news", live.path() + "/news");
  std::ofstream(live.path() + "/news/index.m3u8", std::ios::trunc) << pl;
  cp_ = std::make_unique<ControlPlane>(live.path() + "/news");
  std::string hex;  // the plane's key ring: k1 = 32 bytes of 0x42
  for (int i = 0; i < 32; ++i) hex += "42";
  std::ofstream(live.path() + "/keys") << "k1 " << hex << "\n";
  int tst = -1;
  std::string url = run("token --channel news --ttl 600 --key-file " + live.path() + "/keys", &tst);
  ASSERT_EQ(tst, 0) << url;
  url = url.substr(0, url.find('\n'));
  for (double want : {4.0, 7.0}) {
    int st = -1;
    char d[16];
    std::snprintf(d, sizeof d, "%.0f", want);
    double t0 = (double)g_get_monotonic_time() / 1e6;
    std::string out = run("probe " + url + " --format json --no-inspect --duration " + d, &st, "");
    double took = (double)g_get_monotonic_time() / 1e6 - t0;
    auto j = json::parse(out.substr(out.find('{')), nullptr, false);
    ASSERT_TRUE(j.is_object()) << out;
    EXPECT_TRUE(j["probed"].get<bool>()) << out;
    EXPECT_NEAR(took, want, 0.5) << out;
  }
}
