#include "control/json_views.h"

#include "control/secrets.h"

namespace iptv::control {

using nlohmann::json;

namespace {
json age(double s) {
  return s < 0 ? json(nullptr) : json(s);
}
json ts(int64_t unix_s) {
  return unix_s > 0 ? json(iso8601_utc(unix_s * 1000)) : json(nullptr);
}
}  // namespace

json to_json(const ChannelView &c) {
  return {{"id", c.id},
          {"name", c.name},
          {"group", c.group},
          {"state", c.state},
          {"reason", c.reason},
          {"state_since", ts(c.state_since_unix)},
          {"active_source", c.active_source},
          {"mode", c.mode},
          {"segment_format", c.segment_format},
          {"dash", c.dash},
          {"restarts", c.restarts},
          {"failovers", c.failovers},
          {"rendition_count", c.renditions},
          {"last_segment_age_seconds", age(c.last_segment_age_s)},
          {"last_part_age_seconds", age(c.last_part_age_s)},
          {"active_conditions", c.active_conditions}};
}

json inputs_json(const std::vector<InputView> &inputs) {
  json a = json::array();
  for (const auto &in : inputs)
    a.push_back({{"role", in.role},
                 {"bitrate_bps", in.bitrate_bps < 0 ? json(nullptr) : json(in.bitrate_bps)},
                 {"video_codec", in.video_codec},
                 {"audio_codec", in.audio_codec},
                 {"last_packet_age_ms",
                  in.last_packet_age_ms < 0 ? json(nullptr) : json(in.last_packet_age_ms)},
                 {"gaps", in.gaps}});
  return a;
}

json queues_json(const std::vector<QueueView> &queues) {
  json a = json::array();
  for (const auto &q : queues)
    a.push_back({{"name", q.name},
                 {"fill", q.fill},
                 {"level_ms", q.level_ms},
                 {"max_ms", q.max_ms},
                 {"level_bytes", q.level_bytes},
                 {"max_bytes", q.max_bytes},
                 {"level_buffers", q.level_buffers},
                 {"max_buffers", q.max_buffers}});
  return a;
}

json to_json(const ChannelDetail &d) {
  json j = to_json(d.channel);
  json sources = json::array();
  for (const auto &s : d.sources)
    sources.push_back({{"role", s.role},
                       {"uri", redact_uri(s.uri)},
                       {"kind", s.kind},
                       {"healthy", s.healthy},
                       {"detail", s.detail},
                       {"since", ts(s.since_unix)}});
  json rends = json::array();
  for (const auto &r : d.renditions)
    rends.push_back({{"name", r.name},
                     {"enabled", r.enabled},
                     {"encoder", r.encoder},
                     {"last_segment_age_seconds", age(r.last_segment_age_s)},
                     {"last_part_age_seconds", age(r.last_part_age_s)},
                     {"media_sequence", r.media_sequence},
                     {"discontinuity_sequence", r.discontinuity_sequence},
                     {"segments", r.segments},
                     {"bytes", r.bytes},
                     {"bitrate_bps", r.bitrate_bps},
                     {"fps", r.fps}});
  json conds = json::array();
  for (const auto &c : d.conditions)
    conds.push_back({{"condition", c.condition},
                     {"stream", c.stream},
                     {"detail", c.detail},
                     {"since", ts(c.since_unix)}});
  json events = json::array();
  for (const auto &e : d.last_events) events.push_back(to_json(e));
  j["sources"] = sources;
  j["renditions"] = rends;
  j["conditions"] = conds;
  j["worker"] = {
      {"pid", d.worker_pid},
      {"started_at", ts(d.worker_started_unix)},
      {"heartbeat_age_seconds", d.heartbeat_age_s < 0 ? json(nullptr) : json(d.heartbeat_age_s)},
      {"media_age_ms", d.media_age_ms < 0 ? json(nullptr) : json(d.media_age_ms)},
      {"stats_age_seconds", d.stats_age_s < 0 ? json(nullptr) : json(d.stats_age_s)},
      {"queues", queues_json(d.queues)}};
  j["inputs"] = inputs_json(d.inputs);
  j["last_error"] = d.last_error;
  j["last_events"] = events;
  return j;
}

json to_json(const EventView &e) {
  json detail = json::parse(e.detail_json.empty() ? "{}" : e.detail_json, nullptr, false);
  if (detail.is_discarded()) detail = json::object();
  return {{"id", e.id},
          {"event_type", e.event_type},
          {"channel_id", e.channel_id},
          {"job_id", e.job_id},
          {"profile", e.profile},
          {"input_checksum", e.input_checksum},
          {"output_uri", e.output_uri},
          {"attempt", e.attempt},
          {"status", e.status},
          {"detail", detail},
          {"created_at", iso8601_utc(e.created_at_ms, true)}};
}

json to_json(const ApiKey &k) {
  return {{"id", k.id},
          {"name", k.name},
          {"role", to_string(k.role)},
          {"created_at", ts(k.created_at)},
          {"last_used_at", ts(k.last_used_at)},
          {"revoked", k.revoked}};
}

json to_json(const Entitlement &e) {
  return {{"subject", e.subject},
          {"channels", e.channels},
          {"groups", e.groups},
          {"tier", e.tier},
          {"region", e.region},
          {"expires_at", ts(e.expires_at)},
          {"updated_at", ts(e.updated_at)}};
}

json to_json(const Session &s) {
  return {{"id", s.id},
          {"subject", s.subject},
          {"channel_id", s.channel_id},
          {"region", s.region},
          {"created_at", ts(s.created_at)},
          {"expires_at", ts(s.expires_at)},
          {"revoked", s.revoked_at != 0},
          {"revoked_at", ts(s.revoked_at)}};
}

json to_json(const AuditEntry &a) {
  json detail = json::parse(a.detail_json.empty() ? "{}" : a.detail_json, nullptr, false);
  if (detail.is_discarded()) detail = json::object();
  return {{"id", a.id},         {"at", iso8601_utc(a.at_ms, true)},
          {"actor", a.actor},   {"action", a.action},
          {"target", a.target}, {"outcome", a.outcome},
          {"reason", a.reason}, {"client_ip_hash", a.client_ip_hash},
          {"detail", detail}};
}

}  // namespace iptv::control
