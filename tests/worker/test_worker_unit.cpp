// Worker spec (record -> spec -> JSON -> spec), the failover state machine and command parsing.
// GStreamer-free.
#include <gtest/gtest.h>

#include <fstream>

#include "records/loader.h"
#include "test_support.h"
#include "worker/failover.h"
#include "worker/spec.h"
#include "worker/status.h"

using namespace iptv;
using namespace iptv::worker;

namespace {

std::map<std::string, ChannelRecord> demo_channels() {
  LoadResult r = load_channels({iptv_test::source_root() + "/channels"});
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].str());
  std::map<std::string, ChannelRecord> all;
  for (auto &c : r.channels) all[c.channel_id] = c;
  return all;
}

ChannelRecord parse(const std::string &yaml) {
  ChannelRecord rec;
  std::vector<LoadError> errors;
  ProfileCatalog cat;
  EXPECT_TRUE(parse_channel(yaml, "x.yaml", cat, rec, errors))
      << (errors.empty() ? "" : errors[0].str());
  return rec;
}

}  // namespace

TEST(WorkerSpec, DemoNewsTakesItsBackupFromTheOtherChannel) {
  auto all = demo_channels();
  WorkerDefaults d;
  d.hls_root = "/var/x";
  WorkerSpec s = make_worker_spec(all.at("demo-news"), all, d);
  EXPECT_EQ(s.channel_id, "demo-news");
  EXPECT_EQ(s.mode, "transcode");
  ASSERT_EQ(s.sources.size(), 2u);
  EXPECT_EQ(s.sources[0].role, "primary");
  EXPECT_EQ(s.sources[0].uri, "test://smpte?tone=440");
  EXPECT_EQ(s.sources[0].kind, "test");
  EXPECT_EQ(s.sources[1].role, "backup");
  EXPECT_EQ(s.sources[1].uri, "test://colors?tone=880");
  ASSERT_EQ(s.profiles.size(), 2u);
  EXPECT_EQ(s.profiles[0].name, "360p");
  EXPECT_EQ(s.profiles[1].name, "180p");
  EXPECT_EQ(ladder_profile(s.profiles[0]), "640x360@600");
  EXPECT_EQ(s.width, 640);
  EXPECT_EQ(s.height, 360);
  EXPECT_EQ(s.hls.dir, "/var/x/demo-news");
  EXPECT_DOUBLE_EQ(s.hls.segment_seconds, 2);
  EXPECT_EQ(s.hls.window, 6);
  EXPECT_TRUE(s.failover.enabled);
  EXPECT_DOUBLE_EQ(s.failover.primary_loss_seconds, 3);
  EXPECT_DOUBLE_EQ(s.failover.return_after_seconds, 10);
  EXPECT_EQ(s.failover.triggers, std::vector<std::string>{"silence"});
  EXPECT_EQ(s.preset, "ultrafast");
}

TEST(WorkerSpec, JsonRoundTripKeepsEveryField) {
  auto all = demo_channels();
  WorkerSpec s = make_worker_spec(all.at("demo-music"), all, WorkerDefaults{});
  s.outputs.push_back({"srt", "srt://10.0.0.1:9000"});
  s.sources[0].program = 7;
  s.sources[0].interface = "eth1";
  nlohmann::json j = to_json(s);
  WorkerSpec back = from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(to_json(back), j);
  EXPECT_EQ(back.profiles[0].fps, 15);
  EXPECT_EQ(ladder_profile(back.profiles[0]), "320x180@300@15");
  EXPECT_EQ(back.hls.dvr_seconds, 120);
  EXPECT_EQ(back.sources.size(), 1u);  // no failover in demo-music
  EXPECT_FALSE(back.failover.enabled);
}

TEST(WorkerSpec, PassthroughAndSourceFields) {
  auto rec = parse(R"(channel_id: x
source_type: owned-content
rights: {owner: us, licence: ours}
source: {uri: "udp://239.1.1.1:5000", program: 3, interface: eth0}
profiles: [passthrough]
outputs:
  - {type: udp, uri: "udp://239.2.2.2:6000"}
)");
  WorkerSpec s = make_worker_spec(rec, {}, WorkerDefaults{});
  EXPECT_EQ(s.mode, "passthrough");
  EXPECT_TRUE(s.profiles.empty());
  EXPECT_EQ(s.sources[0].kind, "udp");
  EXPECT_EQ(s.sources[0].program, 3);
  EXPECT_EQ(s.sources[0].interface, "eth0");
  ASSERT_EQ(s.outputs.size(), 1u);
  EXPECT_EQ(s.outputs[0].kind, "udp");
  EXPECT_NO_THROW(from_json(to_json(s)));
}

// The output frame rate and the AAC bitrate are record keys (they were fixed at 30 fps and
// 128 kbit/s, and a 120 kbit/s rung advertised 377 kbit/s); the strict loader names bad values.
TEST(WorkerSpec, FrameRateAndAudioBitrateComeFromTheRecord) {
  const std::string base = R"(channel_id: x
source_type: owned-content
rights: {owner: us, licence: ours}
source: {uri: "udp://239.1.1.1:5000"}
profiles: [360p-600kbps]
)";
  WorkerSpec def = make_worker_spec(parse(base), {}, WorkerDefaults{});
  EXPECT_EQ(def.fps, 30);
  EXPECT_EQ(def.audio_kbps, 128);
  WorkerSpec s = make_worker_spec(parse(base + "frame_rate: 25\naudio_bitrate_kbps: 48\n"), {},
                                  WorkerDefaults{});
  EXPECT_EQ(s.fps, 25);
  EXPECT_EQ(s.audio_kbps, 48);
  WorkerSpec back = from_json(to_json(s));
  EXPECT_EQ(back.fps, 25);
  EXPECT_EQ(back.audio_kbps, 48);
  for (const char *bad : {"frame_rate: 25.5\n", "frame_rate: 0\n", "audio_bitrate_kbps: 8\n",
                          "audio_bitrate_kbps: lots\n"}) {
    ChannelRecord rec;
    std::vector<LoadError> errors;
    ProfileCatalog cat;
    EXPECT_FALSE(parse_channel(base + bad, "x.yaml", cat, rec, errors)) << bad;
    ASSERT_FALSE(errors.empty()) << bad;
    std::string key = std::string(bad).substr(0, std::string(bad).find(':'));
    EXPECT_NE(errors[0].str().find(key), std::string::npos) << errors[0].str();
    EXPECT_NE(errors[0].str().find("x.yaml"), std::string::npos) << errors[0].str();
  }
}

TEST(WorkerSpec, RenditionNamesAreUnique) {
  std::vector<Profile> p = {{"a", 1280, 720, 3000, 0, false},
                            {"b", 1280, 720, 2000, 0, false},
                            {"c", 640, 360, 600, 0, false}};
  EXPECT_EQ(rendition_names(p), (std::vector<std::string>{"720p-3000k", "720p-2000k", "360p"}));
}

TEST(WorkerSpec, BadSpecsNameTheField) {
  auto all = demo_channels();
  nlohmann::json good = to_json(make_worker_spec(all.at("demo-news"), all, WorkerDefaults{}));
  auto expect_bad = [&](const std::function<void(nlohmann::json &)> &edit,
                        const std::string &field) {
    nlohmann::json j = good;
    edit(j);
    try {
      from_json(j);
      ADD_FAILURE() << "accepted: " << field;
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  expect_bad([](auto &j) { j.erase("channel_id"); }, "channel_id");
  expect_bad([](auto &j) { j["mode"] = "magic"; }, "mode");
  expect_bad([](auto &j) { j["sources"] = nlohmann::json::array(); }, "sources");
  expect_bad([](auto &j) { j["sources"][0]["kind"] = "ftp"; }, "sources[0].kind");
  expect_bad([](auto &j) { j["sources"][0]["role"] = "backup"; }, "sources[0].role");
  expect_bad([](auto &j) { j["profiles"] = nlohmann::json::array(); }, "profiles");
  expect_bad([](auto &j) { j["hls"]["dir"] = ""; }, "hls.dir");
  expect_bad([](auto &j) { j["hls"]["segment_seconds"] = "2"; }, "hls.segment_seconds");
  expect_bad([](auto &j) { j["failover"]["triggers"] = {"noise"}; }, "failover.triggers");
  expect_bad(
      [](auto &j) {
        j["outputs"] = {{{"kind", "ftp"}, {"uri", "ftp://x"}}};
      },
      "outputs[0].kind");
  expect_bad([](auto &j) { j["heartbeat_ms"] = 1; }, "heartbeat_ms");
}

TEST(WorkerSpec, LoadSpecFileReportsBadJson) {
  iptv_test::TempDir dir;
  std::string path = dir.path() + "/spec.json";
  std::ofstream(path) << "{not json";
  EXPECT_THROW(load_spec_file(path), std::runtime_error);
  EXPECT_THROW(load_spec_file(dir.path() + "/missing.json"), std::runtime_error);
}

// ---- failover machine ----

namespace {
FailoverParams params(bool backup = true) {
  FailoverParams p;
  p.loss_ms = 3000;
  p.return_after_ms = 10000;
  p.has_backup = backup;
  p.triggers = {"silence"};
  return p;
}
std::vector<std::string> types(const std::vector<FailoverEvent> &ev) {
  std::vector<std::string> t;
  for (const auto &e : ev) t.push_back(e.event_type + ":" + e.source);
  return t;
}
}  // namespace

TEST(Failover, StartsThenLive) {
  FailoverMachine m(params(), 0);
  std::vector<FailoverEvent> ev;
  m.tick(100, ev);
  EXPECT_EQ(m.state(), "starting");
  m.on_data(0, 200);
  m.on_data(1, 200);
  m.tick(300, ev);
  EXPECT_EQ(m.state(), "live");
  EXPECT_EQ(m.on_air(), OnAir::kPrimary);
  EXPECT_TRUE(ev.empty());
}

TEST(Failover, LossSwitchesToBackupAtTheThresholdAndReturnsAfterTheHold) {
  FailoverMachine m(params(), 0);
  std::vector<FailoverEvent> ev;
  for (int t = 0; t <= 5000; t += 100) {
    m.on_data(0, t);
    m.on_data(1, t);
    m.tick(t, ev);
  }
  // The primary stops at 5000; the backup keeps going.
  int switched_at = -1;
  for (int t = 5100; t <= 9000; t += 100) {
    m.on_data(1, t);
    m.tick(t, ev);
    if (switched_at < 0 && m.on_air() == OnAir::kBackup) switched_at = t;
  }
  EXPECT_EQ(switched_at, 8000);  // 3 s after the last data
  EXPECT_EQ(m.state(), "failover");
  EXPECT_EQ(types(ev),
            (std::vector<std::string>{"source.lost:primary", "failover.activated:backup"}));
  ev.clear();
  // The primary comes back at 9100; the return needs 10 s of health.
  int returned_at = -1;
  for (int t = 9100; t <= 21000; t += 100) {
    m.on_data(0, t);
    m.on_data(1, t);
    m.tick(t, ev);
    if (returned_at < 0 && m.on_air() == OnAir::kPrimary) returned_at = t;
  }
  EXPECT_EQ(returned_at, 19100);
  EXPECT_EQ(types(ev),
            (std::vector<std::string>{"source.recovered:primary", "failover.returned:primary"}));
  EXPECT_EQ(ev.back().reason, "primary healthy for 10 s");
  EXPECT_EQ(m.state(), "live");
}

// A hold under a second is named as such (it said "healthy for 0 s").
TEST(Failover, AReturnHoldUnderASecondIsNamedInTenths) {
  FailoverParams p = params();
  p.return_after_ms = 500;
  FailoverMachine m(p, 0);
  std::vector<FailoverEvent> ev;
  for (int t = 0; t <= 1000; t += 100) {
    m.on_data(0, t);
    m.on_data(1, t);
    m.tick(t, ev);
  }
  for (int t = 1100; t <= 5000; t += 100) {
    m.on_data(1, t);
    m.tick(t, ev);
  }
  ASSERT_EQ(m.on_air(), OnAir::kBackup);
  for (int t = 5100; t <= 6000; t += 100) {
    m.on_data(0, t);
    m.on_data(1, t);
    m.tick(t, ev);
  }
  ASSERT_EQ(m.on_air(), OnAir::kPrimary);
  EXPECT_EQ(ev.back().event_type, "failover.returned");
  EXPECT_EQ(ev.back().reason, "primary healthy for 0.5 s");
}

TEST(Failover, NothingHealthyMeansSlateAndAnySourceLeavesIt) {
  FailoverMachine m(params(), 0);
  std::vector<FailoverEvent> ev;
  m.on_data(0, 0);
  m.on_data(1, 0);
  m.on_failed(1, "error: refused", 100);
  m.tick(3000, ev);
  EXPECT_EQ(m.on_air(), OnAir::kSlate);
  EXPECT_EQ(m.state(), "slate");
  EXPECT_NE(m.reason().find("backup: error: refused"), std::string::npos) << m.reason();
  ev.clear();
  m.on_data(1, 4000);
  m.tick(4000, ev);
  EXPECT_EQ(m.on_air(), OnAir::kBackup);
  EXPECT_EQ(types(ev), (std::vector<std::string>{"source.recovered:backup", "slate.left:backup",
                                                 "failover.activated:backup"}));
}

TEST(Failover, PrimaryThatNeverStartsGoesToSlateWithoutBackup) {
  FailoverMachine m(params(false), 0);
  std::vector<FailoverEvent> ev;
  m.tick(2900, ev);
  EXPECT_EQ(m.state(), "starting");
  m.tick(3000, ev);
  EXPECT_EQ(m.state(), "slate");
  m.on_data(0, 3500);
  m.tick(3500, ev);
  EXPECT_EQ(m.state(), "live");  // from the slate at once
}

TEST(Failover, ContentTriggerOnlyWhenEnabled) {
  FailoverMachine m(params(), 0);
  std::vector<FailoverEvent> ev;
  m.on_data(0, 0);
  m.on_data(1, 0);
  m.on_condition(0, "black", true, 0);  // not a trigger in this record: degraded only
  m.tick(100, ev);
  EXPECT_EQ(m.state(), "degraded");
  EXPECT_EQ(m.on_air(), OnAir::kPrimary);
  m.on_condition(0, "silence", true, 200);
  m.on_data(0, 200);
  m.on_data(1, 200);
  m.tick(200, ev);
  EXPECT_EQ(m.on_air(), OnAir::kBackup);
  EXPECT_EQ(ev.back().reason, "primary: silence");
}

TEST(Failover, CommandsHoldTheBackupUntilReturn) {
  FailoverMachine m(params(), 0);
  std::vector<FailoverEvent> ev;
  m.on_data(0, 0);
  EXPECT_FALSE(m.command_failover(0));  // the backup has no data yet
  m.on_data(1, 0);
  EXPECT_TRUE(m.command_failover(0));
  m.tick(0, ev);
  EXPECT_EQ(m.on_air(), OnAir::kBackup);
  for (int t = 100; t < 30000; t += 100) {
    m.on_data(0, t);
    m.on_data(1, t);
    m.tick(t, ev);
  }
  EXPECT_EQ(m.on_air(), OnAir::kBackup);  // held, though the primary is healthy
  EXPECT_TRUE(m.command_return(30000));
  m.tick(30000, ev);
  EXPECT_EQ(m.on_air(), OnAir::kPrimary);
  EXPECT_EQ(ev.back().event_type, "failover.returned");
}

TEST(Commands, Parse) {
  EXPECT_EQ(parse_command(R"({"cmd":"stop"})").cmd, "stop");
  EXPECT_EQ(parse_command(R"({"cmd":"failover"})").cmd, "failover");
  Command c = parse_command(R"({"cmd":"rendition","name":"720p","enabled":false})");
  EXPECT_EQ(c.cmd, "rendition");
  EXPECT_EQ(c.name, "720p");
  EXPECT_FALSE(c.enabled);
  EXPECT_FALSE(parse_command(R"({"cmd":"rendition","name":"720p"})").error.empty());
  EXPECT_FALSE(parse_command("stop").error.empty());
  EXPECT_FALSE(parse_command(R"({"cmd":"reboot"})").error.empty());
}
