// A fake daemon for the control-plane tests: it implements the interfaces of
// orchestrator/lib/control/directory.h from in-memory state (the real ones live in lib/daemon).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <vector>

#include "control/directory.h"
#include "viewers/viewer_stats.h"

namespace iptv_test {

class FakeDaemon : public iptv::control::ChannelDirectory,
                   public iptv::control::RecordSource,
                   public iptv::control::EventLog,
                   public iptv::control::MetricsSource {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::vector<iptv::ChannelRecord> recs;
  std::map<std::string, iptv::control::ChannelDetail> details;
  std::vector<iptv::control::EventView> events;
  std::vector<std::pair<std::string, iptv::control::Action>> actions;  // what act() received
  std::vector<std::string> action_renditions;
  iptv::control::MetricsSnapshot snapshot;

  void add_channel(const iptv::ChannelRecord &r, const std::string &state,
                   std::vector<std::string> renditions) {
    std::lock_guard lk(mu);
    recs.push_back(r);
    iptv::control::ChannelDetail d;
    d.channel.id = r.channel_id;
    d.channel.name = r.name;
    d.channel.group = r.epg.group;
    d.channel.state = state;
    d.channel.reason = state == "live" ? "receiving" : "test";
    d.channel.state_since_unix = 1764400000;
    d.channel.active_source = state == "failover" ? "backup" : "primary";
    d.channel.mode = r.passthrough() ? "passthrough" : "transcode";
    d.channel.renditions = static_cast<int>(renditions.size());
    d.channel.last_segment_age_s = 1.5;
    d.sources.push_back({"primary", "srt://user:pw@10.0.0.1:9000?passphrase=topsecret", "srt", true,
                         "", 1764400000});
    d.worker_pid = 4242;
    d.worker_started_unix = 1764400000;
    iptv::control::ChannelMetric cm;
    cm.id = r.channel_id;
    cm.state = state;
    cm.restarts = 1;
    cm.worker_cpu_seconds = 12.5;
    cm.worker_memory_bytes = 50 << 20;
    for (const auto &name : renditions) {
      iptv::control::RenditionView rv;
      rv.name = name;
      rv.encoder = r.passthrough() ? "" : "x264enc";
      rv.last_segment_age_s = 1.5;
      rv.media_sequence = 100;
      rv.segments = 50;
      rv.bytes = 5000000;
      rv.bitrate_bps = 600000;
      rv.fps = 25;
      d.renditions.push_back(rv);
      cm.renditions.push_back({name, true, 1.5, 50, 5000000, 600000, 25});
    }
    cm.probes.push_back({"silence", "audio", 2, false});
    cm.probes.push_back({"black", "video", 0, false});
    details[r.channel_id] = d;
    snapshot.channels.push_back(cm);
  }

  void post_event(const std::string &type, const std::string &channel) {
    {
      std::lock_guard lk(mu);
      iptv::control::EventView e;
      e.id = static_cast<int64_t>(events.size()) + 1;
      e.event_type = type;
      e.channel_id = channel;
      e.status = "ok";
      e.detail_json = "{\"reason\":\"test\"}";
      e.created_at_ms = 1764400000000 + e.id;
      events.push_back(e);
    }
    cv.notify_all();
  }

  // ChannelDirectory
  std::vector<iptv::control::ChannelView> list() override {
    std::lock_guard lk(mu);
    std::vector<iptv::control::ChannelView> out;
    for (const auto &[id, d] : details) out.push_back(d.channel);
    return out;
  }
  std::optional<iptv::control::ChannelDetail> get(const std::string &id) override {
    std::lock_guard lk(mu);
    auto it = details.find(id);
    if (it == details.end()) return std::nullopt;
    auto d = it->second;
    for (auto e = events.rbegin(); e != events.rend() && d.last_events.size() < 20; ++e)
      if (e->channel_id == id) d.last_events.push_back(*e);
    return d;
  }
  iptv::control::ActionResult act(const std::string &id, iptv::control::Action a,
                                  const iptv::control::ActionArgs &args) override {
    std::lock_guard lk(mu);
    if (!details.count(id)) return {iptv::control::ActionResult::Code::kNotFound, "no channel"};
    if (a == iptv::control::Action::kRenditionDisable ||
        a == iptv::control::Action::kRenditionEnable) {
      auto &rs = details[id].renditions;
      auto r =
          std::find_if(rs.begin(), rs.end(), [&](auto &x) { return x.name == args.rendition; });
      if (r == rs.end()) return {iptv::control::ActionResult::Code::kNotFound, "no rendition"};
      r->enabled = a == iptv::control::Action::kRenditionEnable;
    }
    if (a == iptv::control::Action::kReturn && details[id].channel.active_source == "primary")
      return {iptv::control::ActionResult::Code::kConflict, "already on the primary"};
    actions.push_back({id, a});
    action_renditions.push_back(args.rendition);
    return {iptv::control::ActionResult::Code::kAccepted, "posted"};
  }

  iptv::control::ActionResult note_incident(const std::string &id,
                                            const iptv::control::IncidentNote &) override {
    {
      std::lock_guard lk(mu);
      if (!details.count(id)) return {iptv::control::ActionResult::Code::kNotFound, "no channel"};
    }
    post_event("incident.note", id);
    return {iptv::control::ActionResult::Code::kAccepted, "posted"};
  }

  // RecordSource
  std::vector<iptv::ChannelRecord> records() override {
    std::lock_guard lk(mu);
    return recs;
  }
  std::optional<iptv::ChannelRecord> record(const std::string &id) override {
    std::lock_guard lk(mu);
    for (const auto &r : recs)
      if (r.channel_id == id) return r;
    return std::nullopt;
  }

  // EventLog
  iptv::control::EventPage page(const iptv::control::EventFilter &f) override {
    std::lock_guard lk(mu);
    iptv::control::EventPage p;
    std::vector<iptv::control::EventView> m;
    for (const auto &e : events) {
      if (!f.channel_id.empty() && e.channel_id != f.channel_id) continue;
      if (!f.event_type.empty()) {
        bool prefix = f.event_type.back() == '*';
        std::string t = prefix ? f.event_type.substr(0, f.event_type.size() - 1) : f.event_type;
        if (prefix ? e.event_type.rfind(t, 0) != 0 : e.event_type != t) continue;
      }
      if (f.after_id && e.id <= *f.after_id) continue;
      if (f.before_id && e.id >= *f.before_id) continue;
      m.push_back(e);
    }
    if (!f.after_id) std::reverse(m.begin(), m.end());
    p.more = static_cast<int>(m.size()) > f.limit;
    if (p.more) m.resize(static_cast<size_t>(f.limit));
    p.events = m;
    return p;
  }
  std::vector<iptv::control::EventView> wait_after(int64_t after,
                                                   std::chrono::milliseconds timeout) override {
    std::unique_lock lk(mu);
    cv.wait_for(lk, timeout, [&] { return !events.empty() && events.back().id > after; });
    std::vector<iptv::control::EventView> out;
    for (const auto &e : events)
      if (e.id > after) out.push_back(e);
    return out;
  }
  int64_t last_id() override {
    std::lock_guard lk(mu);
    return events.empty() ? 0 : events.back().id;
  }

  // MetricsSource
  iptv::control::MetricsSnapshot metrics() override {
    std::lock_guard lk(mu);
    auto s = snapshot;
    s.webhook_outbox_depth = 3;
    s.webhook_delivery_failures = 7;
    s.webhook_deliveries = 40;
    s.viewer_metrics = viewers.prometheus(1764400000000);
    return s;
  }
  // Viewer requests the tests record (the daemon's origin feeds its own).
  iptv::viewers::ViewerStats viewers;
};

}  // namespace iptv_test
