// ChannelBoard: a ready-made, thread-safe snapshot of every channel for the control plane, fed by
// the daemon. It implements ChannelDirectory and MetricsSource (directory.h) from:
//   - the applied records (set_record / retire), which give names, groups, sources, renditions;
//   - the supervisor's own view (set_state, worker_started, worker_exited, set_worker_usage);
//   - the worker status lines, exactly as they arrive on the status fd (apply_status), see the
//     worker protocol in BRIEF/docs/worker.md: hello, hb, state, segment, encoder, probe, event,
//     stats, error.
// Actions are handed to the daemon's callback (which posts them to its owner thread).
//
// Every method takes one short mutex and never blocks otherwise, so the HTTP thread can call
// list()/get()/metrics() while the owner thread feeds status lines. Rendition names are the
// record's profile names (what the worker spec carries and the worker reports).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "control/directory.h"

namespace iptv::control {

class ChannelBoard : public ChannelDirectory, public MetricsSource {
 public:
  using ActionHandler =
      std::function<ActionResult(const std::string &id, Action action, const ActionArgs &args)>;
  // `events` (optional) fills ChannelDetail::last_events with the channel's newest 20 events.
  explicit ChannelBoard(ActionHandler on_action, EventLog *events = nullptr);

  // ---- fed by the daemon (any thread) ----
  // Adds or updates a channel from its applied record; `backup` is the record named by
  // failover.backup_source (for the backup source's URI), when there is one.
  void set_record(const ChannelRecord &record, const ChannelRecord *backup = nullptr);
  // A removed record: the channel stays listed as retired until forget().
  void retire(const std::string &id, const std::string &reason);
  void forget(const std::string &id);
  // The supervisor's states: starting, offline, disabled, retired (the worker reports the rest).
  void set_state(const std::string &id, const std::string &state, const std::string &reason);
  void worker_started(const std::string &id, int pid);
  // A worker ended; `restart` counts it as a restart (crash, hang), `error` is shown in detail.
  void worker_exited(const std::string &id, const std::string &error, bool restart);
  void set_worker_usage(const std::string &id, double cpu_seconds_total, uint64_t rss_bytes);
  void set_webhook_stats(uint64_t outbox_depth, uint64_t failures, uint64_t deliveries);
  // One worker status line (parsed JSON). Returns false for a line it does not understand.
  bool apply_status(const std::string &id, const nlohmann::json &line);

  // ---- read by the control plane ----
  std::vector<ChannelView> list() override;
  std::optional<ChannelDetail> get(const std::string &id) override;
  ActionResult act(const std::string &id, Action action, const ActionArgs &args) override;
  MetricsSnapshot metrics() override;

 private:
  using Clock = std::chrono::steady_clock;
  struct Rendition {
    RenditionView view;
    std::optional<Clock::time_point> last_segment;
  };
  struct Probe {
    ProbeConditionView view;
    uint64_t activations = 0;
    bool active = false;
  };
  struct Channel {
    ChannelView view;
    std::vector<SourceView> sources;
    std::vector<Rendition> renditions;
    std::map<std::string, Probe> probes;  // "condition/stream"
    int pid = 0;
    int64_t worker_started = 0;
    std::string last_error;
    double cpu_seconds = 0;
    uint64_t rss = 0;
    int64_t media_age_ms = -1;
  };
  Channel &channel(const std::string &id);  // mu_ held
  Rendition &rendition(Channel &c, const std::string &name);
  ChannelView view_of(const Channel &c) const;  // with ages computed now

  ActionHandler on_action_;
  EventLog *events_;
  mutable std::mutex mu_;
  std::map<std::string, Channel> channels_;
  uint64_t outbox_depth_ = 0, webhook_failures_ = 0, webhook_deliveries_ = 0;
};

}  // namespace iptv::control
