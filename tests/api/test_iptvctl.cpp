// iptvctl status / channel show / events [--follow] / failover / session against a running
// ApiServer (the real binary, as people and scripts run it).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "api_fixture.h"

using nlohmann::json;
using namespace iptv_test;

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
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(json::parse(lines[2])["event_type"], "failover.returned");
  EXPECT_EQ(json::parse(lines[2])["channel_id"], "news");
  EXPECT_EQ(json::parse(lines[2])["id"], 4);
}
