// Steps 1-4 and 8-10 of the diagnosis (diagnose.h): they read the daemon's state; steps 5-7,
// which fetch and decode the channel's output, are in media.cpp.
#include <glib.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "control/sessions.h"
#include "diagnose/diagnose.h"

namespace iptv::diagnose {

using nlohmann::json;

namespace {

std::string fmt(double v, const char *f = "%.1f") {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

std::string when(int64_t unix_s) {
  if (unix_s <= 0) return "never";
  GDateTime *dt = g_date_time_new_from_unix_utc(unix_s);
  gchar *s = g_date_time_format_iso8601(dt);
  std::string out = s;
  g_free(s);
  g_date_time_unref(dt);
  return out;
}

std::string reason_text(const std::string &code) {
  static const std::map<std::string, std::string> k = {
      {"rights_expired", "the channel's rights have expired"},
      {"account_required", "the channel needs an account (give --subject)"},
      {"not_entitled", "the subject is not entitled to this channel"},
      {"entitlement_expired", "the subject's entitlement has expired"},
      {"region_mismatch", "the region differs from the subject's home region"},
      {"region_required", "the channel is limited to regions and no region is known"},
      {"region_not_permitted", "the region is not in the channel's access.region"},
      {"region_not_licensed", "the region is not in the channel's rights.regions"},
  };
  auto it = k.find(code);
  return it == k.end() ? code : it->second;
}

// The last audit row about the subject's entitlement (who changed or deleted it, when).
std::optional<control::AuditEntry> last_entitlement_change(control::ControlStore &store,
                                                           const std::string &subject) {
  control::AuditFilter f;
  f.target = subject;
  f.limit = 50;
  for (const auto &a : store.audit_page(f))
    if (a.action.rfind("entitlement.", 0) == 0) return a;
  return std::nullopt;
}

}  // namespace

// ---- 1. entitlement ------------------------------------------------------------------------

void step_entitlement(const EngineDeps &d, const Context &c, Step &s) {
  const auto &r = *c.req;
  // The channel's own status is step 2's; here only rights, account, region and entitlement.
  ChannelRecord rec = c.record;
  rec.status = ChannelStatus::kActive;
  std::optional<control::Entitlement> ent;
  if (!r.subject.empty()) ent = d.store->entitlement(r.subject);
  std::string region;
  std::string code = control::access_decision(rec, ent, r.subject, r.region, c.now, &region);
  // Neither a subject nor a region given (the console's diagnosis, a bare `iptvctl diagnose CH`)
  // on a region-limited channel: the question is whether a viewer in one of its regions would get
  // a session, so each region the record permits is tried; the step fails only if none would be
  // granted (e.g. every permitted region is outside rights.regions).
  std::string tried_for;
  if (r.subject.empty() && r.region.empty() && code == "region_required") {
    for (const auto &candidate : rec.access.regions) {
      std::string c_region;
      std::string c_code =
          control::access_decision(rec, ent, r.subject, candidate, c.now, &c_region);
      tried_for += (tried_for.empty() ? "" : ", ") + candidate + ": " +
                   (c_code.empty() ? std::string("granted") : c_code);
      if (c_code.empty() || code == "region_required") code = c_code;
      if (c_code.empty()) {
        region = c_region;
        break;
      }
    }
  }
  s.data = {{"subject", r.subject.empty() ? json(nullptr) : json(r.subject)},
            {"decision", code.empty() ? "granted" : code},
            {"region", region.empty() ? json(nullptr) : json(region)},
            {"rights_expires_at",
             rec.rights.expires_unix > 0 ? json(when(rec.rights.expires_unix)) : json(nullptr)},
            {"account_required", rec.access.account_required}};
  if (!tried_for.empty()) {
    s.data["regions_tried"] = tried_for;
    s.evidence.push_back("no subject or region given; regions tried: " + tried_for);
  }
  if (r.subject.empty() && code == "account_required") {
    s.summary = "no --subject: the channel's rights and access rules allow sessions";
    s.evidence.push_back("account required; rights " +
                         (rec.rights.expires_unix > 0 ? "until " + when(rec.rights.expires_unix)
                                                      : std::string("without expiry")));
  } else if (!code.empty()) {
    std::string why = "refused (" + code + "): " + reason_text(code);
    if (code == "rights_expired") why += " at " + when(rec.rights.expires_unix);
    if (code == "entitlement_expired" && ent) why += " at " + when(ent->expires_at);
    if (!ent && !r.subject.empty())
      if (auto a = last_entitlement_change(*d.store, r.subject))
        why += "; its entitlement was last changed by " + a->action + " (" + a->actor + ", " +
               when(a->at_ms / 1000) + ")";
    s.fail(why);
    if (code == "rights_expired") {
      s.remedy = "renew the rights: set rights.expires in the record, then reload";
      s.command = command_for("reload", c.record.channel_id);
    } else if (code.rfind("region", 0) == 0) {
      s.remedy =
          "open the session with the viewer's permitted region (--region), or change the "
          "record's access.region / rights.regions";
      s.command = command_for("new-session", c.record.channel_id, r.subject) + " --region R";
    } else {
      s.remedy = "restore the subject's entitlement (admin key)";
      s.command =
          "curl -X PUT -H \"Authorization: Bearer $IPTV_API_KEY\" "
          "$IPTV_URL/api/v1/entitlements/" +
          r.subject + " -d '{\"channels\":[\"" + c.record.channel_id + "\"]}'";
    }
  } else if (!tried_for.empty()) {
    std::string regions;
    for (const auto &x : rec.access.regions) regions += (regions.empty() ? "" : ", ") + x;
    s.summary = "no --subject or --region: the channel is limited to regions [" + regions +
                "]; a session from region " + region + " would be granted";
  } else {
    s.summary = r.subject.empty() ? "open channel: sessions need no account"
                                  : "a session for " + r.subject + " would be granted";
    if (ent)
      s.evidence.push_back("entitlement: tier '" + ent->tier + "', region '" + ent->region +
                           "', expires " + when(ent->expires_at));
  }
  // The subject's open sessions: signed with a key still in the ring?
  if (r.subject.empty() || !d.keys || d.keys->empty()) return;
  int open = 0, stranded = 0;
  for (const auto &ses : d.store->sessions_of(r.subject, true)) {
    if (ses.channel_id != c.record.channel_id) continue;
    ++open;
    if (!ses.kid.empty() && !d.keys->find(ses.kid)) {
      ++stranded;
      s.fail("session " + ses.id + " was signed with key '" + ses.kid +
             "', which is no longer in the key ring: its URLs are refused (403 unknown-key)");
      s.summary = "the token key of the subject's session was rotated away (kid '" + ses.kid + "')";
      s.remedy = "put key '" + ses.kid +
                 "' back in the key file as a second (verify-only) line "
                 "and restart iptvd until its sessions expire, or give the viewer a new session";
      s.command = command_for("new-session", c.record.channel_id, r.subject);
    }
  }
  s.data["open_sessions"] = open;
  s.data["sessions_with_unknown_key"] = stranded;
  s.evidence.push_back(std::to_string(open) + " open session(s) on this channel");
}

// ---- 2. control state ----------------------------------------------------------------------

void step_control(const Context &c, Step &s) {
  const auto &ch = c.detail.channel;
  s.data = {{"state", ch.state},
            {"reason", ch.reason},
            {"active_source", ch.active_source},
            {"since", when(ch.state_since_unix)}};
  json tr = json::array();
  for (const auto &e : c.transitions) {
    json d = json::parse(e.detail_json, nullptr, false);
    std::string line = when(e.created_at_ms / 1000) + " " +
                       (d.is_object() ? d.value("from", std::string("?")) + " -> " +
                                            d.value("to", std::string("?")) + ": " +
                                            d.value("reason", std::string(""))
                                      : e.status);
    tr.push_back(line);
    s.evidence.push_back("transition " + line);
  }
  s.data["last_transitions"] = tr;
  s.summary = ch.state + ": " + ch.reason + " (active source " + ch.active_source + ")";
  bool daemon_held = ch.state == "offline" && ch.reason.rfind("worker", 0) != 0 &&
                     ch.reason.rfind("cannot start worker", 0) != 0 && c.detail.worker_pid == 0 &&
                     ch.reason.find("restart") == std::string::npos;
  if (ch.state == "disabled" || ch.state == "retired") {
    s.fail("the channel is " + ch.state + " (" + ch.reason + "): iptvd runs no worker for it");
    s.summary = "the channel is " + ch.state;
    s.remedy = "set `status: active` in the channel's record, then reload";
    s.command = command_for("reload", c.record.channel_id);
  } else if (daemon_held) {
    s.fail("the daemon keeps the channel offline: " + ch.reason);
    s.remedy = "fix what the reason names (rights, placement, plugin), then reload";
    s.command = command_for("reload", c.record.channel_id);
  } else if (ch.state != "live") {
    s.warn("state " + ch.state + ": " + ch.reason + " (the next hops say why)");
  }
}

// ---- 3. ingest -----------------------------------------------------------------------------

void step_ingest(const Context &c, Step &s) {
  const auto &d = c.detail;
  json srcs = json::array();
  bool any_healthy = false, primary_healthy = false;
  for (const auto &src : d.sources) {
    srcs.push_back({{"role", src.role},
                    {"kind", src.kind},
                    {"healthy", src.healthy},
                    {"detail", src.detail},
                    {"since", when(src.since_unix)}});
    s.evidence.push_back(src.role + " (" + src.kind + "): " + (src.healthy ? "healthy" : "DOWN") +
                         (src.detail.empty() ? "" : ", " + src.detail));
    any_healthy |= src.healthy;
    if (src.role == "primary") primary_healthy = src.healthy;
  }
  json conds = json::array();
  for (const auto &p : d.conditions) {
    conds.push_back({{"condition", p.condition}, {"stream", p.stream}, {"detail", p.detail}});
    s.evidence.push_back("probe condition " + p.condition + "/" + p.stream + ": " + p.detail);
  }
  s.data = {{"sources", srcs},
            {"conditions", conds},
            {"media_age_ms", d.media_age_ms < 0 ? json(nullptr) : json(d.media_age_ms)},
            {"active_source", d.channel.active_source}};
  if (d.media_age_ms >= 0)
    s.evidence.push_back("last media buffer " + fmt(d.media_age_ms / 1000.0) + " s ago");
  // The worker's measurement of each input (its stats line): bitrate, codecs, last packet, gaps.
  json inputs = json::array();
  const control::InputView *on_air = nullptr;
  for (const auto &in : d.inputs) {
    inputs.push_back({{"role", in.role},
                      {"bitrate_bps", in.bitrate_bps < 0 ? json(nullptr) : json(in.bitrate_bps)},
                      {"video_codec", in.video_codec},
                      {"audio_codec", in.audio_codec},
                      {"last_packet_age_ms",
                       in.last_packet_age_ms < 0 ? json(nullptr) : json(in.last_packet_age_ms)},
                      {"gaps", in.gaps}});
    s.evidence.push_back(
        "input " + in.role + ": " +
        (in.bitrate_bps < 0 ? std::string("bitrate not measurable (generated)")
                            : fmt(in.bitrate_bps / 1000.0, "%.0f") + " kbit/s") +
        ", video " + (in.video_codec.empty() ? std::string("none") : in.video_codec) + ", audio " +
        (in.audio_codec.empty() ? std::string("none") : in.audio_codec) + ", last packet " +
        (in.last_packet_age_ms < 0 ? std::string("never")
                                   : fmt(in.last_packet_age_ms / 1000.0) + " s ago") +
        ", " + std::to_string(in.gaps) + " gap(s)");
    if (in.role == d.channel.active_source ||
        (d.channel.active_source == "slate" && in.role == "primary"))
      on_air = &in;
  }
  s.data["inputs"] = inputs;
  s.data["stats_age_seconds"] = d.stats_age_s < 0 ? json(nullptr) : json(d.stats_age_s);
  if (d.worker_pid == 0) {
    s.status = Status::kWarn;
    s.summary = "no worker runs: the input is not being read";
    return;
  }
  if (d.inputs.empty()) s.evidence.push_back("input stats: none reported yet by the worker");
  bool has_backup = std::any_of(d.sources.begin(), d.sources.end(),
                                [](const auto &x) { return x.role == "backup"; });
  if (!any_healthy || d.channel.active_source == "slate") {
    std::string why =
        "no healthy source: " + (d.sources.empty() ? std::string("none") : d.sources[0].detail) +
        (has_backup ? "" : " (no backup source configured)") +
        (d.channel.active_source == "slate" ? "; viewers see the slate" : "");
    s.fail(why);
    s.summary = "the source is dead" +
                std::string(has_backup ? " and so is the backup" : " and there is no backup");
    s.remedy = has_backup
                   ? "fix the sources; then return to the primary"
                   : "fix the source, or add failover.backup_source to the record and reload";
    s.command = has_backup ? command_for("return", c.record.channel_id)
                           : command_for("reload", c.record.channel_id);
    return;
  }
  // The input on air, as measured: nothing for longer than the loss threshold, or a measured
  // bitrate of zero, fails the hop (the source is connected but sends nothing); gaps warn.
  double loss_s = std::max(1.0, c.record.failover.primary_loss_seconds);
  if (on_air && on_air->last_packet_age_ms > loss_s * 1000) {
    s.fail("no input on " + on_air->role + " for " + fmt(on_air->last_packet_age_ms / 1000.0) +
           " s (more than " + fmt(loss_s) + " s)");
    s.summary = "no input: the " + on_air->role + " sent nothing for " +
                fmt(on_air->last_packet_age_ms / 1000.0) + " s";
    s.remedy = has_backup ? "fail over to the backup" : "check the source, then restart";
    s.command = has_backup ? command_for("failover", c.record.channel_id)
                           : command_for("restart", c.record.channel_id);
    return;
  }
  if (on_air && on_air->bitrate_bps == 0) {
    s.fail("the " + on_air->role + " input's bitrate is zero over the last stats interval");
    s.summary = "zero input bitrate on the " + on_air->role;
    s.remedy = has_backup ? "fail over to the backup" : "check the source, then restart";
    s.command = has_backup ? command_for("failover", c.record.channel_id)
                           : command_for("restart", c.record.channel_id);
    return;
  }
  if (on_air && on_air->gaps > 0)
    s.warn(std::to_string(on_air->gaps) + " input gap(s) on the " + on_air->role +
           " since the worker started");
  if (!primary_healthy) s.warn("the primary is down; on the backup");
  if (!d.conditions.empty())
    s.warn(std::to_string(d.conditions.size()) + " probe condition(s) active");
  s.summary =
      "receiving on " + d.channel.active_source +
      (on_air && on_air->bitrate_bps >= 0
           ? " at " + fmt(on_air->bitrate_bps / 1000.0, "%.0f") + " kbit/s"
           : std::string()) +
      (on_air && !on_air->video_codec.empty()
           ? " (" + on_air->video_codec +
                 (on_air->audio_codec.empty() ? std::string() : ", " + on_air->audio_codec) + ")"
           : std::string()) +
      (d.conditions.empty()
           ? ""
           : " with " + std::to_string(d.conditions.size()) + " probe condition(s)");
}

// ---- 4. worker -----------------------------------------------------------------------------

void step_worker(const EngineConfig &cfg, const Context &c, Step &s) {
  const auto &d = c.detail;
  double seg = std::max(1.0, c.record.hls.segment_seconds);
  json rends = json::array();
  std::vector<std::string> late;
  for (const auto &r : d.renditions) {
    rends.push_back({{"name", r.name},
                     {"enabled", r.enabled},
                     {"encoder", r.encoder},
                     {"last_segment_age_seconds",
                      r.last_segment_age_s < 0 ? json(nullptr) : json(r.last_segment_age_s)},
                     {"media_sequence", r.media_sequence},
                     {"fps", r.fps},
                     {"bitrate_bps", r.bitrate_bps}});
    s.evidence.push_back(r.name + ": encoder " + (r.encoder.empty() ? "-" : r.encoder) +
                         ", last segment " +
                         (r.last_segment_age_s < 0 ? std::string("none yet")
                                                   : fmt(r.last_segment_age_s) + " s ago") +
                         ", seq " + std::to_string(r.media_sequence) + ", " + fmt(r.fps) + " fps" +
                         (r.enabled ? "" : " (disabled)"));
    if (r.enabled && d.worker_pid && r.last_segment_age_s > 3 * seg + 2) late.push_back(r.name);
  }
  s.data = {
      {"pid", d.worker_pid},
      {"restarts", d.channel.restarts},
      {"heartbeat_age_seconds", d.heartbeat_age_s < 0 ? json(nullptr) : json(d.heartbeat_age_s)},
      {"renditions", rends},
      {"late_renditions", late},
      {"last_error", d.last_error}};
  // Queue fill: every queue of the inputs and the output, level against its limit. A queue at
  // its limit means what is downstream of it cannot keep up (or is stuck).
  json queues = json::array();
  std::vector<std::string> full;
  double worst = 0;
  std::string worst_name;
  for (const auto &q : d.queues) {
    queues.push_back({{"name", q.name},
                      {"fill", q.fill},
                      {"level_ms", q.level_ms},
                      {"max_ms", q.max_ms},
                      {"level_bytes", q.level_bytes},
                      {"max_bytes", q.max_bytes},
                      {"level_buffers", q.level_buffers},
                      {"max_buffers", q.max_buffers}});
    if (q.fill >= cfg.queue_full) full.push_back(q.name + " " + fmt(q.fill * 100, "%.0f") + "%");
    if (q.fill >= worst) {
      worst = q.fill;
      worst_name = q.name;
    }
  }
  s.data["queue_fill"] = queues;
  if (d.queues.empty())
    s.evidence.push_back("queue fill: none reported yet by the worker");
  else
    s.evidence.push_back("queue fill: " + std::to_string(d.queues.size()) + " queues, fullest " +
                         worst_name + " at " + fmt(worst * 100, "%.0f") + "%");
  if (!d.last_error.empty()) s.evidence.push_back("last worker error: " + d.last_error);
  std::string state = d.channel.state;
  if (d.worker_pid == 0) {
    if (state == "disabled" || state == "retired" ||
        (state == "offline" && d.channel.reason.rfind("worker", 0) != 0)) {
      s.status = Status::kWarn;
      s.summary = "no worker (the channel is " + state + ")";
      return;
    }
    s.fail("no worker process: " + d.channel.reason);
    s.summary = "the worker is not running (" + d.channel.reason + ", restarts " +
                std::to_string(d.channel.restarts) + ")";
    s.remedy = "restart the channel";
    s.command = command_for("restart", c.record.channel_id);
    return;
  }
  s.evidence.push_back("worker pid " + std::to_string(d.worker_pid) + ", restarts " +
                       std::to_string(d.channel.restarts) + ", last status line " +
                       fmt(d.heartbeat_age_s) + " s ago");
  if (d.heartbeat_age_s > cfg.heartbeat_fail_s) {
    s.fail("the worker (pid " + std::to_string(d.worker_pid) + ") sent no heartbeat for " +
           fmt(d.heartbeat_age_s) + " s: it is hung (stopped or deadlocked)");
    s.summary = "the worker is hung: no heartbeat for " + fmt(d.heartbeat_age_s) + " s";
    s.remedy = "restart the channel's worker (the supervisor also kills it at heartbeat.timeout)";
    s.command = command_for("restart", c.record.channel_id);
    return;
  }
  if (!late.empty()) {
    std::string names;
    for (const auto &n : late) names += (names.empty() ? "" : ", ") + n;
    if (late.size() == d.renditions.size()) {
      s.fail("no rendition got a segment for more than " + fmt(3 * seg + 2, "%.0f") +
             " s: " + names);
      s.remedy = "restart the channel";
      s.command = command_for("restart", c.record.channel_id);
    } else {
      s.fail("late segments on " + names + " (more than " + fmt(3 * seg + 2, "%.0f") + " s)");
      s.remedy = "disable the late rendition";
      s.command = command_for("disable-rendition", c.record.channel_id, late[0]);
    }
    return;
  }
  if (!full.empty()) {
    std::string names;
    for (const auto &n : full) names += (names.empty() ? "" : ", ") + n;
    s.warn("queue(s) at least " + fmt(cfg.queue_full * 100, "%.0f") + "% full: " + names);
    s.summary =
        "worker pid " + std::to_string(d.worker_pid) + " running; queues backing up: " + names;
    return;
  }
  s.summary = "worker pid " + std::to_string(d.worker_pid) + " running, every rendition on time";
}

}  // namespace iptv::diagnose
