#include "control/board.h"

#include <algorithm>

#include "control/secrets.h"

namespace iptv::control {

using nlohmann::json;

ChannelBoard::ChannelBoard(ActionHandler on_action, EventLog *events)
    : on_action_(std::move(on_action)), events_(events) {}

ChannelBoard::Channel &ChannelBoard::channel(const std::string &id) {
  auto it = channels_.find(id);
  if (it != channels_.end()) return it->second;
  Channel &c = channels_[id];
  c.view.id = id;
  c.view.name = id;
  c.view.state = "starting";
  c.view.active_source = "none";
  c.view.state_since_unix = now_unix();
  return c;
}

ChannelBoard::Rendition &ChannelBoard::rendition(Channel &c, const std::string &name) {
  for (auto &r : c.renditions)
    if (r.view.name == name) return r;
  c.renditions.push_back({});
  c.renditions.back().view.name = name;
  return c.renditions.back();
}

void ChannelBoard::set_record(const ChannelRecord &r, const ChannelRecord *backup) {
  std::lock_guard lk(mu_);
  Channel &c = channel(r.channel_id);
  c.view.name = r.name.empty() ? r.channel_id : r.name;
  c.view.group = r.epg.group;
  c.view.mode = r.passthrough() ? "passthrough" : "transcode";
  // Sources: keep the health we know for a role whose URI did not change.
  std::vector<SourceView> sources;
  auto add_source = [&](const std::string &role, const SourceSpec &s) {
    SourceView v;
    v.role = role;
    v.uri = s.uri;
    v.kind = to_string(s.kind);
    for (const auto &old : c.sources)
      if (old.role == role && old.uri == s.uri) v = old;
    sources.push_back(v);
  };
  add_source("primary", r.source);
  if (r.failover.enabled && backup) add_source("backup", backup->source);
  c.sources = sources;
  // Renditions: the record's profiles, in order; counters of kept names survive.
  std::vector<Rendition> rends;
  for (const auto &p : r.profiles) {
    Rendition x;
    x.view.name = p.name;
    for (const auto &old : c.renditions)
      if (old.view.name == p.name) x = old;
    rends.push_back(x);
  }
  c.renditions = rends;
  if (r.status == ChannelStatus::kDisabled && c.view.state != "disabled") {
    c.view.state = "disabled";
    c.view.reason = "record status: disabled";
    c.view.state_since_unix = now_unix();
  }
}

void ChannelBoard::retire(const std::string &id, const std::string &reason) {
  set_state(id, "retired", reason);
}

void ChannelBoard::forget(const std::string &id) {
  std::lock_guard lk(mu_);
  channels_.erase(id);
}

void ChannelBoard::set_state(const std::string &id, const std::string &state,
                             const std::string &reason) {
  std::lock_guard lk(mu_);
  Channel &c = channel(id);
  if (c.view.state != state) c.view.state_since_unix = now_unix();
  c.view.state = state;
  c.view.reason = reason;
  if (state == "offline" || state == "disabled" || state == "retired")
    c.view.active_source = "none";
}

void ChannelBoard::worker_started(const std::string &id, int pid) {
  std::lock_guard lk(mu_);
  Channel &c = channel(id);
  c.pid = pid;
  c.worker_started = now_unix();
  c.media_age_ms = -1;
}

void ChannelBoard::worker_exited(const std::string &id, const std::string &error, bool restart) {
  std::lock_guard lk(mu_);
  Channel &c = channel(id);
  c.pid = 0;
  if (!error.empty()) c.last_error = error;
  if (restart) c.view.restarts++;
  for (auto &[k, p] : c.probes) p.active = false;
}

void ChannelBoard::set_worker_usage(const std::string &id, double cpu, uint64_t rss) {
  std::lock_guard lk(mu_);
  Channel &c = channel(id);
  c.cpu_seconds = cpu;
  c.rss = rss;
}

void ChannelBoard::set_webhook_stats(uint64_t depth, uint64_t failures, uint64_t deliveries) {
  std::lock_guard lk(mu_);
  outbox_depth_ = depth;
  webhook_failures_ = failures;
  webhook_deliveries_ = deliveries;
}

bool ChannelBoard::apply_status(const std::string &id, const json &line) {
  if (!line.is_object() || !line.contains("t") || !line["t"].is_string()) return false;
  std::string t = line["t"];
  auto str = [&](const char *k) {
    return line.contains(k) && line[k].is_string() ? line[k].get<std::string>() : std::string();
  };
  auto num = [&](const char *k, double def = 0) {
    return line.contains(k) && line[k].is_number() ? line[k].get<double>() : def;
  };
  std::lock_guard lk(mu_);
  Channel &c = channel(id);
  if (t == "hello") {
    if (line.contains("pid") && line["pid"].is_number_integer()) c.pid = line["pid"].get<int>();
    return true;
  }
  if (t == "hb") {
    c.media_age_ms = static_cast<int64_t>(num("media_age_ms", -1));
    return true;
  }
  if (t == "state") {
    std::string s = str("state");
    if (s.empty()) return false;
    if (c.view.state != s) c.view.state_since_unix = now_unix();
    c.view.state = s;
    c.view.reason = str("reason");
    if (!str("active_source").empty()) c.view.active_source = str("active_source");
    return true;
  }
  if (t == "segment") {
    std::string name = str("rendition");
    if (name.empty()) return false;
    Rendition &r = rendition(c, name);
    r.last_segment = Clock::now();
    r.view.segments++;
    r.view.bytes += static_cast<uint64_t>(num("bytes"));
    r.view.media_sequence = static_cast<int64_t>(num("sequence", -1));
    r.view.discontinuity_sequence = static_cast<int64_t>(num("discontinuity_sequence"));
    return true;
  }
  if (t == "encoder") {
    std::string name = str("rendition");
    if (name.empty()) return false;
    rendition(c, name).view.encoder = str("factory");
    return true;
  }
  if (t == "stats") {
    if (!line.contains("renditions") || !line["renditions"].is_object()) return false;
    for (const auto &[name, v] : line["renditions"].items()) {
      if (!v.is_object()) continue;
      Rendition &r = rendition(c, name);
      if (v.contains("fps") && v["fps"].is_number()) r.view.fps = v["fps"].get<double>();
      if (v.contains("bitrate") && v["bitrate"].is_number())
        r.view.bitrate_bps = v["bitrate"].get<double>();
    }
    return true;
  }
  if (t == "probe") {
    std::string cond = str("condition"), stream = str("stream");
    if (cond.empty() || !line.contains("active") || !line["active"].is_boolean()) return false;
    Probe &p = c.probes[cond + "/" + stream];
    bool active = line["active"].get<bool>();
    if (active && !p.active) {
      p.activations++;
      p.view.since_unix = now_unix();
    }
    p.active = active;
    p.view.condition = cond;
    p.view.stream = stream;
    p.view.detail = str("detail");
    return true;
  }
  if (t == "event") {
    std::string type = str("event_type"), role = str("source");
    if (type == "failover.activated") {
      c.view.failovers++;
      c.view.active_source = "backup";
    } else if (type == "failover.returned") {
      c.view.active_source = "primary";
    } else if (type == "slate.entered") {
      c.view.active_source = "slate";
    }
    if ((type == "source.lost" || type == "source.recovered") && !role.empty())
      for (auto &s : c.sources)
        if (s.role == role) {
          s.healthy = type == "source.recovered";
          s.detail = str("reason");
          s.since_unix = now_unix();
        }
    return true;
  }
  if (t == "error") {
    c.last_error = str("message");
    return true;
  }
  return false;
}

ChannelView ChannelBoard::view_of(const Channel &c) const {
  ChannelView v = c.view;
  v.renditions = static_cast<int>(c.renditions.size());
  auto now = Clock::now();
  double oldest = -1;
  for (const auto &r : c.renditions) {
    if (!r.view.enabled) continue;
    if (!r.last_segment) continue;
    double age = std::chrono::duration<double>(now - *r.last_segment).count();
    oldest = std::max(oldest, age);
  }
  v.last_segment_age_s = oldest;
  v.active_conditions.clear();
  for (const auto &[k, p] : c.probes)
    if (p.active) v.active_conditions.push_back(k);
  return v;
}

std::vector<ChannelView> ChannelBoard::list() {
  std::lock_guard lk(mu_);
  std::vector<ChannelView> out;
  for (const auto &[id, c] : channels_) out.push_back(view_of(c));
  return out;
}

std::optional<ChannelDetail> ChannelBoard::get(const std::string &id) {
  ChannelDetail d;
  {
    std::lock_guard lk(mu_);
    auto it = channels_.find(id);
    if (it == channels_.end()) return std::nullopt;
    const Channel &c = it->second;
    d.channel = view_of(c);
    d.sources = c.sources;
    auto now = Clock::now();
    for (const auto &r : c.renditions) {
      RenditionView v = r.view;
      v.last_segment_age_s =
          r.last_segment ? std::chrono::duration<double>(now - *r.last_segment).count() : -1;
      d.renditions.push_back(v);
    }
    for (const auto &[k, p] : c.probes)
      if (p.active) d.conditions.push_back(p.view);
    d.worker_pid = c.pid;
    d.worker_started_unix = c.worker_started;
    d.last_error = c.last_error;
  }
  if (events_) {
    EventFilter f;
    f.channel_id = id;
    f.limit = 20;
    d.last_events = events_->page(f).events;
  }
  return d;
}

ActionResult ChannelBoard::act(const std::string &id, Action action, const ActionArgs &args) {
  {
    std::lock_guard lk(mu_);
    auto it = channels_.find(id);
    if (it == channels_.end()) return {ActionResult::Code::kNotFound, "no channel '" + id + "'"};
    Channel &c = it->second;
    if (action == Action::kRenditionDisable || action == Action::kRenditionEnable) {
      auto r = std::find_if(c.renditions.begin(), c.renditions.end(),
                            [&](const Rendition &x) { return x.view.name == args.rendition; });
      if (r == c.renditions.end())
        return {ActionResult::Code::kNotFound, "no rendition '" + args.rendition + "'"};
    }
    if ((action == Action::kFailover || action == Action::kReturn) &&
        std::none_of(c.sources.begin(), c.sources.end(),
                     [](const SourceView &s) { return s.role == "backup"; }))
      return {ActionResult::Code::kConflict, "the channel has no backup source"};
  }
  // Outside the lock: the daemon's handler may call back into the board.
  ActionResult r = on_action_ ? on_action_(id, action, args)
                              : ActionResult{ActionResult::Code::kUnavailable, "no handler"};
  if (r.code == ActionResult::Code::kAccepted &&
      (action == Action::kRenditionDisable || action == Action::kRenditionEnable)) {
    std::lock_guard lk(mu_);
    auto it = channels_.find(id);
    if (it != channels_.end())
      for (auto &x : it->second.renditions)
        if (x.view.name == args.rendition) x.view.enabled = action == Action::kRenditionEnable;
  }
  return r;
}

MetricsSnapshot ChannelBoard::metrics() {
  std::lock_guard lk(mu_);
  MetricsSnapshot m;
  auto now = Clock::now();
  for (const auto &[id, c] : channels_) {
    ChannelMetric cm;
    cm.id = id;
    cm.state = c.view.state;
    cm.restarts = c.view.restarts;
    cm.failovers = c.view.failovers;
    cm.worker_cpu_seconds = c.cpu_seconds;
    cm.worker_memory_bytes = c.pid ? c.rss : 0;
    for (const auto &r : c.renditions)
      cm.renditions.push_back(
          {r.view.name, r.view.enabled,
           r.last_segment ? std::chrono::duration<double>(now - *r.last_segment).count() : -1,
           r.view.segments, r.view.bytes, r.view.bitrate_bps, r.view.fps});
    for (const auto &[k, p] : c.probes)
      cm.probes.push_back({p.view.condition, p.view.stream, p.activations, p.active});
    m.channels.push_back(cm);
  }
  m.webhook_outbox_depth = outbox_depth_;
  m.webhook_delivery_failures = webhook_failures_;
  m.webhook_deliveries = webhook_deliveries_;
  return m;
}

}  // namespace iptv::control
