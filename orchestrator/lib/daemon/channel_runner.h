// One channel under supervision: its worker process, restarts with backoff and jitter, the
// heartbeat watchdog, its state machine and the figures the API and /metrics show.
//
// States: starting, live, degraded, failover, slate (reported by the worker), offline (no
// worker: crashed, hung, backing off), disabled (record status), retired (removed).
// Every transition goes to the ChannelSink (the daemon stores it in SQLite with its reason).
//
// Threads: everything runs on the daemon's main loop, except snapshot(), which any thread may
// call (the HTTP server thread does); it copies the view under `view_mu_`.
#pragma once

#include <glib.h>
#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/backoff.h"
#include "daemon/worker_process.h"
#include "daemon/worker_status.h"

namespace iptv::daemon {

// What the runner reports; implemented by the daemon over the state store and the logger.
class ChannelSink {
 public:
  virtual ~ChannelSink() = default;
  virtual void on_transition(const std::string &channel, const std::string &from,
                             const std::string &to, const std::string &reason) = 0;
  virtual void on_segment(const std::string &channel, const StSegment &seg) = 0;
  // Worker-reported events (failover.activated, ...) and the runner's own (worker.crashed, ...).
  virtual void on_event(const std::string &channel, const std::string &event_type,
                        const nlohmann::json &detail) = 0;
  virtual void log(const std::string &channel, const std::string &level,
                   const std::string &message) = 0;
};

struct RunnerOptions {
  std::vector<std::string> worker_argv;  // full argv of iptvd-worker for this channel
  // Set: the channel's worker is made by this instead (a member of a group process,
  // worker_group.h); worker_argv and limits are then unused.
  std::function<std::unique_ptr<WorkerHandle>(WorkerCallbacks)> make_worker;
  WorkerLimits limits;
  BackoffPolicy backoff;
  double heartbeat_timeout_seconds = 5.0;
  double media_stall_seconds = 30.0;  // no media for this long while running: replace the worker
  double stop_grace_seconds = 10.0;   // SIGTERM -> SIGKILL
  // The channel's HLS folder, removed once the channel is disabled or retired and its worker
  // gone ("" = never removed).
  std::string hls_dir;
  std::string thumbnail;  // the worker's thumbnail file, removed with the HLS tree
  // AES-128 channels (docs/encryption.md): the content keys the worker needs around a segment
  // sequence number (at spawn: nullopt, around now), sent on its command pipe ahead of their
  // key periods; each period once per worker. Empty: a clear channel.
  std::function<std::vector<wire::CmdKey>(std::optional<uint64_t> sequence)> keys;
};

struct RenditionView {
  std::string encoder;
  uint64_t last_sequence = 0;
  uint64_t discontinuity_sequence = 0;
  double last_segment_at = 0;  // unix seconds; 0 = none yet
  double last_part_at = 0;     // low latency: the newest part (unix seconds); 0 = none
  uint64_t segments = 0, bytes = 0;
  double bitrate = 0, fps = 0;
  bool enabled = true;
};

struct ProbeView {
  std::string condition;  // gap | silence | black | freeze | timestamp | rung-dropped
  std::string stream;     // video | audio | other: the one the worker reported (metric and event)
  std::string source;     // primary | backup | "" (the output)
  bool active = false;
  uint64_t count = 0;
  std::string detail;
  double since = 0;  // unix seconds of the last raise; 0 = never
};

struct SourceHealth {
  bool healthy = true;
  std::string detail;
  double since = 0;  // unix seconds; 0 = unknown
};

struct ChannelView {
  std::string channel_id;
  std::string state = "offline";
  std::string reason;
  double state_since = 0;     // unix seconds
  std::string active_source;  // primary | backup | slate | ""
  pid_t pid = 0;
  uint64_t restarts = 0, failovers = 0;
  double worker_cpu_seconds = 0;
  uint64_t worker_rss_bytes = 0;
  int64_t media_age_ms = -1;
  std::map<std::string, RenditionView> renditions;
  std::map<std::string, ProbeView> probes;      // by "[<source>/]<condition>/<stream>"
  std::map<std::string, SourceHealth> sources;  // by role: primary | backup
  double worker_started = 0;                    // unix seconds; 0 = no worker
  double last_status = 0;       // unix seconds of the worker's last status line; 0 = none yet
  double cpu_seconds_past = 0;  // CPU of earlier workers of this channel
  std::string last_error;
  // The worker's last stats line (issue 17, steps 3 and 4): inputs by role, its queues.
  std::map<std::string, wire::InputStats> inputs;
  std::vector<wire::QueueFill> queues;
  double stats_at = 0;  // unix seconds of that line; 0 = none yet
};

class ChannelRunner {
 public:
  ChannelRunner(std::string channel_id, RunnerOptions opts, ChannelSink &sink);
  ~ChannelRunner();
  ChannelRunner(const ChannelRunner &) = delete;
  ChannelRunner &operator=(const ChannelRunner &) = delete;

  void start();
  // Graceful stop (worker finishes its open segments); `done` runs once the worker is gone.
  // `final_state` is offline, disabled or retired.
  void stop(const std::string &final_state, const std::string &reason,
            std::function<void()> done = {});
  void set_disabled(const std::string &reason);  // no worker; state disabled
  void restart(const std::string &reason);
  void command(const wire::Command &cmd);  // failover / return / rendition
  // The same as JSON ({"cmd":"failover"}), read through wire::command_from_json: a malformed one
  // is logged and not sent.
  void command(const nlohmann::json &cmd);
  void set_rendition_enabled(const std::string &name, bool enabled);
  // The self-watch (self_watch.h), on the main loop. `playable`: the origin serves every
  // enabled rendition's first segment; until then a worker that says live (or degraded,
  // failover, slate) is shown `starting`. `problems`: conditions seen through the origin
  // ("stale", "misaligned", ... -> detail); while any holds, live is shown `degraded`.
  void set_watch(bool playable, const std::map<std::string, std::string> &problems);
  // Storage problems (a full disk) of a tier: "hot" (the worker could not write the live
  // window; its `disk-full`/`write-failed` probe) or "warm" (archive.write_failed with
  // disk_full). "" clears. While any holds, live is shown `degraded` with the problem as reason.
  // Kept across worker restarts: a full disk does not clear by restarting.
  void set_storage(const std::string &tier, const std::string &problem);
  void set_options(RunnerOptions opts) { opts_ = std::move(opts); }
  // Seeds counters from the store after a daemon restart.
  void seed(uint64_t restarts, uint64_t failovers);

  ChannelView snapshot() const;
  const std::string &id() const { return id_; }
  pid_t pid() const;
  bool stopping() const { return stopping_; }

 private:
  void spawn();
  void send_keys(std::optional<uint64_t> sequence);
  void on_status(const std::string &line);
  void on_exit(bool exited, int code);
  void set_state(const std::string &state, const std::string &reason);
  // The state shown for what the worker said, the origin's playability and the self-watch.
  void apply_worker_state();
  void remove_hls_if_gone();
  static gboolean on_tick(gpointer self);
  static gboolean on_restart_timer(gpointer self);
  static gboolean on_kill_timer(gpointer self);

  std::string id_;
  RunnerOptions opts_;
  ChannelSink &sink_;
  Backoff backoff_;
  std::unique_ptr<WorkerHandle> proc_;
  std::set<uint64_t> keys_sent_;         // key periods sent to this worker (AES-128)
  std::unique_ptr<WorkerHandle> dying_;  // a stopped worker while its exit is awaited
  gint64 spawned_at_ = 0, last_hb_ = 0;
  guint tick_id_ = 0, restart_id_ = 0, kill_id_ = 0;
  bool stopping_ = false, hung_kill_ = false;
  std::string final_state_, final_reason_;
  std::string worker_state_, worker_reason_;    // what the worker last said
  bool playable_ = false;                       // this worker run's output was served
  std::map<std::string, std::string> watch_;    // self-watch conditions now
  std::map<std::string, std::string> storage_;  // tier -> storage problem now
  void storage_probe(const StProbe &pr);
  void on_probe(const StProbe &pr);
  std::function<void()> stop_done_;
  mutable std::mutex view_mu_;  // guards view_
  ChannelView view_;
};

}  // namespace iptv::daemon
