// Passthrough content triggers (issue 21 item 3), end to end: a real iptvd runs three
// passthrough channels fed by real UDP MPEG-TS senders (gst-launch-1.0: x264, AAC, mpegtsmux),
// each with a backup and one content trigger. Each sender's content turns bad (black, a still
// picture, silence) 12 s after it starts, for 8 s, then good again. Each channel must move to its
// backup with the trigger as the reason, and return to its primary once the content is good.
// The worker sees black and freeze through a decode of the keyframes alone, and silence through
// decoded AAC (docs/worker.md, passthrough content triggers). The senders leave x264 its own
// choice of format (High 4:4:4, 10-bit from videotestsrc): the branch converts it for the probe.
#include <glib.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <map>
#include <sstream>

#include "iptvd_fixture.h"

using namespace iptvd_test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int kGoodSeconds = 12, kBadSeconds = 8;

// A sender whose video (`bad_video`) or audio (`bad_audio`) is bad from kGoodSeconds for
// kBadSeconds: concat plays the parts in turn, clocksync paces them on the clock.
pid_t start_sender(int port, const std::string &bad_video, bool bad_audio, const std::string &log) {
  const std::string vcaps = " ! video/x-raw,width=320,height=180,framerate=25/1 ! v. ";
  const std::string acaps = " ! audio/x-raw,rate=48000,channels=2 ! a. ";
  std::string good_v = "videotestsrc pattern=smpte horizontal-speed=2";
  std::string video = bad_video.empty()
                          ? good_v + vcaps
                          : good_v + " num-buffers=" + std::to_string(kGoodSeconds * 25) + vcaps +
                                "videotestsrc " + bad_video +
                                " num-buffers=" + std::to_string(kBadSeconds * 25) + vcaps +
                                good_v + vcaps;
  std::string tone = "audiotestsrc freq=330 volume=0.3 samplesperbuffer=480";
  std::string audio = !bad_audio ? tone + acaps
                                 : tone + " num-buffers=" + std::to_string(kGoodSeconds * 100) +
                                       acaps + "audiotestsrc wave=silence samplesperbuffer=480" +
                                       " num-buffers=" + std::to_string(kBadSeconds * 100) + acaps +
                                       tone + acaps;
  std::string cmd =
      "gst-launch-1.0 -q concat name=v ! clocksync ! x264enc tune=zerolatency "
      "speed-preset=ultrafast key-int-max=25 bitrate=300 ! h264parse ! mpegtsmux name=m "
      "alignment=7 ! udpsink host=127.0.0.1 port=" +
      std::to_string(port) +
      " concat name=a ! clocksync ! audioconvert ! avenc_aac ! aacparse ! m. " + video + audio;
  return std::atoi(sh(cmd + " >" + log + " 2>&1 & echo $!").c_str());
}

// Kills the senders however the test ends (an ASSERT returns early).
struct Senders {
  std::map<std::string, pid_t> pids;
  ~Senders() {
    for (auto &[id, pid] : pids)
      if (pid > 0) ::kill(pid, SIGKILL);
  }
};

std::string events_of(Iptvd &d, const std::string &id) {
  return d.sql("SELECT event_type, detail FROM st_events WHERE channel_id='" + id +
               "' ORDER BY id");
}

}  // namespace

TEST(PassthroughTriggers, BlackFreezeAndSilenceFailOverAndReturn) {
  iptv_test::TempDir tmp;
  std::string channels = tmp.path() + "/channels";
  fs::create_directories(channels);
  const std::map<std::string, std::string> trigger_of = {
      {"pt-black", "black"}, {"pt-freeze", "freeze"}, {"pt-silence", "silence"}};
  std::map<std::string, int> port_of;
  for (const auto &[id, trigger] : trigger_of) {
    port_of[id] = iptv_test::free_port();
    write_file(channels + "/" + id + ".yaml",
               "channel_id: " + id + "\nsource: udp://127.0.0.1:" + std::to_string(port_of[id]) +
                   "\nprofiles: [passthrough]\nhls:\n  segment_seconds: 1\n  window_segments: 6\n"
                   "rights:\n  owner: Test\n  licence: test\n"
                   "failover:\n  enabled: true\n  backup_source: spare\n"
                   "  primary_loss_seconds: 3\n  return_after_seconds: 3\n  triggers: [" +
                   trigger + "]\nquality:\n  " + trigger + "_seconds: 2\n");
  }
  // The backup: a moving picture with a tone (nothing any trigger flags).
  write_file(channels + "/spare.yaml", channel_yaml("spare", "", "test://ball?tone=660"));
  Iptvd d(channels);
  d.start();
  ASSERT_TRUE(d.running());
  Senders senders;
  for (const auto &[id, trigger] : trigger_of)
    senders.pids[id] = start_sender(port_of[id],
                                    trigger == "black"    ? "pattern=black"
                                    : trigger == "freeze" ? "pattern=smpte100"
                                                          : "",
                                    trigger == "silence", tmp.path() + "/" + id + ".log");
  double t0 = now_s();
  // On their primaries, with passthrough segments, before the content turns bad.
  ASSERT_TRUE(wait_for(kGoodSeconds - 1,
                       [&] {
                         for (const auto &[id, trigger] : trigger_of) {
                           auto j = d.channel(id);
                           // (live, or degraded by a timestamp condition: the senders' AAC starts
                           // with a backwards step; not a trigger.)
                           if (j["active_source"] != "primary" || j["failovers"] != 0) return false;
                           if (parse_media(d.playlist(id, "source")).sequences.empty())
                             return false;
                         }
                         return true;
                       }))
      << d.log() << events_of(d, "pt-black") << events_of(d, "pt-freeze")
      << events_of(d, "pt-silence");
  for (const auto &[id, trigger] : trigger_of) EXPECT_EQ(d.channel(id)["failovers"], 0) << id;

  // Each moves to its backup, for its own trigger, after the change (12 s) + its seconds (2 s).
  std::map<std::string, double> switched, returned;
  ASSERT_TRUE(wait_for(kGoodSeconds + kBadSeconds, [&] {
    for (const auto &[id, trigger] : trigger_of)
      if (!switched.count(id) && d.channel(id)["active_source"] == "backup")
        switched[id] = now_s() - t0;
    return switched.size() == trigger_of.size();
  })) << d.log();
  for (const auto &[id, trigger] : trigger_of) {
    SCOPED_TRACE(id);
    EXPECT_GE(switched[id], kGoodSeconds + 1.0);
    std::string ev = events_of(d, id);
    EXPECT_NE(ev.find("failover.activated|{\"reason\":\"primary: " + trigger + "\""),
              std::string::npos)
        << ev;
    EXPECT_NE(ev.find("probe.condition.raised|{\"condition\":\"" + trigger + "\""),
              std::string::npos)
        << ev;
  }
  // Good again at 20 s: each returns return_after_seconds (3 s) after its probe clears.
  ASSERT_TRUE(wait_for(30, [&] {
    for (const auto &[id, trigger] : trigger_of)
      if (!returned.count(id) && d.channel(id)["active_source"] == "primary")
        returned[id] = now_s() - t0;
    return returned.size() == trigger_of.size();
  })) << d.log();
  for (const auto &[id, trigger] : trigger_of) {
    SCOPED_TRACE(id);
    EXPECT_GE(returned[id], kGoodSeconds + kBadSeconds + 3.0);
    std::string ev = events_of(d, id);
    EXPECT_NE(ev.find("failover.returned"), std::string::npos) << ev;
    EXPECT_NE(ev.find("probe.condition.cleared|{\"condition\":\"" + trigger + "\""),
              std::string::npos)
        << ev;
    // Only its own trigger fired (a black picture is also still, but freeze is not listed).
    for (const auto &[other_id, other] : trigger_of)
      if (other != trigger) {
        EXPECT_EQ(ev.find("failover.activated|{\"reason\":\"primary: " + other), std::string::npos)
            << ev;
      }
    std::printf(
        "[passthrough-triggers] %s: switched at %.1f s, returned at %.1f s (content bad "
        "%d-%d s)\n",
        trigger.c_str(), switched[id], returned[id], kGoodSeconds, kGoodSeconds + kBadSeconds);
  }
}
