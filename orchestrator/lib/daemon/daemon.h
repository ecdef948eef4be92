// iptvd's run loop: it owns all orchestrator state on one GMainContext (the process's main
// loop). Channel records become supervised workers; reloads diff records per channel; the state
// store keeps transitions, packaging state and events; the origin (and the control plane, mounted
// on the same HTTP server) runs on its own thread and reads snapshots only, so a busy encoder or
// a bad source never slows the API.
//
// Lock order (this file and channel_runner): Daemon::mu_ (the runner map) before
// ChannelRunner::view_mu_. Neither is held while calling into the store or the origin.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/backoff.h"
#include "daemon/channel_runner.h"
#include "daemon/reload.h"
#include "origin/origin.h"
#include "records/channel.h"

typedef struct _GMainLoop GMainLoop;
typedef struct _GFileMonitor GFileMonitor;

namespace iptv::store {
class StateStore;
}
namespace iptv::db {
class Db;
}

namespace iptv::daemon {

using LogFn = std::function<void(const std::string &level, const std::string &channel,
                                 const std::string &message)>;

struct DaemonOptions {
  std::string channels_dir = "channels";
  std::string data_dir = "var";
  std::string worker_path;            // iptvd-worker; default: next to iptvd
  std::string public_url;             // base of printed URLs; default http://<address>:<port>
  OriginConfig origin;                // address, port, token mode and keys
  int64_t printed_token_ttl = 86400;  // TTL of the tokens in the URLs printed at start
  WorkerLimits limits;
  BackoffPolicy backoff;
  int heartbeat_ms = 1000;
  double heartbeat_timeout_seconds = 5.0;
  double media_stall_seconds = 30.0;
  double stop_grace_seconds = 10.0;
  bool watch_channels = true;
  // Called once the state store is open, before any channel starts (webhooks hook in here so
  // start-up events are delivered too).
  std::function<void(store::StateStore &)> on_store_ready;
  int retention_events_days = 30;
  std::string node;  // placement: this node's name ("" = run every channel)
  std::string role;  // placement: edge | cloud | "" (any)
  // Set when the worker's GStreamer elements cannot be found (plugin_path.h): no channel starts,
  // each is offline with this reason, and /readyz is not ready.
  std::string cannot_run_reason;
};

// What an API action asks for.
enum class Action { kFailover, kReturn, kRestart, kPurge, kRenditionEnable, kRenditionDisable };

class Daemon : public ChannelSink {
 public:
  Daemon(DaemonOptions opts, LogFn log);
  ~Daemon() override;

  // Opens the store, starts the origin, loads the channels and starts their workers.
  bool start(std::string *error);
  // Runs the main loop until SIGTERM/SIGINT (graceful) or quit().
  int run();
  void quit();
  void reload(const std::string &why);

  // Thread-safe views for the API (copies).
  std::vector<ChannelView> views() const;
  std::optional<ChannelView> view(const std::string &id) const;
  std::optional<ChannelRecord> record(const std::string &id) const;
  std::vector<ChannelRecord> records() const;
  // Thread-safe: posts the action to the main loop and returns at once (the API's path).
  void post_action(const std::string &id, Action a, const std::string &arg,
                   const std::string &actor);
  // Thread-safe: records an event (on_event) from the main loop, e.g. an API refusal.
  void post_event(const std::string &channel, const std::string &event_type,
                  const nlohmann::json &detail);

  store::StateStore &store() { return *store_; }
  db::Db &db() { return *db_; }
  Origin &origin() { return *origin_; }
  const DaemonOptions &options() const { return opts_; }
  std::string playback_url(const std::string &channel, int64_t ttl,
                           const std::string &session = {}) const;
  // Why this node will not run the record ("" when it will): rights, placement, missing plugin.
  std::string not_runnable_reason(const ChannelRecord &rec) const;

  // ChannelSink (main loop).
  void on_transition(const std::string &channel, const std::string &from, const std::string &to,
                     const std::string &reason) override;
  void on_segment(const std::string &channel, const StSegment &seg) override;
  void on_event(const std::string &channel, const std::string &event_type,
                const nlohmann::json &detail) override;
  void log(const std::string &channel, const std::string &level,
           const std::string &message) override;

 private:
  void apply(const ReloadPlan &plan, bool initial);
  void start_channel(const ChannelRecord &rec);
  RunnerOptions runner_options(const ChannelRecord &rec);
  std::string spec_json(const ChannelRecord &rec,
                        const std::map<std::string, ChannelRecord> &all) const;
  // An event's job_id (docs/iptvd.md, "Events"): <channel>/<pid> of the worker run it belongs to
  // (the current one, or the last one when it just exited); <channel> when no worker has run.
  std::string job_id(const std::string &channel);
  std::string act_on_loop(const std::string &id, Action a, const std::string &arg);
  void shutdown();

  DaemonOptions opts_;
  LogFn log_;
  std::unique_ptr<db::Db> db_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<Origin> origin_;
  GMainLoop *loop_ = nullptr;
  GFileMonitor *monitor_ = nullptr;
  unsigned reload_timer_ = 0;
  bool shutting_down_ = false;
  mutable std::mutex mu_;  // guards runners_ (map shape) and records_
  std::map<std::string, std::unique_ptr<ChannelRunner>> runners_;
  std::map<std::string, ChannelRecord> records_;  // the last good record per channel
  std::map<std::string, pid_t> last_pid_;         // the last worker pid per channel (main loop)
};

}  // namespace iptv::daemon
