// iptvd's channels, the step after app.cpp: channel records in, supervised workers out. It
// applies the channels folder at start and on every reload, starts and stops channels, and stores
// what its runners report.
//
// The path of one record through this file:
//   load() / reload()  the folder is loaded (records/loader.cpp) and planned against the applied
//                      set (reload.cpp); every channel of the next set gets its worker spec built
//                      once (build_spec): the plan compares the specs' fingerprints, and the
//                      same text is what start_channel() writes
//   apply()            rejected files become events, removed channels retire, added channels
//                      start (at start-up: every channel), changed channels are rebuilt
//   start_channel()    writes <data>/run/<id>.json and hands the channel to its ChannelRunner
//                      (channel_runner.cpp), which spawns iptvd-worker (worker_process.cpp)
//   ChannelSink        the runners' transitions, segments and events go to the state store
//
// Threads: everything runs on the daemon's main loop, except the views (views, view, record,
// records), which the API thread reads as copies, and post_action / post_event, which post to
// the main loop.
//
// Lock order: ChannelManager::mu_ (records and the runner map) before ChannelRunner::view_mu_.
// Neither is held while calling into the store or the origin.
#pragma once

#include <functional>
#include <deque>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "daemon/backoff.h"
#include "daemon/channel_runner.h"
#include "daemon/reload.h"
#include "daemon/worker_group.h"
#include "records/channel.h"

typedef struct _GFileMonitor GFileMonitor;

namespace iptv {
class Origin;
}
namespace iptv::log {
class Logger;
}
namespace iptv::store {
class StateStore;
}

namespace iptv::daemon {

struct ManagerOptions {
  std::string channels_dir = "channels";
  std::string data_dir = "var";  // hls/<id>/ (packaged output) and run/<id>.json (worker specs)
  std::string hls_root;          // the live window's folder (storage.hot_dir); "" = data_dir/hls
  std::string worker_path;       // iptvd-worker (plugin_path.h resolve_worker_path)
  WorkerLimits limits;
  BackoffPolicy backoff;
  int heartbeat_ms = 1000;
  double heartbeat_timeout_seconds = 5.0;
  double media_stall_seconds = 30.0;
  double stop_grace_seconds = 10.0;
  bool watch_channels = true;  // reload when the channels folder changes (watch())
  std::string node;            // placement: this node's name ("" = run every channel)
  std::string role;            // placement: edge | cloud | "" (any)
  // Set when the worker's GStreamer elements cannot be found (plugin_path.h): no channel starts,
  // each is offline with this reason.
  std::string cannot_run_reason;
  // Passthrough channels per worker process (worker.channels_per_process; worker_group.h).
  // 1: each channel its own process. Transcode channels always get a process of their own.
  int channels_per_process = 1;
  bool group_transcode = false;  // worker.group_transcode: transcode channels are grouped too
};

// What else follows a channel's output besides the store and the origin (the catch-up archive):
// told, on the main loop, when a channel's output starts or the channel retires, and of every
// segment the worker publishes. Implementations must not block (queue and return).
class OutputObserver {
 public:
  virtual ~OutputObserver() = default;
  virtual void channel_started(const ChannelRecord &rec, const std::string &hls_dir) = 0;
  virtual void channel_retired(const std::string &id) = 0;
  virtual void segment(const std::string &channel, const StSegment &seg) = 0;
};

// One channel's worker spec, built once per record and planned reload (worker/spec.h
// make_worker_spec, against the channel set it belongs to, so a backup channel's source counts).
struct SpecFile {
  std::string text;    // the spec as JSON: written to <data>/run/<id>.json as it is
  std::string sha256;  // of `text`
  ChannelStatus status = ChannelStatus::kActive;
  // What the reload plan compares: the spec's hash, and the record status (a disabled channel
  // has the spec of an active one, and no worker).
  std::string fingerprint() const { return sha256 + "|" + to_string(status); }
};
SpecFile build_spec(const ChannelRecord &rec, const std::map<std::string, ChannelRecord> &set,
                    const ManagerOptions &opts);

// What an API action asks for.
enum class Action { kFailover, kReturn, kRestart, kPurge, kRenditionEnable, kRenditionDisable };

class ChannelManager : public ChannelSink {
 public:
  ChannelManager(ManagerOptions opts, store::StateStore &store, Origin &origin,
                 log::Logger &logger);
  ~ChannelManager() override;  // kills any worker still running
  ChannelManager(const ChannelManager &) = delete;
  ChannelManager &operator=(const ChannelManager &) = delete;

  // Start-up: the last good records of the previous run (the store) stand in for files that fail
  // to load now; every channel starts.
  void load();
  // Applies the channels folder as it is now: only what changed is touched.
  void reload(const std::string &why);
  // The manager's own triggers on the main loop: a reload whenever the channels folder changes
  // (once it settles; when watch_channels) and a rights check once a minute.
  void watch();
  // Rights can expire while a channel runs: stops each running channel that may no longer run.
  void check_rights();
  // Stops every worker gracefully (they finish their open segments); `done` runs once on the
  // main loop when all are gone, at once when none runs, and at the latest stop_grace_seconds
  // + 2 s later. Reloads are ignored from then on; a second call does nothing.
  void stop_all(std::function<void()> done);

  const ManagerOptions &options() const { return opts_; }
  // The folder a channel's worker publishes into (hls_root/<id>).
  std::string hls_dir(const std::string &id) const;
  // Set once before load(); the observer outlives the manager.
  void set_output_observer(OutputObserver *o) { observer_ = o; }
  // AES-128 channels: the content key of (channel, key period), made on first use (iptvd's key
  // store); nullopt when it cannot be had. Set once before load().
  using KeySource =
      std::function<std::optional<wire::CmdKey>(const std::string &channel, uint64_t period)>;
  void set_key_source(KeySource k) { key_source_ = std::move(k); }

  // Thread-safe views for the API (copies).
  std::vector<ChannelView> views() const;
  std::optional<ChannelView> view(const std::string &id) const;
  std::optional<ChannelRecord> record(const std::string &id) const;
  std::vector<ChannelRecord> records() const;
  // The spec of the applied record (what run/<id>.json holds once the channel started).
  std::optional<SpecFile> spec(const std::string &id) const;
  std::string spec_path(const std::string &id) const;
  // Thread-safe: posts the action to the main loop and returns at once (the API's path).
  void post_action(const std::string &id, Action a, const std::string &arg,
                   const std::string &actor);
  // Thread-safe: records an event (on_event) from the main loop, e.g. an API refusal.
  void post_event(const std::string &channel, const std::string &event_type,
                  const nlohmann::json &detail);
  // Thread-safe (the self-watch thread): hands what the self-watch saw of worker `pid`'s output
  // to the channel's runner on the main loop (ChannelRunner::set_watch).
  void post_watch(const std::string &id, int pid, bool playable,
                  const std::map<std::string, std::string> &problems);
  // Why this node will not run the record ("" when it will): rights, placement, missing plugin.
  std::string not_runnable_reason(const ChannelRecord &rec) const;

  // Cluster ownership (cluster.h, docs/cluster.md). Once enabled (before load()), a channel
  // runs only while this node owns it in etcd; the rest are offline with the reason given.
  void enable_ownership(const std::string &node_id);
  // Thread-safe (the cluster thread): the channels this node owns now, each with its fencing
  // token (the owner key's mod_revision), why each other channel is not owned, and the
  // monotonic time (g_get_monotonic_time) until which this holds. Applied on the main loop.
  // `warm`: channels this node takes back from their owner (it is their preferred node again):
  // their workers run here without being served (make-before-break) until this node owns them.
  // `standby`: hot-standby channels (redundancy: hot-standby) this node is the standby of, each
  // with the standby key's mod_revision: their workers run here too and are served once their
  // first segment (partial) left the window, after hls.window_segments + 1 segments and at
  // least kStandbyServeAfter (the same epoch numbers as the owner's); when this node
  // becomes the owner, the worker goes on, and gets its fencing token on its command pipe.
  void post_ownership(std::map<std::string, int64_t> owned,
                      std::map<std::string, std::string> why_not, int64_t valid_until_us,
                      std::set<std::string> warm = {}, std::map<std::string, int64_t> standby = {});
  static constexpr int kStandbyServeAfter = 3;
  // Thread-safe: the warm channels whose worker has written at least `segments` segments.
  std::set<std::string> warm_ready(int segments) const;
  // Main loop, every 200 ms: once the ownership is no longer proven (no keep-alive reached
  // etcd for lease_ttl - margin), every owned channel stops publishing (fenced).
  void fence_if_expired();
  // The fencing token under which the channel runs here (0: not owned; always 0 alone).
  int64_t fencing_token(const std::string &id) const;
  // Thread-safe: the standby key revision under which this node runs the channel as hot
  // standby (0: not a standby here).
  int64_t standby_token(const std::string &id) const;

  // ChannelSink (main loop).
  void on_transition(const std::string &channel, const std::string &from, const std::string &to,
                     const std::string &reason) override;
  // Segments are stored once a second, all in one transaction (flush_segments), and at stop.
  void on_segment(const std::string &channel, const StSegment &seg) override;
  void on_event(const std::string &channel, const std::string &event_type,
                const nlohmann::json &detail) override;
  void log(const std::string &channel, const std::string &level,
           const std::string &message) override;

 private:
  using Specs = std::map<std::string, SpecFile>;
  // The plan from the applied set to `loaded`; `next_specs` gets the spec of every channel of
  // plan.next, and the plan compares them with `current_specs`.
  ReloadPlan plan(const std::map<std::string, ChannelRecord> &current, const Specs &current_specs,
                  const LoadResult &loaded, Specs *next_specs) const;
  void apply(const ReloadPlan &plan, Specs specs, bool initial);
  void report_rejected(const ReloadPlan &plan);
  void record_applied(const ChannelRecord &rec);
  void retire(const std::string &id);
  void rebuild(const ChannelRecord &rec, const SpecFile &spec);
  void start_channel(const ChannelRecord &rec, const SpecFile &spec);
  ChannelRunner *find_runner(const std::string &id) const;
  RunnerOptions runner_options(const ChannelRecord &rec) const;
  // The group process of a grouped channel: the one it had, else the first with a free slot,
  // else a new one (main loop). release() frees its slot (retired, or no longer grouped).
  std::shared_ptr<WorkerGroup> group_for(const std::string &id);
  void release_group(const std::string &id);
  // An event's job_id (docs/iptvd.md, "Events"): <channel>/<pid> of the worker run it belongs to
  // (the current one, or the last one when it just exited); <channel> when no worker has run.
  std::string job_id(const std::string &channel);
  std::string act_on_loop(const std::string &id, Action a, const std::string &arg);
  // Writes the segments reported since the last flush (main loop).
  void flush_segments();
  // Every write to the state store goes through here (main loop). A write that fails (the
  // database locked by another process past its busy timeout, a full disk) is kept in order
  // with those after it and retried every second, without waiting on the lock, until the
  // database takes them: the daemon and its channels never stop for the database, and no
  // transition or event is dropped (issue 21, chaos). Pending writes live in memory only.
  void store_write(std::function<void()> write);
  static gboolean flush_store_writes(gpointer self);

  ManagerOptions opts_;
  store::StateStore *store_;  // not null
  Origin *origin_;            // not null
  OutputObserver *observer_ = nullptr;
  KeySource key_source_;
  log::Logger &logger_;
  bool stopping_ = false;
  GFileMonitor *monitor_ = nullptr;
  unsigned reload_timer_ = 0, rights_timer_ = 0, stop_timer_ = 0, segment_timer_ = 0;
  std::vector<std::pair<std::string, StSegment>> pending_segments_;  // main loop
  // Worker groups (channels_per_process > 1), before runners_: destroyed after them.
  std::vector<std::shared_ptr<WorkerGroup>> groups_;
  std::map<std::string, std::shared_ptr<WorkerGroup>> group_of_;  // channel -> its group
  mutable std::mutex mu_;  // guards runners_ (map shape), records_ and specs_
  std::map<std::string, std::unique_ptr<ChannelRunner>> runners_;
  std::map<std::string, ChannelRecord> records_;      // the last good record per channel
  Specs specs_;                                       // their specs, built when they were planned
  std::map<std::string, pid_t> last_pid_;             // the last worker pid per channel (main loop)
  std::deque<std::function<void()>> pending_writes_;  // store writes waiting for the database
  unsigned flush_timer_ = 0;
  // Cluster ownership (main loop; owned_ also read by fencing_token under mu_).
  void apply_ownership(const std::map<std::string, int64_t> &owned,
                       const std::map<std::string, std::string> &why_not, int64_t valid_until_us,
                       const std::set<std::string> &warm,
                       const std::map<std::string, int64_t> &standby);
  void lose_ownership(const std::string &id, const std::string &why);
  void lose_standby(const std::string &id, const std::string &why);
  void start_unserved(const std::string &id, int64_t standby_token);
  // A worker started before this node owned its channel (warm, standby) gets the token now, and
  // its runner keeps it for later restarts.
  void give_fencing_token(const std::string &id, int64_t token);
  std::string cluster_node_;              // "" = alone: every channel runs
  std::map<std::string, int64_t> owned_;  // channel -> fencing token
  // Hot standby here: channel -> standby key revision (under mu_). Its worker counts in warm_
  // (unserved, not archived) until it wrote kStandbyServeAfter segments; then it is served.
  std::map<std::string, int64_t> standby_;
  std::map<std::string, std::string> not_owned_why_;
  int64_t owned_valid_until_us_ = 0;
  // Warm channels (move-back, make-before-break): channel -> segments written since its worker
  // started here unserved. Main loop writes, the cluster thread reads (warm_mu_).
  mutable std::mutex warm_mu_;
  std::map<std::string, int> warm_;
  bool is_warm(const std::string &id) const;
};

}  // namespace iptv::daemon
