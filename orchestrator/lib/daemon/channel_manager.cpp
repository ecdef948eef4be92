#include "daemon/channel_manager.h"

#include <gio/gio.h>
#include <glib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "log/log.h"
#include "origin/origin.h"
#include "records/loader.h"
#include "records/profiles_yaml.h"
#include "store/state_store.h"
#include "util/atomic_file.h"
#include "worker/spec.h"

namespace iptv::daemon {

namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

bool contains(const std::vector<std::string> &v, const std::string &s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A callback that runs at most once, from whichever of its callers comes first.
using Once = std::shared_ptr<std::function<void()>>;
void run_once(const Once &once) {
  if (!*once) return;
  auto f = std::move(*once);
  *once = nullptr;
  f();
}

}  // namespace

SpecFile build_spec(const ChannelRecord &rec, const std::map<std::string, ChannelRecord> &set,
                    const ManagerOptions &opts) {
  worker::WorkerDefaults d;
  d.hls_root = opts.hls_root.empty() ? opts.data_dir + "/hls" : opts.hls_root;
  d.thumbnail_dir = opts.data_dir + "/thumbnails";
  d.heartbeat_ms = opts.heartbeat_ms;
  SpecFile s;
  s.text = worker::to_json(worker::make_worker_spec(rec, set, d)).dump(2);
  s.sha256 = sha256_hex(s.text);
  s.status = rec.status;
  return s;
}

ChannelManager::ChannelManager(ManagerOptions opts, store::StateStore &store, Origin &origin,
                               log::Logger &logger)
    : opts_(std::move(opts)), store_(&store), origin_(&origin), logger_(logger) {}

ChannelManager::~ChannelManager() {
  {
    std::lock_guard lk(mu_);
    runners_.clear();  // kills any worker still running
  }
  if (monitor_) g_object_unref(monitor_);
  if (reload_timer_) g_source_remove(reload_timer_);
  if (rights_timer_) g_source_remove(rights_timer_);
  if (stop_timer_) g_source_remove(stop_timer_);
  if (segment_timer_) g_source_remove(segment_timer_);
  flush_segments();
  if (flush_timer_) g_source_remove(flush_timer_);
}

void ChannelManager::log(const std::string &channel, const std::string &level,
                         const std::string &message) {
  log::Level l = level == "error"                        ? log::Level::kError
                 : level == "warning" || level == "warn" ? log::Level::kWarn
                 : level == "debug" || level == "worker" ? log::Level::kDebug
                                                         : log::Level::kInfo;
  if (level == "worker")
    logger_.log(l, channel, message, {{"source", "worker"}});
  else
    logger_.log(l, channel, message);
}

// ---- Planning: the folder against the applied set, each spec built once ----

void ChannelManager::load() {
  std::map<std::string, ChannelRecord> previous;
  ProfileCatalog catalog;
  std::vector<std::string> cat_errors;
  if (fs::exists(opts_.channels_dir + "/profiles.yaml"))
    load_profiles_file(catalog, opts_.channels_dir + "/profiles.yaml", &cat_errors);
  for (const auto &a : store_->applied_all()) {
    if (a.status == "retired") continue;
    ChannelRecord rec;
    std::vector<LoadError> errs;
    std::string file = opts_.channels_dir + "/" + a.channel_id + ".yaml";
    if (parse_channel(a.yaml, file, catalog, rec, errs)) {
      rec.content_sha256 = a.sha256;
      previous[a.channel_id] = rec;
    }
  }
  // Every channel starts (no worker runs yet); the plan still sorts them as a reload would.
  Specs previous_specs;
  for (const auto &[id, rec] : previous) previous_specs[id] = build_spec(rec, previous, opts_);
  LoadResult loaded = load_channels({opts_.channels_dir});
  Specs specs;
  ReloadPlan p = plan(previous, previous_specs, loaded, &specs);
  apply(p, std::move(specs), true);
}

void ChannelManager::reload(const std::string &why) {
  if (stopping_) return;
  log("", "info", "reloading channels (" + why + ")");
  LoadResult loaded = load_channels({opts_.channels_dir});
  std::map<std::string, ChannelRecord> current;
  Specs current_specs;
  {
    std::lock_guard lk(mu_);
    current = records_;
    current_specs = specs_;
  }
  Specs specs;
  ReloadPlan p = plan(current, current_specs, loaded, &specs);
  log("", "info",
      "reload: " + std::to_string(p.unchanged.size()) + " unchanged, " +
          std::to_string(p.changed.size()) + " changed, " + std::to_string(p.added.size()) +
          " added, " + std::to_string(p.removed.size()) + " removed, " +
          std::to_string(p.errors.size()) + " errors");
  apply(p, std::move(specs), false);
}

ReloadPlan ChannelManager::plan(const std::map<std::string, ChannelRecord> &current,
                                const Specs &current_specs, const LoadResult &loaded,
                                Specs *next_specs) const {
  ReloadPlan p = next_channel_set(current, loaded);
  for (const auto &[id, rec] : p.next) (*next_specs)[id] = build_spec(rec, p.next, opts_);
  sort_channels(p, current, [&](const std::string &id) {
    auto it = current_specs.find(id);
    return it != current_specs.end() &&
           it->second.fingerprint() == next_specs->at(id).fingerprint();
  });
  return p;
}

// ---- Applying a plan ----

void ChannelManager::apply(const ReloadPlan &plan, Specs specs, bool initial) {
  report_rejected(plan);
  {
    std::lock_guard lk(mu_);
    records_ = plan.next;
    specs_ = specs;
  }
  for (const auto &id : plan.removed) retire(id);
  std::vector<std::string> to_start = plan.added;
  if (initial) {
    to_start.insert(to_start.end(), plan.changed.begin(), plan.changed.end());
    to_start.insert(to_start.end(), plan.unchanged.begin(), plan.unchanged.end());
  }
  for (const auto &id : to_start) {
    const ChannelRecord &rec = plan.next.at(id);
    if (!contains(plan.kept_last_good, id)) record_applied(rec);
    if (!initial) log(id, "info", "record added: starting");
    start_channel(rec, specs.at(id));
  }
  if (!initial)
    for (const auto &id : plan.changed) rebuild(plan.next.at(id), specs.at(id));
}

void ChannelManager::report_rejected(const ReloadPlan &plan) {
  for (const auto &e : plan.errors) {
    log(e.channel_id, "error", "record rejected: " + e.str());
    nlohmann::json d = {{"file", e.file},
                        {"line", e.line},
                        {"column", e.column},
                        {"field", e.path},
                        {"message", e.message}};
    auto ev = store::make_event("record.rejected", e.channel_id, "failure", d.dump());
    ev.job_id = e.channel_id;  // no worker run: the channel alone
    ev.input_checksum = sha256_hex(read_text(e.file));
    store_write([this, ev] { store_->record_event(ev); });
  }
  for (const auto &id : plan.kept_last_good)
    log(id, "warning", "its record file failed validation; the last good version keeps running");
}

void ChannelManager::record_applied(const ChannelRecord &rec) {
  auto prev = store_->applied(rec.channel_id);
  if (prev && prev->sha256 == rec.content_sha256 && prev->status == to_string(rec.status)) return;
  auto ev = store::make_event("channel.applied", rec.channel_id, "success",
                              nlohmann::json{{"file", rec.file}}.dump());
  ev.input_checksum = rec.content_sha256;
  ev.job_id = rec.channel_id;  // the record, not a worker run
  ev.output_uri = "/hls/" + rec.channel_id + "/index.m3u8";
  store_write([this, rec, ev, yaml = read_text(rec.file)] {
    store_->set_applied(rec.channel_id, rec.content_sha256, yaml, to_string(rec.status), ev);
  });
}

void ChannelManager::retire(const std::string &id) {
  log(id, "info", "record removed: retiring the channel");
  origin_->remove_channel(id);
  if (observer_) observer_->channel_retired(id);
  ChannelRunner *r = find_runner(id);
  auto retire_row = [this, id] {
    store_write([this, id] {
      if (auto a = store_->applied(id)) store_->set_applied(id, a->sha256, a->yaml, "retired");
    });
  };
  if (!r) {
    store_write([this, id, ev = store::make_event("channel.state", id, "info")] {
      store_->transition(id, "retired", "record removed", ev);
    });
    retire_row();
    // No runner: the record went while iptvd was down (or was killed mid-reload), so no worker
    // stop will remove the tree; it would stay forever (issue 21, chaos).
    std::error_code ec;
    auto n = fs::remove_all(opts_.data_dir + "/hls/" + id, ec);
    if (ec)
      log(id, "warning", "cannot remove the HLS tree of the retired channel: " + ec.message());
    else if (n > 0)
      log(id, "info", "removed the HLS tree of the retired channel");
    return;
  }
  r->stop("retired", "record removed", [this, id, retire_row] {
    retire_row();
    // Drop the runner outside its own callback.
    g_idle_add(
        [](gpointer d) -> gboolean {
          auto *p = static_cast<std::pair<ChannelManager *, std::string> *>(d);
          {
            std::lock_guard lk(p->first->mu_);
            auto it = p->first->runners_.find(p->second);
            if (it != p->first->runners_.end() && it->second->stopping()) {
              p->first->runners_.erase(it);
              p->first->release_group(p->second);
            }
          }
          delete p;
          return G_SOURCE_REMOVE;
        },
        new std::pair<ChannelManager *, std::string>(this, id));
  });
}

void ChannelManager::rebuild(const ChannelRecord &rec, const SpecFile &spec) {
  record_applied(rec);
  ChannelRunner *r = find_runner(rec.channel_id);
  log(rec.channel_id, "info", "record changed: rebuilding the channel");
  // The new worker gets the spec planned with this record, even if another reload comes before
  // the old worker is gone.
  if (r && r->pid())
    r->stop("offline", "record changed", [this, rec, spec] { start_channel(rec, spec); });
  else
    start_channel(rec, spec);
}

// ---- Starting and stopping channels ----

std::string ChannelManager::spec_path(const std::string &id) const {
  return opts_.data_dir + "/run/" + id + ".json";
}

RunnerOptions ChannelManager::runner_options(const ChannelRecord &rec) const {
  RunnerOptions o;
  o.worker_argv = {opts_.worker_path, "--spec", spec_path(rec.channel_id), "--status-fd", "3"};
  // In a cluster the worker carries the fencing token it publishes under (docs/cluster.md).
  // (Main loop, the only writer of owned_; start_channel calls this under mu_.)
  int64_t token = 0;
  if (!cluster_node_.empty()) {
    auto it = owned_.find(rec.channel_id);
    if (it != owned_.end()) token = it->second;
    if (token > 0)
      o.worker_argv.insert(o.worker_argv.end(), {"--fencing-token", std::to_string(token)});
  }
  o.limits = opts_.limits;
  o.backoff = opts_.backoff;
  o.heartbeat_timeout_seconds = opts_.heartbeat_timeout_seconds;
  o.media_stall_seconds = opts_.media_stall_seconds;
  o.stop_grace_seconds = opts_.stop_grace_seconds;
  o.hls_dir = hls_dir(rec.channel_id);
  o.thumbnail = opts_.data_dir + "/thumbnails/" + rec.channel_id + ".jpg";
  if (rec.encryption.enabled && key_source_) {
    // Key period = sequence / rotate_segments. At spawn the sequence is guessed from the clock
    // (sequence_mode epoch numbers segments floor(UTC / target)); a worker whose first segment
    // falls elsewhere (counter mode) uses the nearest key it has until its first segment brings
    // the right ones.
    uint64_t n = (uint64_t)rec.encryption.rotate_segments;
    double target = rec.hls.segment_seconds > 0 ? rec.hls.segment_seconds : 4.0;
    o.keys = [src = key_source_, id = rec.channel_id, n, target](std::optional<uint64_t> sequence) {
      uint64_t seq = sequence ? *sequence : (uint64_t)(g_get_real_time() / 1e6 / target);
      std::vector<wire::CmdKey> out;
      for (uint64_t p : {seq / n, seq / n + 1})
        if (auto k = src(id, p)) out.push_back(*k);
      return out;
    };
  }
  if (opts_.channels_per_process > 1 && (rec.passthrough() || opts_.group_transcode)) {
    auto *self = const_cast<ChannelManager *>(this);  // the group is picked at spawn time
    // A grouped channel carries the same fencing token in its start command.
    o.make_worker = [self, id = rec.channel_id, spec = spec_path(rec.channel_id),
                     token](WorkerCallbacks cb) {
      return self->group_for(id)->member(id, spec, token, std::move(cb));
    };
  }
  return o;
}

std::shared_ptr<WorkerGroup> ChannelManager::group_for(const std::string &id) {
  if (auto it = group_of_.find(id); it != group_of_.end()) return it->second;
  std::map<WorkerGroup *, int> used;
  for (const auto &[ch, g] : group_of_) used[g.get()]++;
  for (const auto &g : groups_)
    if (used[g.get()] < opts_.channels_per_process) return group_of_[id] = g;
  std::string name = "group-" + std::to_string(groups_.size() + 1);
  auto g = std::make_shared<WorkerGroup>(
      name, std::vector<std::string>{opts_.worker_path, "--group", "--status-fd", "3"},
      opts_.limits,
      [this, name](const std::string &level, const std::string &line) { log(name, level, line); });
  groups_.push_back(g);
  return group_of_[id] = g;
}

void ChannelManager::release_group(const std::string &id) {
  group_of_.erase(id);
}

std::string ChannelManager::not_runnable_reason(const ChannelRecord &rec) const {
  if (!opts_.cannot_run_reason.empty()) return opts_.cannot_run_reason;
  for (const auto &w : record_warnings(rec)) return w;
  if (!opts_.role.empty() && rec.placement.role != PlacementRole::kAny &&
      opts_.role != to_string(rec.placement.role))
    return std::string("placed on ") + to_string(rec.placement.role) + " nodes; this node is " +
           opts_.role;
  if (!opts_.node.empty() && !rec.placement.node.empty() && rec.placement.node != opts_.node)
    return "placed on node " + rec.placement.node + "; this node is " + opts_.node;
  return {};
}

void ChannelManager::start_channel(const ChannelRecord &rec, const SpecFile &spec) {
  ChannelRunner *runner;
  bool fresh = false;
  {
    std::lock_guard lk(mu_);
    auto &slot = runners_[rec.channel_id];
    if (!slot) {
      slot = std::make_unique<ChannelRunner>(rec.channel_id, runner_options(rec), *this);
      fresh = true;
    }
    runner = slot.get();
  }
  if (fresh)
    if (auto st = store_->state(rec.channel_id))
      runner->seed((uint64_t)st->restarts, (uint64_t)st->failovers);
  // A warm channel (cluster move-back) runs its worker here unserved until this node owns it.
  const bool warm =
      !cluster_node_.empty() && !owned_.count(rec.channel_id) && is_warm(rec.channel_id);
  if (warm)
    origin_->remove_channel(rec.channel_id);
  else
    origin_->add_channel(rec.channel_id, hls_dir(rec.channel_id));
  if (observer_ && !warm) observer_->channel_started(rec, hls_dir(rec.channel_id));
  if (rec.status == ChannelStatus::kDisabled) {
    runner->set_disabled("record status: disabled");
    return;
  }
  if (rec.status == ChannelStatus::kRetired) {
    runner->stop("retired", "record status: retired");
    return;
  }
  std::string why = not_runnable_reason(rec);
  if (why.empty() && !cluster_node_.empty() && !owned_.count(rec.channel_id) && !warm) {
    // In a cluster a channel runs only on its owner: nothing is served here meanwhile.
    auto w = not_owned_why_.find(rec.channel_id);
    why = w != not_owned_why_.end() ? w->second : "not owned by this node (waiting for etcd)";
    origin_->remove_channel(rec.channel_id);
  }
  if (!why.empty()) {
    log(rec.channel_id, "warning", "not started: " + why);
    runner->stop("offline", why);
    // A channel that never ran still gets its state row, with the reason (and a row left from
    // an earlier run gets this run's reason).
    auto st = store_->state(rec.channel_id);
    if (!st || st->state != "offline" || st->reason != why) {
      auto ev = store::make_event("channel.state", rec.channel_id, "info");
      ev.job_id = job_id(rec.channel_id);
      store_write(
          [this, id = rec.channel_id, why, ev] { store_->transition(id, "offline", why, ev); });
    }
    return;
  }
  std::string err = write_file_atomic(spec_path(rec.channel_id), spec.text);
  if (!err.empty()) {
    log(rec.channel_id, "error", "cannot write worker spec: " + err);
    runner->stop("offline", "cannot write worker spec");
    return;
  }
  if (opts_.channels_per_process <= 1 || !(rec.passthrough() || opts_.group_transcode))
    release_group(rec.channel_id);
  runner->set_options(runner_options(rec));
  runner->start();
}

void ChannelManager::watch() {
  if (opts_.watch_channels) {
    GFile *dir = g_file_new_for_path(opts_.channels_dir.c_str());
    monitor_ = g_file_monitor_directory(dir, G_FILE_MONITOR_WATCH_MOVES, nullptr, nullptr);
    g_object_unref(dir);
    if (monitor_) {
      g_file_monitor_set_rate_limit(monitor_, 200);
      g_signal_connect(
          monitor_, "changed",
          G_CALLBACK(+[](GFileMonitor *, GFile *, GFile *, GFileMonitorEvent ev, gpointer d) {
            auto *self = static_cast<ChannelManager *>(d);
            if (ev == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED) return;
            // Editors write in bursts: reload once things settle.
            if (self->reload_timer_) g_source_remove(self->reload_timer_);
            self->reload_timer_ = g_timeout_add(
                300,
                [](gpointer d2) -> gboolean {
                  auto *s = static_cast<ChannelManager *>(d2);
                  s->reload_timer_ = 0;
                  s->reload("channels folder changed");
                  return G_SOURCE_REMOVE;
                },
                self);
          }),
          this);
    }
  }
  // Rights can expire while a channel runs: check once a minute.
  g_timeout_add_seconds(
      60,
      [](gpointer d) -> gboolean {
        auto *self = static_cast<ChannelManager *>(d);
        std::vector<ChannelRecord> recs = self->records();
        for (auto &r : recs) {
          std::string why = self->not_runnable_reason(r);
          if (why.empty()) continue;
          std::lock_guard lk(self->mu_);
          auto it = self->runners_.find(r.channel_id);
          if (it != self->runners_.end() && it->second->pid()) it->second->stop("offline", why);
        }
        return G_SOURCE_CONTINUE;
      },
      this);
  // Rights can expire while a channel runs: check once a minute.
  rights_timer_ = g_timeout_add_seconds(
      60,
      [](gpointer d) -> gboolean {
        static_cast<ChannelManager *>(d)->check_rights();
        return G_SOURCE_CONTINUE;
      },
      this);
}

void ChannelManager::check_rights() {
  for (const auto &rec : records()) {
    std::string why = not_runnable_reason(rec);
    if (why.empty()) continue;
    ChannelRunner *r = find_runner(rec.channel_id);
    if (r && r->pid()) r->stop("offline", why);
  }
}

void ChannelManager::stop_all(std::function<void()> done_) {
  if (stopping_) return;
  stopping_ = true;
  // The last segments the workers report as they finish are stored before `done`.
  auto done = [this, d = std::move(done_)] {
    flush_segments();
    d();
  };
  log("", "info", "stopping: finishing open segments");
  owned_valid_until_us_ = 0;  // a late ownership post must not start anything now
  std::vector<ChannelRunner *> rs;
  {
    std::lock_guard lk(mu_);
    for (auto &[id, r] : runners_)
      if (r->pid()) rs.push_back(r.get());
  }
  if (rs.empty()) {
    done();
    return;
  }
  // `done` runs once: when the last worker is gone, or when the grace period (after which the
  // runners kill their workers) and 2 s more have passed.
  Once once = std::make_shared<std::function<void()>>(std::move(done));
  auto pending = std::make_shared<size_t>(rs.size());
  for (auto *r : rs)
    r->stop("offline", "iptvd stopped", [pending, once] {
      if (--*pending == 0) run_once(once);
    });
  stop_timer_ = g_timeout_add_seconds_full(
      G_PRIORITY_DEFAULT, (guint)opts_.stop_grace_seconds + 2,
      [](gpointer d) -> gboolean {
        auto *p = static_cast<std::pair<ChannelManager *, Once> *>(d);
        p->first->stop_timer_ = 0;
        run_once(p->second);
        return G_SOURCE_REMOVE;
      },
      new std::pair<ChannelManager *, Once>(this, once),
      [](gpointer d) { delete static_cast<std::pair<ChannelManager *, Once> *>(d); });
}

ChannelRunner *ChannelManager::find_runner(const std::string &id) const {
  std::lock_guard lk(mu_);
  auto it = runners_.find(id);
  return it != runners_.end() ? it->second.get() : nullptr;
}

std::string ChannelManager::hls_dir(const std::string &id) const {
  return (opts_.hls_root.empty() ? opts_.data_dir + "/hls" : opts_.hls_root) + "/" + id;
}

std::vector<ChannelView> ChannelManager::views() const {
  std::vector<ChannelView> out;
  std::lock_guard lk(mu_);
  for (const auto &[id, rec] : records_) {
    auto it = runners_.find(id);
    if (it != runners_.end()) {
      out.push_back(it->second->snapshot());
    } else {
      ChannelView v;
      v.channel_id = id;
      out.push_back(v);
    }
  }
  return out;
}

std::optional<ChannelView> ChannelManager::view(const std::string &id) const {
  std::lock_guard lk(mu_);
  if (!records_.count(id)) return std::nullopt;
  auto it = runners_.find(id);
  if (it != runners_.end()) return it->second->snapshot();
  ChannelView v;
  v.channel_id = id;
  return v;
}

std::optional<ChannelRecord> ChannelManager::record(const std::string &id) const {
  std::lock_guard lk(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<ChannelRecord> ChannelManager::records() const {
  std::lock_guard lk(mu_);
  std::vector<ChannelRecord> out;
  for (const auto &[id, r] : records_) out.push_back(r);
  return out;
}

std::optional<SpecFile> ChannelManager::spec(const std::string &id) const {
  std::lock_guard lk(mu_);
  auto it = specs_.find(id);
  if (it == specs_.end()) return std::nullopt;
  return it->second;
}

// ---- Actions (the API's path: posted to the main loop) ----

std::string ChannelManager::act_on_loop(const std::string &id, Action a, const std::string &arg) {
  ChannelRunner *r = find_runner(id);
  if (!r) return "unknown channel '" + id + "'";
  bool running = r->pid() != 0;
  switch (a) {
    case Action::kFailover:
      if (!running) return "channel is not running";
      r->command({{"cmd", "failover"}});
      log(id, "info", "operator: fail over now");
      return {};
    case Action::kReturn:
      if (!running) return "channel is not running";
      r->command({{"cmd", "return"}});
      log(id, "info", "operator: return to primary");
      return {};
    case Action::kRestart: {
      auto rec = record(id);
      if (rec && rec->status != ChannelStatus::kActive) return "channel is not active";
      r->restart("operator restart");
      return {};
    }
    case Action::kPurge:
      origin_->purge_channel(id);
      log(id, "info", "operator: purged cached manifests");
      on_event(id, "channel.purged", nlohmann::json::object());
      return {};
    case Action::kRenditionEnable:
    case Action::kRenditionDisable: {
      bool en = a == Action::kRenditionEnable;
      r->set_rendition_enabled(arg, en);
      log(id, "info", std::string("operator: rendition ") + arg + (en ? " enabled" : " disabled"));
      on_event(id, en ? "rendition.enabled" : "rendition.disabled", {{"rendition", arg}});
      return {};
    }
  }
  return "unknown action";
}

void ChannelManager::post_action(const std::string &id, Action a, const std::string &arg,
                                 const std::string &actor) {
  struct Call {
    ChannelManager *self;
    std::string id, arg, actor;
    Action a;
  };
  g_main_context_invoke_full(
      g_main_context_default(), G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Call *>(d);
        std::string err = c->self->act_on_loop(c->id, c->a, c->arg);
        if (!err.empty())
          c->self->log(c->id, "warning", "action by " + c->actor + " failed: " + err);
        return G_SOURCE_REMOVE;
      },
      new Call{this, id, arg, actor, a}, [](gpointer d) { delete static_cast<Call *>(d); });
}

void ChannelManager::post_event(const std::string &channel, const std::string &event_type,
                                const nlohmann::json &detail) {
  struct Call {
    ChannelManager *self;
    std::string channel, type;
    nlohmann::json detail;
  };
  g_main_context_invoke_full(
      g_main_context_default(), G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Call *>(d);
        c->self->on_event(c->channel, c->type, c->detail);
        return G_SOURCE_REMOVE;
      },
      new Call{this, channel, event_type, detail},
      [](gpointer d) { delete static_cast<Call *>(d); });
}

void ChannelManager::post_watch(const std::string &id, int pid, bool playable,
                                const std::map<std::string, std::string> &problems) {
  struct Call {
    ChannelManager *self;
    std::string id;
    int pid;
    bool playable;
    std::map<std::string, std::string> problems;
  };
  g_main_context_invoke_full(
      g_main_context_default(), G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Call *>(d);
        ChannelRunner *r = c->self->find_runner(c->id);
        // Only for the worker run it watched (a restart resets playability).
        if (r && r->pid() == c->pid) r->set_watch(c->playable, c->problems);
        return G_SOURCE_REMOVE;
      },
      new Call{this, id, pid, playable, problems},
      [](gpointer d) { delete static_cast<Call *>(d); });
}

// ---- Cluster ownership (cluster.h) ----

}  // namespace iptv::daemon
