// One admission rule (issue 21 item 2): a corpus of bad records goes to both `iptvctl validate`
// and a real iptvd over the same folder, and the two must agree record by record: what validate
// passes runs (goes live), what validate refuses iptvd refuses too (record.rejected, or the
// channel left offline with the very message validate printed).
#include <glib.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "iptvd_fixture.h"
#include "records/loader.h"

using namespace iptvd_test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Records iptvd would refuse to run although they parse (the admission rule), plus good ones.
// Each would pass the loader alone; only admission_problems() keeps them from running.
std::map<std::string, std::string> admission_corpus() {
  const std::string tail =
      "profiles: [180p-250kbps]\npreset: ultrafast\nkeyframe_interval_seconds: 1\n"
      "hls:\n  segment_seconds: 1\n  window_segments: 6\n";
  return {
      {"good-smpte", "channel_id: good-smpte\nsource: test://smpte?tone=440\n" + tail},
      {"good-ball", "channel_id: good-ball\nsource: test://ball?still=1\n" + tail},
      // Passthrough content triggers: they fire there now (a keyframe decode), so both pass
      // it and iptvd runs it (before, validate passed triggers that could never fire).
      {"good-pt-triggers",
       "channel_id: good-pt-triggers\nsource: test://smpte?tone=440\nprofiles: [passthrough]\n"
       "hls:\n  segment_seconds: 1\n  window_segments: 6\nfailover:\n"
       "  triggers: [black, freeze, silence]\n"},
      // The worker refused it ("unknown test pattern") while validate passed it.
      {"bad-pattern", "channel_id: bad-pattern\nsource: test://smtpe?tone=440\n" + tail},
      {"bad-pattern-2", "channel_id: bad-pattern-2\nsource: test://nosuch\n" + tail},
      {"no-rights", "channel_id: no-rights\nsource: udp://127.0.0.1:45999\n" + tail},
      {"expired",
       "channel_id: expired\nsource: udp://127.0.0.1:45998\nrights:\n"
       "  owner: Example\n  licence: contract-1\n  expires: 2001-01-01\n" +
           tail},
      {"missing-file", "channel_id: missing-file\nsource: file:///nonexistent/clip.ts\n" + tail},
      {"no-source", "channel_id: no-source\nname: Nothing yet\n"},
      // Disabled: a warning for validate, not run by iptvd either way.
      {"disabled-bad",
       "channel_id: disabled-bad\nstatus: disabled\nsource: test://nosuch\n" + tail},
  };
}

}  // namespace

TEST(AdmissionTest, TestPatternListMatchesTheInstalledVideotestsrc) {
  // The loader's list (records/loader.cpp) against videotestsrc's "pattern" enum.
  std::string out = sh("gst-inspect-1.0 videotestsrc 2>/dev/null");
  if (out.empty()) GTEST_SKIP() << "gst-inspect-1.0 videotestsrc not available";
  std::set<std::string> nicks;
  GRegex *re =
      g_regex_new("\\(\\d+\\): ([a-z0-9-]+)", (GRegexCompileFlags)0, (GRegexMatchFlags)0, nullptr);
  // The enum's lines follow "pattern :" up to the next property (a line indented by 2 only).
  size_t at = out.find("\n  pattern ");
  ASSERT_NE(at, std::string::npos);
  size_t end = at + 1;
  while ((end = out.find("\n  ", end + 1)) != std::string::npos && out[end + 3] == ' ') {
  }
  std::string block = out.substr(at, end == std::string::npos ? std::string::npos : end - at);
  GMatchInfo *mi = nullptr;
  g_regex_match(re, block.c_str(), (GRegexMatchFlags)0, &mi);
  while (g_match_info_matches(mi)) {
    gchar *w = g_match_info_fetch(mi, 1);
    nicks.insert(w);
    g_free(w);
    g_match_info_next(mi, nullptr);
  }
  g_match_info_free(mi);
  g_regex_unref(re);
  std::set<std::string> ours(iptv::test_patterns().begin(), iptv::test_patterns().end());
  EXPECT_EQ(ours, nicks);
}

TEST(AdmissionTest, ValidateAndIptvdRefuseTheSameRecordsWithTheSameMessages) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/channels";
  fs::create_directories(dir);
  // The loader's bad records (one file each: yaml syntax, unknown keys, ranges, ...).
  for (const auto &e :
       fs::directory_iterator(iptv_test::source_root() + "/tests/data/bad-channels"))
    if (e.is_regular_file() && e.path().extension() == ".yaml")
      fs::copy_file(e.path(), dir + "/" + e.path().filename().string());
  for (const auto &[id, text] : admission_corpus()) write_file(dir + "/" + id + ".yaml", text);

  // validate's verdict, per file.
  int rc = 0;
  std::string out =
      sh(iptv_test::build_root() + "/orchestrator/iptvctl/iptvctl validate --format json '" + dir +
             "' 2>/dev/null",
         &rc);
  ASSERT_EQ(rc, 1) << out;
  json v = json::parse(out);
  std::set<std::string> files;
  for (const auto &f : v["files"]) files.insert(fs::path(f["file"].get<std::string>()).filename());
  std::map<std::string, std::vector<std::string>> v_errors;  // file -> messages
  for (const auto &e : v["errors"])
    v_errors[fs::path(e["file"].get<std::string>()).filename()].push_back(e["message"]);
  std::map<std::string, std::string> id_of;  // file -> channel id (files that parsed)
  std::map<std::string, std::string> status_of;
  for (const auto &c : v["channels"]) {
    std::string f = fs::path(c["file"].get<std::string>()).filename();
    id_of[f] = c["channel_id"];
    status_of[f] = c["status"];
  }
  ASSERT_GE(files.size(), admission_corpus().size() + 30);

  // iptvd over the same folder.
  Iptvd d(dir);
  d.start();
  ASSERT_TRUE(d.running());
  // Every record validate passes must go live; give the workers time on a loaded machine.
  std::vector<std::string> should_run;
  for (const auto &f : files)
    if (!v_errors.count(f) && id_of.count(f) && status_of[f] == "active")
      should_run.push_back(id_of[f]);
  EXPECT_EQ(should_run, (std::vector<std::string>{"good-ball", "good-pt-triggers", "good-smpte"}));
  EXPECT_TRUE(d.wait_live(should_run, 90, 2)) << d.log();
  // A worker that would refuse its spec needs a few seconds to say so.
  std::this_thread::sleep_for(std::chrono::seconds(3));

  std::set<std::string> rejected_files;
  std::istringstream rows(d.sql("SELECT detail FROM st_events WHERE event_type='record.rejected'"));
  for (std::string line; std::getline(rows, line);) {
    if (line.empty()) continue;
    auto j = json::parse(line, nullptr, false);
    if (j.is_object()) rejected_files.insert(fs::path(j["file"].get<std::string>()).filename());
  }

  int compared = 0;
  for (const auto &f : files) {
    SCOPED_TRACE(f);
    bool validate_ok = !v_errors.count(f);
    std::string id = id_of.count(f) ? id_of[f] : "";
    std::string state = id.empty() ? "" : d.state(id);
    std::string reason =
        id.empty() ? "" : d.sql("SELECT reason FROM st_channels WHERE channel_id='" + id + "'");
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    if (validate_ok) {
      EXPECT_FALSE(rejected_files.count(f)) << "iptvd rejected a file validate passed";
      if (status_of[f] == "active")
        EXPECT_EQ(state, "live") << "validate passed it but iptvd does not run it: " << reason;
      else
        EXPECT_NE(state, "live");
    } else if (rejected_files.count(f)) {
      // A load error: the same loader in both, so iptvd ran nothing from the file.
      EXPECT_NE(state, "live");
    } else {
      // Parsed but refused by the admission rule: iptvd's reason is validate's message.
      ASSERT_FALSE(id.empty())
          << "validate refused the file; iptvd neither rejected it nor knows it";
      EXPECT_EQ(state, "offline") << "validate refused it but iptvd runs it";
      EXPECT_EQ(reason, v_errors[f].front()) << "iptvd's reason differs from validate's message";
    }
    ++compared;
  }
  EXPECT_EQ(compared, (int)files.size());
  // Nothing iptvd refused escaped validate: every rejected file is one validate refused.
  for (const auto &f : rejected_files) EXPECT_TRUE(v_errors.count(f)) << f;
}
