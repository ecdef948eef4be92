#include "daemon/control_adapter.h"

#include <algorithm>
#include <glib.h>

#include "store/state_store.h"

namespace iptv::daemon {

namespace {

double now_unix() {
  return (double)g_get_real_time() / 1e6;
}

control::EventView to_view(const store::Event &e) {
  control::EventView v;
  v.id = e.id;
  v.event_type = e.event_type;
  v.channel_id = e.channel_id;
  v.job_id = e.job_id;
  v.profile = e.profile;
  v.input_checksum = e.input_checksum;
  v.output_uri = e.output_uri;
  v.attempt = e.attempt;
  v.status = e.status;
  v.detail_json = e.detail;
  v.created_at_ms = e.created_at;
  return v;
}

}  // namespace

control::ChannelView ControlAdapter::row(const ChannelRecord &rec, const ChannelView &v) const {
  control::ChannelView c;
  c.id = rec.channel_id;
  c.name = rec.name.empty() ? rec.channel_id : rec.name;
  c.group = rec.epg.group;
  c.state = v.state;
  c.reason = v.reason;
  c.state_since_unix = (int64_t)v.state_since;
  c.active_source = v.active_source.empty() ? "none" : v.active_source;
  c.mode = rec.passthrough() ? "passthrough" : "transcode";
  c.segment_format = to_string(rec.hls.segment_format);
  c.dash = rec.dash;
  c.restarts = (uint32_t)v.restarts;
  c.failovers = (uint32_t)v.failovers;
  c.renditions = rec.passthrough() ? 1 : (int)rec.profiles.size();
  double now = now_unix();
  for (const auto &[name, r] : v.renditions) {
    if (!r.enabled || r.last_segment_at <= 0) continue;
    double age = now - r.last_segment_at;
    if (age > c.last_segment_age_s) c.last_segment_age_s = age;
    if (r.last_part_at > 0 && now - r.last_part_at > c.last_part_age_s)
      c.last_part_age_s = std::max(0.0, now - r.last_part_at);
  }
  for (const auto &[key, p] : v.probes)
    if (p.active) c.active_conditions.push_back(key);
  return c;
}

std::vector<control::ChannelView> ControlAdapter::list() {
  std::vector<control::ChannelView> out;
  for (const auto &v : channels_.views())
    if (auto rec = channels_.record(v.channel_id)) out.push_back(row(*rec, v));
  return out;
}

std::optional<control::ChannelDetail> ControlAdapter::get(const std::string &id) {
  auto rec = channels_.record(id);
  auto v = channels_.view(id);
  if (!rec || !v) return std::nullopt;
  control::ChannelDetail d;
  d.channel = row(*rec, *v);
  auto source = [&](const std::string &role, const SourceSpec &s) {
    control::SourceView sv;
    sv.role = role;
    sv.uri = s.uri;
    sv.kind = to_string(s.kind);
    auto it = v->sources.find(role);
    bool running = v->pid != 0;
    if (it != v->sources.end() && running) {
      sv.healthy = it->second.healthy;
      // A healthy input that is not on air is a warm standby.
      sv.detail = it->second.healthy
                      ? std::string(v->active_source == role ? "active" : "standby") +
                            (it->second.detail.empty() ? "" : ": " + it->second.detail)
                      : it->second.detail;
      sv.since_unix = (int64_t)it->second.since;
    } else {
      sv.healthy = running && v->active_source == role;
      sv.detail = running ? (v->active_source == role ? "active" : "standby") : "not running";
    }
    d.sources.push_back(sv);
  };
  source("primary", rec->source);
  if (rec->failover.enabled && !rec->failover.backup_source.empty())
    if (auto b = channels_.record(rec->failover.backup_source)) source("backup", b->source);
  double now = now_unix();
  for (const auto &[name, r] : v->renditions) {
    control::RenditionView rv;
    rv.name = name;
    rv.enabled = r.enabled;
    rv.encoder = r.encoder;
    rv.last_segment_age_s = r.last_segment_at > 0 ? now - r.last_segment_at : -1;
    rv.last_part_age_s = r.last_part_at > 0 ? std::max(0.0, now - r.last_part_at) : -1;
    rv.media_sequence = r.segments ? (int64_t)r.last_sequence : -1;
    rv.discontinuity_sequence = (int64_t)r.discontinuity_sequence;
    rv.segments = r.segments;
    rv.bytes = r.bytes;
    rv.bitrate_bps = r.bitrate;
    rv.fps = r.fps;
    d.renditions.push_back(rv);
  }
  for (const auto &[key, p] : v->probes)
    if (p.active)
      d.conditions.push_back({(p.source.empty() || p.source == v->active_source ||
                                       (v->active_source.empty() && p.source == "primary")
                                   ? ""
                                   : p.source + "/") +
                                  p.condition,
                              p.stream, p.detail, (int64_t)p.since});
  d.worker_pid = v->pid;
  d.worker_started_unix = (int64_t)v->worker_started;
  if (v->pid && v->last_status > 0) d.heartbeat_age_s = std::max(0.0, now - v->last_status);
  d.media_age_ms = v->pid ? v->media_age_ms : -1;
  d.last_error = v->last_error;
  if (v->pid && v->stats_at > 0) {
    d.stats_age_s = std::max(0.0, now - v->stats_at);
    for (const auto &[role, in] : v->inputs)
      d.inputs.push_back(
          {role, in.bitrate_bps, in.video_codec, in.audio_codec, in.last_packet_age_ms, in.gaps});
    for (const auto &q : v->queues)
      d.queues.push_back({q.name, q.level_ms, q.max_ms, q.level_bytes, q.max_bytes, q.level_buffers,
                          q.max_buffers, q.fill});
  }
  store::EventFilter f;
  f.channel_id = id;
  f.limit = 20;
  f.newest_first = true;
  for (const auto &e : store_.events(f)) d.last_events.push_back(to_view(e));
  return d;
}

control::ActionResult ControlAdapter::act(const std::string &id, control::Action action,
                                          const control::ActionArgs &args) {
  using Code = control::ActionResult::Code;
  auto rec = channels_.record(id);
  auto v = channels_.view(id);
  if (!rec || !v) return {Code::kNotFound, "no channel '" + id + "'"};
  bool running = v->pid != 0;
  Action a = Action::kRestart;
  switch (action) {
    case control::Action::kFailover:
      if (!rec->failover.enabled || rec->failover.backup_source.empty())
        return {Code::kConflict, "channel has no backup source"};
      if (!running) return {Code::kConflict, "channel is not running (" + v->state + ")"};
      if (auto b = v->sources.find("backup"); b != v->sources.end() && !b->second.healthy) {
        std::string msg = "the backup is not healthy" +
                          (b->second.detail.empty() ? "" : " (" + b->second.detail + ")");
        channels_.post_event(id, "action.refused",
                             {{"action", "failover"},
                              {"reason", "backup_unhealthy"},
                              {"message", msg},
                              {"actor", args.actor}});
        return {Code::kConflict, msg, "backup_unhealthy"};
      }
      a = Action::kFailover;
      break;
    case control::Action::kReturn: {
      if (!running) return {Code::kConflict, "channel is not running (" + v->state + ")"};
      if (v->active_source == "primary") return {Code::kConflict, "already on the primary"};
      // The worker would refuse too, but only in its ack: refuse here, where the caller sees it.
      auto p = v->sources.find("primary");
      if (p != v->sources.end() && !p->second.healthy) {
        std::string msg = "the primary is not healthy" +
                          (p->second.detail.empty() ? "" : " (" + p->second.detail + ")") +
                          "; staying on " + v->active_source;
        channels_.post_event(id, "action.refused",
                             {{"action", "return"},
                              {"reason", "primary_unhealthy"},
                              {"message", msg},
                              {"actor", args.actor}});
        return {Code::kConflict, msg, "primary_unhealthy"};
      }
      a = Action::kReturn;
      break;
    }
    case control::Action::kRestart:
      if (rec->status != ChannelStatus::kActive)
        return {Code::kConflict, std::string("channel is ") + to_string(rec->status)};
      a = Action::kRestart;
      break;
    case control::Action::kPurge:
      a = Action::kPurge;
      break;
    case control::Action::kRenditionDisable:
    case control::Action::kRenditionEnable: {
      if (rec->passthrough()) return {Code::kConflict, "a passthrough channel has one rendition"};
      bool known = v->renditions.count(args.rendition) > 0;
      if (!known) {
        for (const auto &p : rec->profiles) known |= p.name == args.rendition;
      }
      if (!known) return {Code::kNotFound, "no rendition '" + args.rendition + "'"};
      a = action == control::Action::kRenditionEnable ? Action::kRenditionEnable
                                                      : Action::kRenditionDisable;
      break;
    }
  }
  channels_.post_action(id, a, args.rendition, args.actor);
  return {Code::kAccepted, std::string(control::to_string(action)) + " requested"};
}

control::ActionResult ControlAdapter::note_incident(const std::string &id,
                                                    const control::IncidentNote &note) {
  if (!channels_.record(id))
    return {control::ActionResult::Code::kNotFound, "no channel '" + id + "'"};
  channels_.post_event(id, "incident.note",
                       {{"cause", note.cause},
                        {"first_failing_hop", note.first_failing_hop},
                        {"actor", note.actor}});
  return {control::ActionResult::Code::kAccepted, "incident note recorded"};
}

control::EventPage ControlAdapter::page(const control::EventFilter &filter) {
  store::EventFilter f;
  f.channel_id = filter.channel_id;
  f.event_type = filter.event_type;
  f.after_id = filter.after_id.value_or(0);
  f.before_id = filter.before_id.value_or(0);
  f.limit = std::clamp(filter.limit, 1, 1000) + 1;  // one more tells whether there are more
  f.newest_first = !filter.after_id.has_value();
  auto rows = store_.events(f);
  control::EventPage p;
  p.more = (int)rows.size() > f.limit - 1;
  if (p.more) rows.pop_back();
  for (const auto &e : rows) p.events.push_back(to_view(e));
  return p;
}

std::vector<control::EventView> ControlAdapter::wait_after(int64_t after_id,
                                                           std::chrono::milliseconds timeout) {
  std::vector<control::EventView> out;
  for (const auto &e : store_.wait_after(after_id, timeout)) out.push_back(to_view(e));
  return out;
}

int64_t ControlAdapter::last_id() {
  return store_.last_event_id();
}

control::MetricsSnapshot ControlAdapter::metrics() {
  control::MetricsSnapshot m;
  double now = now_unix();
  for (const auto &v : channels_.views()) {
    control::ChannelMetric c;
    c.id = v.channel_id;
    c.state = v.state;
    c.restarts = v.restarts;
    c.failovers = v.failovers;
    if (auto rec = channels_.record(v.channel_id)) {
      c.segment_format = to_string(rec->hls.segment_format);
      c.dash = rec->dash;
    }
    c.worker_cpu_seconds = v.cpu_seconds_past + v.worker_cpu_seconds;
    c.worker_memory_bytes = v.worker_rss_bytes;
    for (const auto &[name, r] : v.renditions) {
      control::RenditionMetric rm;
      rm.name = name;
      rm.enabled = r.enabled;
      rm.last_segment_age_s = r.last_segment_at > 0 ? now - r.last_segment_at : -1;
      rm.last_part_age_s = r.last_part_at > 0 ? std::max(0.0, now - r.last_part_at) : -1;
      rm.segments = r.segments;
      rm.bytes = r.bytes;
      rm.bitrate_bps = r.bitrate;
      rm.fps = r.fps;
      c.renditions.push_back(rm);
    }
    for (const auto &[key, p] : v.probes) {
      control::ProbeMetric pm;
      pm.condition = key.substr(0, key.rfind('/'));  // "[<source>/]<condition>"
      pm.stream = p.stream;                          // as the worker reported it, like the event
      pm.activations = p.count;
      pm.active = p.active;
      c.probes.push_back(pm);
    }
    m.channels.push_back(std::move(c));
  }
  if (webhook_figures_) webhook_figures_(m);
  return m;
}

}  // namespace iptv::daemon
