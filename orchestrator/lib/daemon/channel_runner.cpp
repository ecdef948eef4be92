#include "daemon/channel_runner.h"

#include <filesystem>

#include <signal.h>
#include <string.h>

#include <cmath>

namespace iptv::daemon {

namespace {

double now_unix() {
  return (double)g_get_real_time() / 1e6;
}

std::string signal_name(int sig) {
  const char *abbrev = sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

}  // namespace

ChannelRunner::ChannelRunner(std::string channel_id, RunnerOptions opts, ChannelSink &sink)
    : id_(std::move(channel_id)), opts_(std::move(opts)), sink_(sink), backoff_(opts_.backoff) {
  view_.channel_id = id_;
  view_.state_since = now_unix();
  tick_id_ = g_timeout_add(1000, on_tick, this);
}

ChannelRunner::~ChannelRunner() {
  if (tick_id_) g_source_remove(tick_id_);
  if (restart_id_) g_source_remove(restart_id_);
  if (kill_id_) g_source_remove(kill_id_);
  // Destroying a worker handle kills its worker.
  proc_.reset();
  dying_.reset();
}

void ChannelRunner::seed(uint64_t restarts, uint64_t failovers) {
  std::lock_guard lk(view_mu_);
  view_.restarts = restarts;
  view_.failovers = failovers;
}

pid_t ChannelRunner::pid() const {
  return proc_ && proc_->running() ? proc_->pid() : 0;
}

ChannelView ChannelRunner::snapshot() const {
  std::lock_guard lk(view_mu_);
  return view_;
}

void ChannelRunner::set_state(const std::string &state, const std::string &reason) {
  std::string from;
  {
    std::lock_guard lk(view_mu_);
    if (view_.state == state && view_.reason == reason) return;
    from = view_.state;
    bool changed = from != state;
    view_.state = state;
    view_.reason = reason;
    if (changed) view_.state_since = now_unix();
    if (!changed) return;  // same state, new reason: the view shows it, no transition
  }
  sink_.on_transition(id_, from, state, reason);
}

void ChannelRunner::apply_worker_state() {
  if (stopping_ || !proc_ || !proc_->running() || worker_state_.empty()) return;
  if (worker_state_ == "starting") return set_state("starting", worker_reason_);
  // `live` means playable: not before the origin served every rendition's first segment.
  if (!playable_)
    return set_state("starting", "packaging (" + worker_state_ +
                                     "); waiting for the origin to serve every rendition's first "
                                     "segment");
  if (worker_state_ == "live" && (!watch_.empty() || !storage_.empty())) {
    std::string why;
    for (const auto &[tier, problem] : storage_) why += (why.empty() ? "" : "; ") + problem;
    if (!watch_.empty()) {
      std::string w;
      for (const auto &[cond, detail] : watch_) w += (w.empty() ? "" : "; ") + detail;
      why += (why.empty() ? "" : "; ") + std::string("self-watch through the origin: ") + w;
    }
    return set_state("degraded", why);
  }
  set_state(worker_state_, worker_reason_);
}

// The worker could not write the live window (hot tier): degraded while it lasts.
void ChannelRunner::storage_probe(const StProbe &pr) {
  if (pr.condition == "disk-full" || pr.condition == "write-failed")
    set_storage("hot", pr.active ? "hot tier (live window): " + pr.detail : "");
}

void ChannelRunner::set_storage(const std::string &tier, const std::string &problem) {
  bool had = storage_.count(tier) > 0;
  if (problem.empty()) {
    if (!had) return;
    storage_.erase(tier);
  } else {
    if (had && storage_[tier] == problem) return;
    storage_[tier] = problem;
  }
  apply_worker_state();
}

void ChannelRunner::set_watch(bool playable, const std::map<std::string, std::string> &problems) {
  if (!proc_ || !proc_->running()) return;
  playable_ = playable_ || playable;
  // Conditions raised and cleared: events and the probe view, like the worker's own probes.
  std::vector<std::pair<std::string, bool>> changes;
  for (const auto &[cond, detail] : problems)
    if (!watch_.count(cond)) changes.push_back({cond, true});
  for (const auto &[cond, detail] : watch_)
    if (!problems.count(cond)) changes.push_back({cond, false});
  for (const auto &[cond, raised] : changes) {
    std::string detail = raised ? problems.at(cond) : watch_.at(cond);
    {
      std::lock_guard lk(view_mu_);
      auto &p = view_.probes["origin/" + cond + "/output"];
      if (raised && !p.active) {
        p.count++;
        p.since = now_unix();
      }
      p.condition = cond;
      p.stream = "output";
      p.source = "origin";
      p.active = raised;
      p.detail = detail;
    }
    sink_.on_event(
        id_, raised ? "probe.condition.raised" : "probe.condition.cleared",
        {{"condition", cond}, {"stream", "output"}, {"source", "origin"}, {"detail", detail}});
  }
  watch_ = problems;
  apply_worker_state();
}

void ChannelRunner::start() {
  stopping_ = false;
  if (proc_ && proc_->running()) return;
  spawn();
}

void ChannelRunner::spawn() {
  if (restart_id_) {
    g_source_remove(restart_id_);
    restart_id_ = 0;
  }
  dying_.reset();
  hung_kill_ = false;
  WorkerCallbacks cb;
  cb.on_status = [this](const std::string &l) { on_status(l); };
  cb.on_output = [this](const std::string &l) { sink_.log(id_, "worker", l); };
  cb.on_exit = [this](bool exited, int code) { on_exit(exited, code); };
  if (opts_.make_worker)
    proc_ = opts_.make_worker(std::move(cb));
  else
    proc_ = std::make_unique<WorkerProcess>(opts_.worker_argv, opts_.limits, std::move(cb));
  std::string err;
  spawned_at_ = last_hb_ = g_get_monotonic_time();
  if (!proc_->start(&err)) {
    proc_.reset();
    sink_.log(id_, "error", "cannot start worker: " + err);
    set_state("offline", "cannot start worker: " + err);
    double delay = backoff_.next_delay(0);
    restart_id_ = g_timeout_add((guint)(delay * 1000), on_restart_timer, this);
    return;
  }
  {
    std::lock_guard lk(view_mu_);
    view_.pid = proc_->pid();
    view_.worker_started = now_unix();
    view_.last_status = now_unix();
    view_.sources.clear();
    view_.media_age_ms = -1;
    view_.active_source.clear();
    view_.probes.clear();
  }
  sink_.log(id_, "info", "worker started (pid " + std::to_string(proc_->pid()) + ")");
  worker_state_ = "starting";
  worker_reason_ = "worker started";
  playable_ = false;
  watch_.clear();
  set_state("starting", "worker started");
  // Re-apply rendition switches the operator made before a restart.
  std::map<std::string, RenditionView> r;
  {
    std::lock_guard lk(view_mu_);
    r = view_.renditions;
  }
  for (auto &[name, v] : r)
    if (!v.enabled) proc_->send(wire::encode_command(wire::CmdRendition{name, false}));
  // AES-128: the keys of the current and next key periods, before the first segment.
  keys_sent_.clear();
  send_keys(std::nullopt);
}

void ChannelRunner::send_keys(std::optional<uint64_t> sequence) {
  if (!opts_.keys || !proc_ || !proc_->running()) return;
  for (const auto &k : opts_.keys(sequence)) {
    if (!keys_sent_.insert(k.period).second) continue;
    // The line holds the key: it goes to the pipe only (never to a log).
    proc_->send(wire::encode_command(k));
  }
}

// A probe condition raised or cleared by the worker: kept in the view (a standby input's apart)
// and sent on as a probe.condition.* event.
void ChannelRunner::on_probe(const StProbe &pr) {
  bool started = false;
  {
    std::lock_guard lk(view_mu_);
    // A condition on a standby input (the backup while on the primary) is not the channel's:
    // it is kept apart as "<source>/<condition>" so an operator still sees it.
    std::string active = view_.active_source.empty() ? "primary" : view_.active_source;
    std::string stream = pr.stream.empty() ? "other" : pr.stream;
    std::string key = (pr.source.empty() || pr.source == active ? "" : pr.source + "/") +
                      pr.condition + "/" + stream;
    auto &p = view_.probes[key];
    started = pr.active && !p.active;
    if (started) {
      p.count++;
      p.since = now_unix();
    }
    p.condition = pr.condition;
    p.stream = stream;
    p.source = pr.source;
    p.active = pr.active;
    p.detail = pr.detail;
  }
  sink_.on_event(id_, pr.active ? "probe.condition.raised" : "probe.condition.cleared",
                 {{"condition", pr.condition},
                  {"stream", pr.stream.empty() ? "other" : pr.stream},
                  {"source", pr.source},
                  {"detail", pr.detail}});
  storage_probe(pr);
}

void ChannelRunner::on_status(const std::string &line) {
  std::string err;
  auto st = parse_status_line(line, &err);
  if (!st) {
    sink_.log(id_, "warning", "unreadable worker status line (" + err + ")");
    return;
  }
  last_hb_ = g_get_monotonic_time();
  {
    std::lock_guard lk(view_mu_);
    view_.last_status = now_unix();
  }
  if (auto *hb = std::get_if<StHeartbeat>(&*st)) {
    std::lock_guard lk(view_mu_);
    view_.media_age_ms = hb->media_age_ms;
    for (const auto &[name, ms] : hb->part_at_ms) view_.renditions[name].last_part_at = ms / 1000.0;
  } else if (auto *s = std::get_if<StState>(&*st)) {
    {
      std::lock_guard lk(view_mu_);
      if (!s->active_source.empty()) view_.active_source = s->active_source;
    }
    static const char *const kWorkerStates[] = {"starting", "live", "degraded", "failover",
                                                "slate"};
    bool known = false;
    for (const char *k : kWorkerStates) known |= s->state == k;
    if (!stopping_ && known) {
      worker_state_ = s->state;
      worker_reason_ = s->reason;
      apply_worker_state();
    } else if (!known)
      sink_.log(id_, "debug", "worker state '" + s->state + "' (" + s->reason + ")");
  } else if (auto *seg = std::get_if<StSegment>(&*st)) {
    {
      std::lock_guard lk(view_mu_);
      auto &r = view_.renditions[seg->rendition];
      r.last_sequence = seg->sequence;
      r.discontinuity_sequence = seg->discontinuity_sequence;
      r.last_segment_at = now_unix();
      r.segments++;
      r.bytes += seg->bytes;
      if (seg->duration > 0) r.bitrate = seg->bytes * 8.0 / seg->duration;
    }
    send_keys(seg->sequence);  // the next key period's key, a period ahead
    sink_.on_segment(id_, *seg);
  } else if (auto *enc = std::get_if<StEncoder>(&*st)) {
    std::lock_guard lk(view_mu_);
    view_.renditions[enc->rendition].encoder = enc->factory;
  } else if (auto *pr = std::get_if<StProbe>(&*st)) {
    on_probe(*pr);
  } else if (auto *ev = std::get_if<StEvent>(&*st)) {
    {
      std::lock_guard lk(view_mu_);
      if (ev->event_type == "failover.activated") view_.failovers++;
      bool lost = ev->event_type == "source.lost", back = ev->event_type == "source.recovered";
      if ((lost || back) && !ev->source.empty()) {
        auto &h = view_.sources[ev->source];
        h.healthy = back;
        h.detail = ev->reason;
        h.since = now_unix();
      }
    }
    sink_.on_event(id_, ev->event_type, {{"reason", ev->reason}, {"source", ev->source}});
  } else if (auto *src = std::get_if<StSource>(&*st)) {
    std::lock_guard lk(view_mu_);
    if (!src->source.empty()) {
      auto &h = view_.sources[src->source];
      if (h.healthy != src->healthy || h.since == 0) h.since = now_unix();
      h.healthy = src->healthy;
      h.detail = src->detail;
    }
  } else if (auto *stats = std::get_if<StStats>(&*st)) {
    std::lock_guard lk(view_mu_);
    for (auto &[name, s] : stats->renditions) {
      auto &r = view_.renditions[name];
      r.fps = s.fps;
      if (s.bitrate > 0) r.bitrate = s.bitrate;
    }
    view_.inputs = stats->inputs;
    view_.queues = stats->queues;
    view_.stats_at = now_unix();
  } else if (auto *e = std::get_if<StError>(&*st)) {
    {
      std::lock_guard lk(view_mu_);
      view_.last_error = e->message;
    }
    sink_.log(id_, "error", "worker: " + e->message);
  } else if (auto *ack = std::get_if<StAck>(&*st)) {
    sink_.log(id_, ack->ok ? "info" : "warning",
              "worker " + std::string(ack->ok ? "did" : "refused") + " '" + ack->cmd + "'" +
                  (ack->detail.empty() ? "" : ": " + ack->detail));
    // A refusal the API could not foresee (a race with the source's health) still leaves a trace.
    if (!ack->ok && ack->cmd != "stop")
      sink_.on_event(
          id_, "action.refused",
          {{"action", ack->cmd}, {"reason", "worker_refused"}, {"message", ack->detail}});
  } else if (auto *h = std::get_if<StHello>(&*st)) {
    sink_.log(id_, "debug", "worker hello (pid " + std::to_string(h->pid) + ")");
  }
}

void ChannelRunner::on_exit(bool exited, int code) {
  double ran = (double)(g_get_monotonic_time() - spawned_at_) / 1e6;
  dying_ = std::move(proc_);  // destroyed later, not inside its own callback
  {
    std::lock_guard lk(view_mu_);
    view_.pid = 0;
    view_.worker_started = 0;
    view_.cpu_seconds_past += view_.worker_cpu_seconds;
    view_.worker_cpu_seconds = 0;
    view_.worker_rss_bytes = 0;
    view_.media_age_ms = -1;
    view_.active_source.clear();
  }
  if (kill_id_) {
    g_source_remove(kill_id_);
    kill_id_ = 0;
  }
  if (stopping_) {
    sink_.log(id_, "info",
              exited ? "worker stopped (exit " + std::to_string(code) + ")"
                     : "worker stopped (" + signal_name(code) + ")");
    set_state(final_state_, final_reason_);
    remove_hls_if_gone();
    auto done = std::move(stop_done_);
    stop_done_ = nullptr;
    if (done) done();
    return;
  }
  std::string reason;
  if (hung_kill_)
    reason = "worker hung; killed";
  else if (exited)
    reason = "worker exited with code " + std::to_string(code);
  else
    reason = "worker killed by " + signal_name(code);
  uint64_t restarts;
  {
    std::lock_guard lk(view_mu_);
    restarts = ++view_.restarts;
    if (!view_.last_error.empty() && exited) reason += ": " + view_.last_error;
  }
  double delay = backoff_.next_delay(ran);
  sink_.log(id_, "warning",
            reason + "; restart " + std::to_string(restarts) + " in " +
                std::to_string((int)std::lround(delay * 1000)) + " ms");
  set_state("offline", reason);
  sink_.on_event(
      id_, "worker.restarting",
      {{"reason", reason}, {"attempt", backoff_.attempt()}, {"delay_ms", (int)(delay * 1000)}});
  restart_id_ = g_timeout_add((guint)(delay * 1000), on_restart_timer, this);
}

gboolean ChannelRunner::on_restart_timer(gpointer data) {
  auto *self = static_cast<ChannelRunner *>(data);
  self->restart_id_ = 0;
  if (!self->stopping_) self->spawn();
  return G_SOURCE_REMOVE;
}

gboolean ChannelRunner::on_kill_timer(gpointer data) {
  auto *self = static_cast<ChannelRunner *>(data);
  self->kill_id_ = 0;
  if (self->proc_ && self->proc_->running()) {
    self->sink_.log(self->id_, "warning", "worker did not stop in time; SIGKILL");
    self->proc_->signal(SIGKILL);
  }
  return G_SOURCE_REMOVE;
}

gboolean ChannelRunner::on_tick(gpointer data) {
  auto *self = static_cast<ChannelRunner *>(data);
  if (!self->proc_ || !self->proc_->running()) return G_SOURCE_CONTINUE;
  double cpu = 0;
  uint64_t rss = 0;
  if (self->proc_->usage(&cpu, &rss)) {
    std::lock_guard lk(self->view_mu_);
    self->view_.worker_cpu_seconds = cpu;
    self->view_.worker_rss_bytes = rss;
  }
  if (self->stopping_ || self->hung_kill_) return G_SOURCE_CONTINUE;
  double silent = (double)(g_get_monotonic_time() - self->last_hb_) / 1e6;
  int64_t media_age;
  {
    std::lock_guard lk(self->view_mu_);
    media_age = self->view_.media_age_ms;
  }
  std::string why;
  if (silent > self->opts_.heartbeat_timeout_seconds)
    why = "no heartbeat for " + std::to_string((int)silent) + " s";
  else if (media_age > self->opts_.media_stall_seconds * 1000)
    why = "no media for " + std::to_string(media_age / 1000) + " s";
  if (!why.empty()) {
    self->sink_.log(self->id_, "error", "worker hung (" + why + "); killing it");
    self->hung_kill_ = true;
    self->proc_->signal(SIGKILL);
  }
  return G_SOURCE_CONTINUE;
}

void ChannelRunner::stop(const std::string &final_state, const std::string &reason,
                         std::function<void()> done) {
  stopping_ = true;
  final_state_ = final_state;
  final_reason_ = reason;
  if (restart_id_) {
    g_source_remove(restart_id_);
    restart_id_ = 0;
  }
  if (proc_ && proc_->running()) {
    stop_done_ = std::move(done);
    proc_->send(wire::encode_command(wire::CmdStop{}));
    proc_->signal(SIGTERM);
    proc_->signal(SIGCONT);  // a stopped (SIGSTOP) worker must wake to see SIGTERM
    if (!kill_id_)
      kill_id_ = g_timeout_add((guint)(opts_.stop_grace_seconds * 1000), on_kill_timer, this);
    return;
  }
  set_state(final_state, reason);
  remove_hls_if_gone();
  if (done) done();
}

// A disabled or retired channel's HLS tree is removed once its worker is gone: nothing would
// ever delete those playlists and segments otherwise (they stayed forever), and a player
// reading them would see a stream that never moves. Re-enabling starts a fresh tree (epoch
// numbering continues from the clock).
void ChannelRunner::remove_hls_if_gone() {
  if (opts_.hls_dir.empty() || (final_state_ != "disabled" && final_state_ != "retired")) return;
  std::error_code ec;
  // The console would show its last picture forever otherwise.
  if (!opts_.thumbnail.empty()) std::filesystem::remove(opts_.thumbnail, ec);
  auto n = std::filesystem::remove_all(opts_.hls_dir, ec);
  if (ec)
    sink_.log(id_, "warning", "cannot remove " + opts_.hls_dir + ": " + ec.message());
  else if (n > 0)
    sink_.log(id_, "info",
              "removed the HLS tree of the " + final_state_ + " channel (" + std::to_string(n) +
                  " files and folders)");
}

void ChannelRunner::set_disabled(const std::string &reason) {
  stop("disabled", reason);
}

void ChannelRunner::restart(const std::string &reason) {
  sink_.log(id_, "info", "restart: " + reason);
  if (proc_ && proc_->running()) {
    stop("offline", reason, [this] {
      stopping_ = false;
      backoff_.reset();
      spawn();
    });
  } else {
    stopping_ = false;
    backoff_.reset();
    spawn();
  }
}

void ChannelRunner::command(const wire::Command &cmd) {
  if (proc_ && proc_->running()) proc_->send(wire::encode_command(cmd));
}

void ChannelRunner::command(const nlohmann::json &cmd) {
  try {
    command(wire::command_from_json(cmd));
  } catch (const wire::WireError &e) {
    sink_.log(id_, "warning", std::string("not sent to the worker: ") + e.what());
  }
}

void ChannelRunner::set_rendition_enabled(const std::string &name, bool enabled) {
  {
    std::lock_guard lk(view_mu_);
    view_.renditions[name].enabled = enabled;
  }
  command(wire::CmdRendition{name, enabled});
}

}  // namespace iptv::daemon
