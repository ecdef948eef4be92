// The operator console (docs/console.md) in Debian's chromium, driven by playwright-core
// (console.mjs, one scenario per run), against a real iptvd running the demo records of
// channels/ (with their logos) and its real workers. Screenshots of the grid and of a channel
// page go to <build>/console-screenshots/ for review.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "browser_player.h"
#include "iptvd_fixture.h"

using namespace iptvd_test;
using nlohmann::json;

namespace {

std::string quote(const std::string &s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The report is the last line of the script's output that parses as a JSON object.
json last_json(const std::string &out) {
  size_t end = out.size();
  while (end > 0) {
    size_t start = out.rfind('\n', end - 1);
    start = start == std::string::npos ? 0 : start + 1;
    std::string line = out.substr(start, end - start);
    if (!line.empty() && line[0] == '{') {
      auto j = json::parse(line, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    if (start == 0) break;
    end = start - 1;
  }
  return {{"ok", false}, {"failed", "no report: " + out}};
}

std::string screenshot_dir() {
  const char *d = std::getenv("IPTV_SCREENSHOT_DIR");
  return d ? d : "console-screenshots";
}

json run_scenario(const std::string &base, const std::string &scenario, const std::string &key,
                  const std::string &read_key, std::string *raw, const std::string &env = "") {
  std::string cmd = env + " node " + quote(iptv_test::browser_dir() + "/console.mjs") + " --base " +
                    quote(base) + " --scenario " + scenario + " --key " + quote(key) + " --shots " +
                    quote(screenshot_dir());
  if (!read_key.empty()) cmd += " --read-key " + quote(read_key);
  *raw = iptv_test::sh(cmd + " 2>&1");
  return last_json(*raw);
}

class BrowserConsole : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    channels_ = new iptv_test::TempDir();
    namespace fs = std::filesystem;
    const char *src = std::getenv("IPTV_SOURCE_ROOT");
    std::string dir = channels_->path();
    fs::copy(std::string(src ? src : ".") + "/channels", dir + "/channels",
             fs::copy_options::recursive);
    // Tokens on (edgeauth, the key ring iptvd creates): the preview opens a real session.
    write_file(dir + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
    daemon_ = new Iptvd(dir + "/channels", {"--config", dir + "/iptvd.yaml"});
    daemon_->start();
    if (!daemon_->running()) return;
    ready_ = daemon_->wait_live({"demo-news", "demo-music", "demo-backup"}, 90, 2);
    admin_ = daemon_->admin_key();
    for (auto [role, out] : {std::pair{"read", &read_}, {"operator", &operator_}}) {
      Http r = daemon_->post(
          "/api/v1/keys",
          std::string(R"({"name":"console test )") + role + R"(","role":")" + role + "\"}", admin_);
      auto j = json::parse(r.body, nullptr, false);
      if (r.status == 201 && !j.is_discarded()) *out = j["key"].get<std::string>();
    }
  }
  static void TearDownTestSuite() {
    delete daemon_;
    delete channels_;
    daemon_ = nullptr;
    channels_ = nullptr;
  }
  void SetUp() override {
    std::string missing = iptv_test::browser_missing();
    ASSERT_EQ(missing, "") << "browser tests need " << missing;
    ASSERT_TRUE(daemon_ && daemon_->running());
    ASSERT_TRUE(ready_) << daemon_->log();
    ASSERT_FALSE(read_.empty());
    ASSERT_FALSE(operator_.empty());
  }
  json run(const std::string &scenario, const std::string &key, std::string *raw) {
    return run_scenario(daemon_->base(), scenario, key, read_, raw);
  }
  static void expect_no_console_errors(const json &r, const std::string &raw) {
    EXPECT_TRUE(r.contains("console_errors")) << raw;
    EXPECT_TRUE(r.value("console_errors", json::array()).empty()) << raw;
  }

  static iptv_test::TempDir *channels_;
  static Iptvd *daemon_;
  static bool ready_;
  static std::string admin_, read_, operator_;
};

iptv_test::TempDir *BrowserConsole::channels_ = nullptr;
Iptvd *BrowserConsole::daemon_ = nullptr;
bool BrowserConsole::ready_ = false;
std::string BrowserConsole::admin_, BrowserConsole::read_, BrowserConsole::operator_;

// Login, then the grid lists the three demo channels, each with its logo and a thumbnail that
// the page refreshes by itself; the filters narrow it.
TEST_F(BrowserConsole, LoginGridListsDemoChannelsWithLiveThumbnails) {
  std::string raw;
  json r = run("grid", admin_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  std::vector<std::string> rows = r["rows"];
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(rows, (std::vector<std::string>{"demo-backup", "demo-music", "demo-news"})) << raw;
  ASSERT_EQ(r["thumbnails"].size(), 3u) << raw;
  for (const auto &t : r["thumbnails"]) {
    EXPECT_EQ(t["w"], 320) << raw;  // the worker's ~320 px JPEG
    EXPECT_LT(t["age"].get<double>(), 15.0) << raw;
  }
  ASSERT_EQ(r["logos"].size(), 3u) << raw;
  for (const auto &l : r["logos"]) EXPECT_GT(l["w"].get<int>(), 0) << raw;
  for (const auto &c : r["cells"]) {
    EXPECT_EQ(c["state"], "live") << raw;
    EXPECT_EQ(c["source"], "primary") << raw;
    ASSERT_FALSE(c["renditions"].empty()) << raw;
    EXPECT_NE(c["renditions"][0].get<std::string>().find("x264enc (software)"), std::string::npos)
        << raw;
  }
  EXPECT_EQ(r["rows_music"], json::array({"demo-music"})) << raw;
  EXPECT_TRUE(r["rows_offline"].empty()) << raw;
  expect_no_console_errors(r, raw);
  EXPECT_TRUE(std::filesystem::exists(screenshot_dir() + "/console-grid.png"));
}

// The channel page plays the preview (hls.js, a short operator session) for at least 5 s and
// switches to the rendition picked in the selector; the latency is measured.
TEST_F(BrowserConsole, PreviewPlaysAndSwitchesRendition) {
  std::string raw;
  json r = run("preview", operator_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  EXPECT_EQ(r["levels"].size(), 3u) << raw;  // Auto + the two rungs of demo-news
  EXPECT_EQ(r["status"]["level"], r["switch_to"]) << raw;
  EXPECT_GE(std::stod(r["status"]["played"].get<std::string>()), 6.0) << raw;
  EXPECT_FALSE(r["status"].value("latency", "").empty()) << raw;
  // The diagnosis is shown: every step passes, or the first failing hop is named.
  std::string diag = r["diagnosis"].get<std::string>();
  EXPECT_TRUE(diag.find("steps pass") != std::string::npos ||
              diag.find("First failing hop") != std::string::npos)
      << raw;
  EXPECT_GT(r["timeline"].get<int>(), 0) << raw;
  expect_no_console_errors(r, raw);
  EXPECT_TRUE(std::filesystem::exists(screenshot_dir() + "/console-channel.png"));
}

// A failover asked from the page (with its confirmation) shows as the channel's state within
// 3 s; a cancelled confirmation sends nothing; the incident note is recorded.
TEST_F(BrowserConsole, FailoverFromThePageShowsWithinThreeSeconds) {
  std::string raw;
  json r = run("failover", operator_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  EXPECT_EQ(r["state_before"], "live") << raw;
  EXPECT_LE(r["failover_shown_ms"].get<int>(), 3000) << raw;
  std::printf("failover shown on the page %d ms after the confirmation\n",
              r["failover_shown_ms"].get<int>());
  EXPECT_NE(r["banner"].get<std::string>().find("accepted"), std::string::npos) << raw;
  EXPECT_EQ(r["restart_cancelled_banner"], r["banner"]) << raw;  // nothing was sent
  EXPECT_NE(r["incident_banner"].get<std::string>().find("Incident note added"), std::string::npos)
      << raw;
  EXPECT_NE(r["state_after"], "failover") << raw;
  expect_no_console_errors(r, raw);
  // The audit names the operator's key for the failover.
  Http a = daemon_->get("/api/v1/audit?action=channel.action", admin_);
  EXPECT_NE(a.body.find("failover"), std::string::npos) << a.body;
}

// A read key sees the channel but no action button and no preview; its own POST, made by hand
// with the session's CSRF token, is refused by the API (403).
TEST_F(BrowserConsole, ReadKeySeesNoActionsAndItsPostIsForbidden) {
  std::string raw;
  json r = run("readonly", read_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  EXPECT_TRUE(r["action_buttons"].empty()) << raw;
  EXPECT_NE(r["preview_text"].get<std::string>().find("operator role"), std::string::npos) << raw;
  EXPECT_EQ(r["post"]["role"], "read") << raw;
  EXPECT_EQ(r["post"]["status"], 403) << raw;
  EXPECT_EQ(r["post"]["body"]["error"], "forbidden") << raw;
  EXPECT_TRUE(r["admin_link_hidden"].get<bool>()) << raw;
  expect_no_console_errors(r, raw);
}

// With the session cookie, a POST or PUT without the CSRF token, or with a wrong one, is refused
// (403 csrf); the same call with the session's token is accepted.
TEST_F(BrowserConsole, PostWithoutCsrfTokenIsRefused) {
  std::string raw;
  json r = run("csrf", admin_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  for (const char *k : {"none", "wrong", "put"}) {
    EXPECT_EQ(r["results"][k]["status"], 403) << k << " " << raw;
    EXPECT_EQ(r["results"][k]["body"]["error"], "csrf") << k << " " << raw;
  }
  EXPECT_EQ(r["results"]["right"]["status"], 202) << raw;
  expect_no_console_errors(r, raw);
}

// Tab alone reaches every action button of the channel page; Enter opens the confirmation with
// the focus on Cancel, and Escape closes it and gives the focus back.
TEST_F(BrowserConsole, KeyboardReachesEveryAction) {
  std::string raw;
  json r = run("keyboard", operator_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  std::vector<std::string> actions = r["actions"], reached = r["reached"];
  std::sort(actions.begin(), actions.end());
  std::sort(reached.begin(), reached.end());
  EXPECT_GE(actions.size(), 7u) << raw;  // 4 channel actions, 2 renditions, the incident note
  EXPECT_EQ(reached, actions) << raw;
  EXPECT_EQ(r["dialog_focus"], "confirm-cancel") << raw;
  EXPECT_EQ(r["focus_after_escape"], "action-purge") << raw;
  expect_no_console_errors(r, raw);
}

// A wrong key, a channel that does not exist and a session cookie the daemon does not know each
// show a message on the page.
TEST_F(BrowserConsole, BadInputShowsAMessage) {
  std::string raw;
  json r = run("errors", admin_, &raw);
  ASSERT_TRUE(r.value("ok", false)) << raw;
  EXPECT_NE(r["wrong_key"].get<std::string>().find("not valid"), std::string::npos) << raw;
  EXPECT_NE(r["missing_channel"].get<std::string>().find("does not exist"), std::string::npos)
      << raw;
  EXPECT_NE(r["unknown_cookie"].get<std::string>().find("not known"), std::string::npos) << raw;
  EXPECT_GT(r["body_text_length"].get<int>(), 20) << raw;
  expect_no_console_errors(r, raw);
}

// An expired session (a daemon with console.session_ttl_seconds: 5) says so on the page, and a
// new login works.
TEST(BrowserConsoleExpiry, ExpiredSessionShowsAMessage) {
  std::string missing = iptv_test::browser_missing();
  ASSERT_EQ(missing, "") << "browser tests need " << missing;
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/channels");
  write_file(dir.path() + "/iptvd.yaml", "console:\n  session_ttl_seconds: 5\n");
  Iptvd d(dir.path() + "/channels", {"--config", dir.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  std::string raw;
  json r = run_scenario(d.base(), "expired", d.admin_key(), "", &raw, "CONSOLE_TTL=5");
  ASSERT_TRUE(r.value("ok", false)) << raw;
  EXPECT_NE(r["expired_banner"].get<std::string>().find("expired"), std::string::npos) << raw;
  EXPECT_TRUE(r.value("console_errors", json::array()).empty()) << raw;
}

}  // namespace
