// The diagnosis engine behind GET /api/v1/channels/{id}/diagnosis and `iptvctl diagnose`: the
// article's ten-step incident workflow (docs/runbook.md) run against the daemon's own state and
// its own output, the way a viewer fetches it. Every step runs, even after a failure; each says
// PASS, WARN, FAIL or SKIP with its evidence, the time it took and, when it fails, the remedy
// and its exact command. The first failing step names the failing hop.
//
//   1 entitlement  the subject's session would be granted (access_decision, the key that signed
//                  the subject's open sessions still in the ring; rights expiry without subject)
//   2 control      the channel's state and last transitions (FAIL: disabled, retired, or held
//                  offline by the daemon: rights, placement, plugin)
//   3 ingest       sources' health, the age of the last media buffer, probe conditions
//   4 worker       process, heartbeat, restarts, encoder and last segment age per rung
//   5 origin       the probe's engine (lib/probe Follower + hlsparse Checker) on the origin's
//                  playlists with a freshly minted short token: fresh, continuous, aligned, audio
//   6 edge         the same through the edge, compared with the origin (SKIP without an edge)
//   7 playback     the live-start segment of every rendition fetched and decoded (ffmpeg):
//                  startup time per rendition
//   8 viewers      error and rebuffer rates by rendition, device class and region over the last
//                  15 minutes (core/viewers)
//   9 remedies     the actions available now, each with its command
//  10 record       the channel's incident notes (iptvctl diagnose --record adds one)
//
// Steps 5, 6 and 7 run in parallel; a healthy channel is diagnosed in about 4-6 s.
// Threads: diagnose() runs on the caller's thread (the API starts one per request) and starts
// its own for steps 5-7; everything it reads is thread-safe (directory snapshots, the SQLite
// store, ViewerStats).
#pragma once

#include <functional>
#include <string>

#include "control/diagnosis.h"
#include "control/directory.h"
#include "control/store.h"
#include "diagnose/step.h"
#include "origin/origin.h"
#include "token/token.h"
#include "viewers/viewer_stats.h"

namespace iptv::diagnose {

struct EngineDeps {
  control::ChannelDirectory *channels = nullptr;
  control::RecordSource *records = nullptr;
  control::EventLog *events = nullptr;
  control::ControlStore *store = nullptr;
  const KeyRing *keys = nullptr;             // edgeauth: the ring the origin verifies with
  std::function<std::string()> origin_base;  // "http://127.0.0.1:8080": the origin, locally
  // The token path segment for a short-lived URL of `channel` ("" when tokens are off).
  std::function<std::string(const std::string &channel, int ttl_seconds)> mint;
  const viewers::ViewerStats *viewers = nullptr;  // null: step 8 has no data
};

struct EngineConfig {
  double follow_seconds = 3.0;    // how long steps 5 and 6 follow the playlists
  int http_timeout_s = 4;         // per request
  double heartbeat_fail_s = 3.0;  // no status line from the worker for this long: hung
  double rebuffer_fail_ratio = 0.05;
  uint64_t min_cmcd_requests = 5;
  double error_fail_ratio = 0.2;
  uint64_t min_requests = 20;
  double startup_warn_s = 5.0;
  double queue_full = 0.9;    // step 4 warns when a worker queue is this full (0..1)
  double play_seconds = 2.0;  // step 7 decodes this much of every rendition from its live start
};

class Engine : public control::Diagnoser {
 public:
  explicit Engine(EngineDeps deps, EngineConfig config = {})
      : deps_(std::move(deps)), cfg_(config) {}
  control::DiagnosisAnswer diagnose(const control::DiagnosisRequest &r) override;

 private:
  EngineDeps deps_;
  EngineConfig cfg_;
};

// ---- the steps (steps.cpp, media.cpp); each fills `s` -------------------------------------

struct Context {
  const control::DiagnosisRequest *req = nullptr;
  ChannelRecord record;
  control::ChannelDetail detail;
  std::vector<control::EventView> transitions;  // channel.state events, newest first
  int64_t now = 0;                              // unix seconds
};

void step_entitlement(const EngineDeps &d, const Context &c, Step &s);
void step_control(const Context &c, Step &s);
void step_ingest(const Context &c, Step &s);
void step_worker(const EngineConfig &cfg, const Context &c, Step &s);
void step_viewers(const EngineDeps &d, const EngineConfig &cfg, const Context &c, Step &s);
void step_remedies(const Context &c, const std::vector<Step> &before, Step &s);
void step_record(const EngineDeps &d, const Context &c, Step &s);

// Steps 5, 6 and 7 together (they share the token and run in parallel).
struct MediaUrls {
  std::string origin;  // multivariant URL on the origin, with a fresh token
  std::string edge;    // the same path on the edge ("" none)
};
void steps_media(const EngineConfig &cfg, const Context &c, const MediaUrls &urls, Step &origin,
                 Step &edge, Step &playback);

// The exact command of a remedy (iptvctl ...), for `channel`.
std::string command_for(const std::string &action, const std::string &channel,
                        const std::string &arg = "");

}  // namespace iptv::diagnose
