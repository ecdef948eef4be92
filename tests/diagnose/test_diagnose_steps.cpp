// Steps 3 and 4 of the diagnosis (issue 17) on a channel detail as the daemon builds it from the
// worker's stats line: the input's bitrate, codecs, last packet and gaps, and the worker's queue
// fill, shown as evidence, with their FAIL and WARN rules.
#include <gtest/gtest.h>

#include "diagnose/diagnose.h"

using namespace iptv::diagnose;
using iptv::control::InputView;
using iptv::control::QueueView;

namespace {

Context live_channel() {
  static iptv::control::DiagnosisRequest req;
  Context c;
  c.req = &req;
  c.record.channel_id = "news";
  c.record.failover.primary_loss_seconds = 3;
  c.detail.channel.state = "live";
  c.detail.channel.active_source = "primary";
  c.detail.worker_pid = 1234;
  c.detail.heartbeat_age_s = 0.5;
  c.detail.sources.push_back({"primary", "udp://127.0.0.1:5000", "udp", true, "receiving", 0});
  c.detail.stats_age_s = 1;
  return c;
}

std::string all(const Step &s) {
  std::string e = s.summary;
  for (const auto &x : s.evidence) e += "\n" + x;
  return e;
}

TEST(DiagnoseSteps, IngestShowsTheInputsBitrateCodecsLastPacketAndGaps) {
  Context c = live_channel();
  c.detail.inputs.push_back({"primary", 3'150'000, "H.264 (high)", "AAC", 40, 0});
  Step s;
  step_ingest(c, s);
  EXPECT_EQ(s.status, Status::kPass) << all(s);
  EXPECT_NE(s.summary.find("3150 kbit/s (H.264 (high), AAC)"), std::string::npos) << all(s);
  EXPECT_NE(all(s).find("input primary: 3150 kbit/s, video H.264 (high), audio AAC, last packet "
                        "0.0 s ago, 0 gap(s)"),
            std::string::npos)
      << all(s);
  ASSERT_EQ(s.data["inputs"].size(), 1u);
  EXPECT_EQ(s.data["inputs"][0]["bitrate_bps"], 3'150'000);
  EXPECT_EQ(s.data["inputs"][0]["video_codec"], "H.264 (high)");
}

TEST(DiagnoseSteps, IngestFailsOnZeroBitrateAndOnNoInputAndWarnsOnGaps) {
  {
    Context c = live_channel();
    c.detail.inputs.push_back({"primary", 0, "H.264", "AAC", 100, 0});
    Step s;
    step_ingest(c, s);
    EXPECT_EQ(s.status, Status::kFail) << all(s);
    EXPECT_NE(s.summary.find("zero input bitrate on the primary"), std::string::npos) << all(s);
    EXPECT_EQ(s.command, "iptvctl restart news");
  }
  {
    Context c = live_channel();
    c.detail.inputs.push_back({"primary", 1'000'000, "H.264", "AAC", 7'500, 0});
    Step s;
    step_ingest(c, s);
    EXPECT_EQ(s.status, Status::kFail) << all(s);
    EXPECT_NE(s.summary.find("no input: the primary sent nothing for 7.5 s"), std::string::npos)
        << all(s);
  }
  {
    Context c = live_channel();
    c.detail.inputs.push_back({"primary", 1'000'000, "H.264", "AAC", 20, 2});
    Step s;
    step_ingest(c, s);
    EXPECT_EQ(s.status, Status::kWarn) << all(s);
    EXPECT_NE(all(s).find("2 input gap(s) on the primary"), std::string::npos) << all(s);
  }
  {
    // A generated test source in transcode: no encoded input to measure; not a failure.
    Context c = live_channel();
    c.detail.inputs.push_back({"primary", -1, "raw (generated)", "raw (generated)", 10, 0});
    Step s;
    step_ingest(c, s);
    EXPECT_EQ(s.status, Status::kPass) << all(s);
    EXPECT_NE(all(s).find("bitrate not measurable (generated)"), std::string::npos) << all(s);
    EXPECT_TRUE(s.data["inputs"][0]["bitrate_bps"].is_null());
  }
}

TEST(DiagnoseSteps, WorkerShowsQueueFillAndWarnsOnAFullQueue) {
  EngineConfig cfg;
  Context c = live_channel();
  c.detail.queues.push_back({"primary/tail-video/queue0", 400, 2000, 0, 0, 12, 0, 0.2});
  c.detail.queues.push_back({"output/queue3", 10, 1000, 0, 10485760, 3, 200, 0.015});
  Step s;
  step_worker(cfg, c, s);
  EXPECT_EQ(s.status, Status::kPass) << all(s);
  EXPECT_NE(all(s).find("queue fill: 2 queues, fullest primary/tail-video/queue0 at 20%"),
            std::string::npos)
      << all(s);
  ASSERT_EQ(s.data["queue_fill"].size(), 2u);
  EXPECT_EQ(s.data["queue_fill"][0]["level_ms"], 400);
  EXPECT_EQ(s.data["queue_fill"][0]["max_ms"], 2000);

  c.detail.queues[0].level_ms = 1950;
  c.detail.queues[0].fill = 0.975;
  Step full;
  step_worker(cfg, c, full);
  EXPECT_EQ(full.status, Status::kWarn) << all(full);
  EXPECT_NE(full.summary.find("queues backing up: primary/tail-video/queue0 98%"),
            std::string::npos)
      << all(full);
}

}  // namespace
