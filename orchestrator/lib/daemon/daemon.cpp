#include "daemon/daemon.h"
#include "daemon/plugin_path.h"

#include <gio/gio.h>
#include <glib-unix.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "db/sqlite_db.h"
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

const char *status_of_state(const std::string &to) {
  if (to == "live") return "success";
  if (to == "offline" || to == "slate") return "failure";
  if (to == "degraded" || to == "failover") return "warning";
  return "info";
}

}  // namespace

Daemon::Daemon(DaemonOptions opts, LogFn log) : opts_(std::move(opts)), log_(std::move(log)) {
  opts_.worker_path = resolve_worker_path(opts_.worker_path);
}

Daemon::~Daemon() {
  {
    std::lock_guard lk(mu_);
    runners_.clear();  // kills any worker still running
  }
  if (monitor_) g_object_unref(monitor_);
  if (reload_timer_) g_source_remove(reload_timer_);
  if (origin_) origin_->stop();
  if (loop_) g_main_loop_unref(loop_);
}

void Daemon::log(const std::string &channel, const std::string &level, const std::string &message) {
  if (log_) log_(level, channel, message);
}

bool Daemon::start(std::string *error) {
  std::error_code ec;
  for (const char *sub : {"", "/hls", "/run"}) {
    fs::create_directories(opts_.data_dir + sub, ec);
    if (ec) {
      *error = "cannot create " + opts_.data_dir + sub + ": " + ec.message();
      return false;
    }
  }
  try {
    db_ = db::Db::open(opts_.data_dir + "/iptvd.db");
    store_ = std::make_unique<store::StateStore>(*db_);
  } catch (const std::exception &e) {
    *error = e.what();
    return false;
  }
  if (opts_.on_store_ready) opts_.on_store_ready(*store_);
  // Retention: delivered events and old transitions are pruned hourly (and once at start).
  auto prune = [](gpointer d) -> gboolean {
    auto *self = static_cast<Daemon *>(d);
    int64_t n = self->store_->prune(self->opts_.retention_events_days);
    if (n > 0) self->log("", "info", "pruned " + std::to_string(n) + " old events");
    return G_SOURCE_CONTINUE;
  };
  prune(this);
  g_timeout_add_seconds(3600, prune, this);
  origin_ = std::make_unique<Origin>(opts_.origin);
  if (!origin_->start(error)) {
    *error = "origin: cannot listen on " + opts_.origin.address + ":" +
             std::to_string(opts_.origin.port) + ": " + *error;
    return false;
  }
  if (opts_.public_url.empty())
    opts_.public_url = "http://" + opts_.origin.address + ":" + std::to_string(origin_->port());
  loop_ = g_main_loop_new(nullptr, FALSE);
  g_unix_signal_add(
      SIGTERM,
      [](gpointer d) -> gboolean {
        static_cast<Daemon *>(d)->shutdown();
        return G_SOURCE_CONTINUE;
      },
      this);
  g_unix_signal_add(
      SIGINT,
      [](gpointer d) -> gboolean {
        static_cast<Daemon *>(d)->shutdown();
        return G_SOURCE_CONTINUE;
      },
      this);
  g_unix_signal_add(
      SIGHUP,
      [](gpointer d) -> gboolean {
        static_cast<Daemon *>(d)->reload("SIGHUP");
        return G_SOURCE_CONTINUE;
      },
      this);
  if (opts_.watch_channels) {
    GFile *dir = g_file_new_for_path(opts_.channels_dir.c_str());
    monitor_ = g_file_monitor_directory(dir, G_FILE_MONITOR_WATCH_MOVES, nullptr, nullptr);
    g_object_unref(dir);
    if (monitor_) {
      g_file_monitor_set_rate_limit(monitor_, 200);
      g_signal_connect(
          monitor_, "changed",
          G_CALLBACK(+[](GFileMonitor *, GFile *, GFile *, GFileMonitorEvent ev, gpointer d) {
            auto *self = static_cast<Daemon *>(d);
            if (ev == G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED) return;
            // Editors write in bursts: reload once things settle.
            if (self->reload_timer_) g_source_remove(self->reload_timer_);
            self->reload_timer_ = g_timeout_add(
                300,
                [](gpointer d2) -> gboolean {
                  auto *s = static_cast<Daemon *>(d2);
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
        auto *self = static_cast<Daemon *>(d);
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

  // The last good records from the previous run stand in for files that fail to load now.
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
  LoadResult loaded = load_channels({opts_.channels_dir});
  auto fp = [this](const ChannelRecord &r, const std::map<std::string, ChannelRecord> &all) {
    return spec_json(r, all) + "|" + to_string(r.status);
  };
  ReloadPlan plan = plan_reload(previous, loaded, fp);
  apply(plan, true);
  return true;
}

std::string Daemon::spec_json(const ChannelRecord &rec,
                              const std::map<std::string, ChannelRecord> &all) const {
  worker::WorkerDefaults d;
  d.hls_root = opts_.data_dir + "/hls";
  d.heartbeat_ms = opts_.heartbeat_ms;
  return worker::to_json(worker::make_worker_spec(rec, all, d)).dump(2);
}

std::string Daemon::not_runnable_reason(const ChannelRecord &rec) const {
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

RunnerOptions Daemon::runner_options(const ChannelRecord &rec) {
  RunnerOptions o;
  o.worker_argv = {opts_.worker_path, "--spec", opts_.data_dir + "/run/" + rec.channel_id + ".json",
                   "--status-fd", "3"};
  o.limits = opts_.limits;
  o.backoff = opts_.backoff;
  o.heartbeat_timeout_seconds = opts_.heartbeat_timeout_seconds;
  o.media_stall_seconds = opts_.media_stall_seconds;
  o.stop_grace_seconds = opts_.stop_grace_seconds;
  o.hls_dir = opts_.data_dir + "/hls/" + rec.channel_id;
  return o;
}

void Daemon::start_channel(const ChannelRecord &rec) {
  ChannelRunner *runner;
  {
    std::lock_guard lk(mu_);
    auto &slot = runners_[rec.channel_id];
    if (!slot) {
      slot = std::make_unique<ChannelRunner>(rec.channel_id, runner_options(rec), *this);
      if (auto st = store_->state(rec.channel_id))
        slot->seed((uint64_t)st->restarts, (uint64_t)st->failovers);
    }
    runner = slot.get();
  }
  origin_->add_channel(rec.channel_id, opts_.data_dir + "/hls/" + rec.channel_id);
  if (rec.status == ChannelStatus::kDisabled) {
    runner->set_disabled("record status: disabled");
    return;
  }
  if (rec.status == ChannelStatus::kRetired) {
    runner->stop("retired", "record status: retired");
    return;
  }
  std::string why = not_runnable_reason(rec);
  if (!why.empty()) {
    log(rec.channel_id, "warning", "not started: " + why);
    runner->stop("offline", why);
    // A channel that never ran still gets its state row, with the reason (and a row left from
    // an earlier run gets this run's reason).
    auto st = store_->state(rec.channel_id);
    if (!st || st->state != "offline" || st->reason != why) {
      auto ev = store::make_event("channel.state", rec.channel_id, "info");
      ev.job_id = job_id(rec.channel_id);
      store_->transition(rec.channel_id, "offline", why, ev);
    }
    return;
  }
  std::string spec_path = opts_.data_dir + "/run/" + rec.channel_id + ".json";
  std::string err = write_file_atomic(spec_path, spec_json(rec, records_));
  if (!err.empty()) {
    log(rec.channel_id, "error", "cannot write worker spec: " + err);
    runner->stop("offline", "cannot write worker spec");
    return;
  }
  runner->set_options(runner_options(rec));
  runner->start();
}

void Daemon::apply(const ReloadPlan &plan, bool initial) {
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
    store_->record_event(ev);
  }
  for (const auto &id : plan.kept_last_good)
    log(id, "warning", "its record file failed validation; the last good version keeps running");
  {
    std::lock_guard lk(mu_);
    records_ = plan.next;
  }
  auto applied = [&](const ChannelRecord &rec) {
    auto prev = store_->applied(rec.channel_id);
    if (prev && prev->sha256 == rec.content_sha256 && prev->status == to_string(rec.status)) return;
    auto ev = store::make_event("channel.applied", rec.channel_id, "success",
                                nlohmann::json{{"file", rec.file}}.dump());
    ev.input_checksum = rec.content_sha256;
    ev.job_id = rec.channel_id;  // the record, not a worker run
    ev.output_uri = "/hls/" + rec.channel_id + "/index.m3u8";
    store_->set_applied(rec.channel_id, rec.content_sha256, read_text(rec.file),
                        to_string(rec.status), ev);
  };
  for (const auto &id : plan.removed) {
    log(id, "info", "record removed: retiring the channel");
    origin_->remove_channel(id);
    ChannelRunner *r = nullptr;
    {
      std::lock_guard lk(mu_);
      auto it = runners_.find(id);
      if (it != runners_.end()) r = it->second.get();
    }
    auto retire_row = [this, id] {
      if (auto a = store_->applied(id)) store_->set_applied(id, a->sha256, a->yaml, "retired");
    };
    if (!r) {
      store_->transition(id, "retired", "record removed",
                         store::make_event("channel.state", id, "info"));
      retire_row();
      continue;
    }
    r->stop("retired", "record removed", [this, id, retire_row] {
      retire_row();
      // Drop the runner outside its own callback.
      g_idle_add(
          [](gpointer d) -> gboolean {
            auto *p = static_cast<std::pair<Daemon *, std::string> *>(d);
            {
              std::lock_guard lk(p->first->mu_);
              auto it = p->first->runners_.find(p->second);
              if (it != p->first->runners_.end() && it->second->stopping())
                p->first->runners_.erase(it);
            }
            delete p;
            return G_SOURCE_REMOVE;
          },
          new std::pair<Daemon *, std::string>(this, id));
    });
  }
  std::vector<std::string> to_start = plan.added;
  if (initial) {
    to_start.insert(to_start.end(), plan.changed.begin(), plan.changed.end());
    to_start.insert(to_start.end(), plan.unchanged.begin(), plan.unchanged.end());
  }
  for (const auto &id : to_start) {
    const ChannelRecord &rec = plan.next.at(id);
    if (std::find(plan.kept_last_good.begin(), plan.kept_last_good.end(), id) ==
        plan.kept_last_good.end())
      applied(rec);
    if (!initial) log(id, "info", "record added: starting");
    start_channel(rec);
  }
  if (!initial) {
    for (const auto &id : plan.changed) {
      const ChannelRecord rec = plan.next.at(id);
      applied(rec);
      ChannelRunner *r = nullptr;
      {
        std::lock_guard lk(mu_);
        auto it = runners_.find(id);
        if (it != runners_.end()) r = it->second.get();
      }
      log(id, "info", "record changed: rebuilding the channel");
      if (r && r->pid())
        r->stop("offline", "record changed", [this, rec] { start_channel(rec); });
      else
        start_channel(rec);
    }
  }
}

void Daemon::reload(const std::string &why) {
  if (shutting_down_) return;
  log("", "info", "reloading channels (" + why + ")");
  LoadResult loaded = load_channels({opts_.channels_dir});
  std::map<std::string, ChannelRecord> current;
  {
    std::lock_guard lk(mu_);
    current = records_;
  }
  auto fp = [this](const ChannelRecord &r, const std::map<std::string, ChannelRecord> &all) {
    return spec_json(r, all) + "|" + to_string(r.status);
  };
  ReloadPlan plan = plan_reload(current, loaded, fp);
  log("", "info",
      "reload: " + std::to_string(plan.unchanged.size()) + " unchanged, " +
          std::to_string(plan.changed.size()) + " changed, " + std::to_string(plan.added.size()) +
          " added, " + std::to_string(plan.removed.size()) + " removed, " +
          std::to_string(plan.errors.size()) + " errors");
  apply(plan, false);
}

int Daemon::run() {
  g_main_loop_run(loop_);
  store_->wake_all();
  return 0;
}

void Daemon::quit() {
  if (loop_) g_main_loop_quit(loop_);
}

void Daemon::shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  log("", "info", "stopping: finishing open segments");
  auto pending = std::make_shared<int>(0);
  std::vector<ChannelRunner *> rs;
  {
    std::lock_guard lk(mu_);
    for (auto &[id, r] : runners_) rs.push_back(r.get());
  }
  for (auto *r : rs)
    if (r->pid()) ++*pending;
  if (*pending == 0) {
    quit();
    return;
  }
  for (auto *r : rs) {
    if (!r->pid()) continue;
    r->stop("offline", "iptvd stopped", [this, pending] {
      if (--*pending == 0) quit();
    });
  }
  g_timeout_add_seconds((guint)opts_.stop_grace_seconds + 2,
                        [](gpointer d) -> gboolean {
                          static_cast<Daemon *>(d)->quit();
                          return G_SOURCE_REMOVE;
                        },
                        this);
}

void Daemon::on_transition(const std::string &channel, const std::string &from,
                           const std::string &to, const std::string &reason) {
  log(channel, "info", "state " + from + " -> " + to + " (" + reason + ")");
  auto ev = store::make_event("channel.state", channel, status_of_state(to));
  ev.job_id = job_id(channel);
  ev.output_uri = "/hls/" + channel + "/index.m3u8";
  store_->transition(channel, to, reason, ev);
}

void Daemon::on_segment(const std::string &channel, const StSegment &seg) {
  store::SegmentReport r;
  r.rendition = seg.rendition;
  r.sequence = (int64_t)seg.sequence;
  r.discontinuity_sequence = (int64_t)seg.discontinuity_sequence;
  r.duration = seg.duration;
  r.bytes = (int64_t)seg.bytes;
  r.uri = seg.uri;
  store_->record_segment(channel, r);
}

void Daemon::on_event(const std::string &channel, const std::string &event_type,
                      const nlohmann::json &detail) {
  std::string status = "info";
  if (event_type == "failover.activated" || event_type == "slate.entered" ||
      event_type == "source.lost" || event_type == "worker.restarting" ||
      event_type == "probe.condition.raised")
    status = "failure";
  else if (event_type == "failover.returned" || event_type == "slate.left" ||
           event_type == "source.recovered" || event_type == "probe.condition.cleared")
    status = "success";
  else if (event_type == "action.refused")
    status = "warning";
  auto ev = store::make_event(event_type, channel, status, detail.dump());
  {
    std::lock_guard lk(mu_);
    auto rit = records_.find(channel);
    if (rit != records_.end()) ev.input_checksum = rit->second.content_sha256;
  }
  ev.job_id = job_id(channel);
  ev.output_uri = "/hls/" + channel + "/index.m3u8";
  if (detail.contains("attempt") && detail["attempt"].is_number_integer())
    ev.attempt = detail["attempt"].get<int>();
  if (detail.contains("rendition") && detail["rendition"].is_string())
    ev.profile = detail["rendition"].get<std::string>();
  std::string what = event_type;
  for (const char *k : {"condition", "source", "rendition"})
    if (detail.contains(k) && detail[k].is_string() && !detail[k].get<std::string>().empty())
      what += std::string(" ") + k + "=" + detail[k].get<std::string>();
  log(channel, status == "failure" ? "warning" : "info",
      "event " + what +
          (detail.contains("reason") && detail["reason"].is_string() &&
                   !detail["reason"].get<std::string>().empty()
               ? " (" + detail["reason"].get<std::string>() + ")"
               : std::string()));
  store_->record_event(ev);
}

std::string Daemon::job_id(const std::string &channel) {
  std::lock_guard lk(mu_);
  auto it = runners_.find(channel);
  pid_t pid = it != runners_.end() ? it->second->pid() : 0;
  if (pid) last_pid_[channel] = pid;
  auto lp = last_pid_.find(channel);
  if (lp == last_pid_.end() || !lp->second) return channel;
  return channel + "/" + std::to_string(lp->second);
}

std::vector<ChannelView> Daemon::views() const {
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

std::optional<ChannelView> Daemon::view(const std::string &id) const {
  std::lock_guard lk(mu_);
  if (!records_.count(id)) return std::nullopt;
  auto it = runners_.find(id);
  if (it != runners_.end()) return it->second->snapshot();
  ChannelView v;
  v.channel_id = id;
  return v;
}

std::optional<ChannelRecord> Daemon::record(const std::string &id) const {
  std::lock_guard lk(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return std::nullopt;
  return it->second;
}

std::vector<ChannelRecord> Daemon::records() const {
  std::lock_guard lk(mu_);
  std::vector<ChannelRecord> out;
  for (const auto &[id, r] : records_) out.push_back(r);
  return out;
}

std::string Daemon::act_on_loop(const std::string &id, Action a, const std::string &arg) {
  ChannelRunner *r = nullptr;
  {
    std::lock_guard lk(mu_);
    auto it = runners_.find(id);
    if (it != runners_.end()) r = it->second.get();
  }
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

void Daemon::post_action(const std::string &id, Action a, const std::string &arg,
                         const std::string &actor) {
  struct Call {
    Daemon *self;
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

void Daemon::post_event(const std::string &channel, const std::string &event_type,
                        const nlohmann::json &detail) {
  struct Call {
    Daemon *self;
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

std::string Daemon::playback_url(const std::string &channel, int64_t ttl,
                                 const std::string &session) const {
  std::string seg;
  int64_t now = (int64_t)(g_get_real_time() / 1000000);
  switch (opts_.origin.mode) {
    case TokenMode::kNone:
      return opts_.public_url + "/hls/" + channel + "/index.m3u8";
    case TokenMode::kSecureLink:
      seg = securelink_segment(channel, now + ttl, opts_.origin.securelink_secret);
      break;
    case TokenMode::kEdgeAuth: {
      TokenClaims c;
      c.start = now;
      c.expiry = now + ttl;
      c.acl = acl_for_channel(channel);
      c.session = session;
      seg = token_to_path_segment(sign_token(c, opts_.origin.keys));
      break;
    }
  }
  return opts_.public_url + "/hls/" + channel + "/" + seg + "/index.m3u8";
}

}  // namespace iptv::daemon
