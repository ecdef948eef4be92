#include "control/sessions.h"

#include <set>

#include <glib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "control/secrets.h"

namespace iptv::control {

namespace {
bool contains(const std::vector<std::string> &v, const std::string &s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
bool region_in(const std::vector<std::string> &v, const std::string &region) {
  for (const auto &r : v)
    if (g_ascii_strcasecmp(r.c_str(), region.c_str()) == 0) return true;
  return false;
}
}  // namespace

std::string access_decision(const ChannelRecord &record, const std::optional<Entitlement> &ent,
                            const std::string &subject, const std::string &region, int64_t now,
                            std::string *effective_region) {
  if (record.status == ChannelStatus::kDisabled) return "channel_disabled";
  if (record.status == ChannelStatus::kRetired) return "channel_retired";
  if (record.rights.expires_unix > 0 && now >= record.rights.expires_unix) return "rights_expired";
  if (record.access.account_required && subject.empty()) return "account_required";
  std::string eff = region;
  bool needs_entitlement = record.access.account_required;
  if (needs_entitlement) {
    if (!ent) return "not_entitled";
    if (ent->expires_at > 0 && now >= ent->expires_at) return "entitlement_expired";
    bool by_channel = contains(ent->channels, record.channel_id);
    bool by_group = !record.epg.group.empty() && contains(ent->groups, record.epg.group);
    if (!by_channel && !by_group) return "not_entitled";
  }
  if (ent && !ent->region.empty()) {
    if (eff.empty())
      eff = ent->region;
    else if (g_ascii_strcasecmp(eff.c_str(), ent->region.c_str()) != 0)
      return "region_mismatch";
  }
  if (!record.access.regions.empty()) {
    if (eff.empty()) return "region_required";
    if (!region_in(record.access.regions, eff)) return "region_not_permitted";
  }
  if (!record.rights.regions.empty() && !eff.empty() && !region_in(record.rights.regions, eff))
    return "region_not_licensed";
  if (effective_region) *effective_region = eff;
  return "";
}

SessionOpener::SessionOpener(ControlStore &store, RecordSource &records, const KeyRing &keys,
                             Origin *origin, SessionConfig config)
    : store_(store), records_(records), keys_(keys), origin_(origin), config_(config) {}

SessionResult SessionOpener::open(const SessionRequest &req) {
  SessionResult r;
  int64_t now = now_unix();
  AuditEntry a;
  a.actor = req.actor.empty() ? "anonymous" : req.actor;
  a.action = "session.open";
  a.target = req.channel_id;
  a.client_ip_hash = store_.hash_ip(req.client_ip);
  nlohmann::json detail = {{"subject", req.subject}, {"region", req.region}};
  auto refuse = [&](const std::string &reason, int status, const std::string &message) {
    r.ok = false;
    r.reason = reason;
    r.http_status = status;
    r.message = message;
    a.outcome = "refused";
    a.reason = reason;
    a.detail_json = detail.dump();
    store_.audit(a);
    return r;
  };
  if (!valid_name(req.channel_id) || (!req.subject.empty() && !valid_name(req.subject)) ||
      (!req.region.empty() && !valid_name(req.region)))
    return refuse("invalid_request", 400, "channel_id, subject and region must be names");
  auto rec = records_.record(req.channel_id);
  if (!rec) return refuse("channel_not_found", 404, "no channel '" + req.channel_id + "'");
  std::optional<Entitlement> ent;
  if (!req.subject.empty()) ent = store_.entitlement(req.subject);
  std::string region;
  std::string reason = access_decision(*rec, ent, req.subject, req.region, now, &region);
  // A preview skips who may watch (entitlements, regions), never what may be shown.
  static const std::set<std::string> kPreviewSkips = {
      "account_required", "not_entitled",         "entitlement_expired", "region_mismatch",
      "region_required",  "region_not_permitted", "region_not_licensed"};
  if (req.operator_preview && kPreviewSkips.count(reason)) reason.clear();
  if (req.operator_preview) detail["preview"] = true;
  if (!reason.empty()) return refuse(reason, 403, "refused: " + reason);

  // The client binding: tokens carry the IP when bound, so a session is only reused for it.
  std::string binding = config_.bind_client_ip ? "ip:" + store_.hash_ip(req.client_ip) : "";
  int64_t ttl =
      std::max<int64_t>(1, req.ttl_seconds > 0 ? std::min(req.ttl_seconds, config_.ttl_seconds)
                                               : config_.ttl_seconds);
  if (req.reuse && !req.subject.empty()) {
    if (auto open = store_.reusable_session(req.subject, req.channel_id, binding, now + ttl / 2)) {
      TokenClaims c;
      c.start = now;
      c.expiry = open->expires_at;
      c.acl = acl_for_channel(req.channel_id);
      c.session = open->id;
      if (config_.bind_client_ip) c.ip = req.client_ip;
      if (open->kid != keys_.signing_kid()) store_.set_session_kid(open->id, keys_.signing_kid());
      r.ok = true;
      r.reused = true;
      r.http_status = 200;
      r.session = *open;
      r.path = "/hls/" + req.channel_id + "/" + token_to_path_segment(sign_token(c, keys_)) +
               "/index.m3u8";
      r.token_expires_at = open->expires_at;
      return r;
    }
  }
  if (!req.subject.empty() && config_.max_sessions_per_subject > 0 &&
      store_.active_session_count(req.subject, now) >= config_.max_sessions_per_subject)
    return refuse("too_many_sessions", 429,
                  "the subject has " + std::to_string(config_.max_sessions_per_subject) +
                      " open sessions (the limit); revoke some or wait for them to expire");

  Session s;
  s.id = "s_" + random_hex(12);
  s.binding = binding;
  s.kid = keys_.signing_kid();
  s.subject = req.subject;
  s.channel_id = req.channel_id;
  s.region = region;
  s.created_at = now;
  s.expires_at = now + ttl;
  if (rec->rights.expires_unix > 0) s.expires_at = std::min(s.expires_at, rec->rights.expires_unix);
  TokenClaims c;
  c.start = now;
  c.expiry = s.expires_at;
  c.acl = acl_for_channel(req.channel_id);
  c.session = s.id;
  if (config_.bind_client_ip) c.ip = req.client_ip;
  std::string token = token_to_path_segment(sign_token(c, keys_));
  store_.add_session(s);
  r.ok = true;
  r.http_status = 201;
  r.session = s;
  r.path = "/hls/" + req.channel_id + "/" + token + "/index.m3u8";
  r.token_expires_at = s.expires_at;
  a.outcome = "ok";
  a.target = req.channel_id;
  detail["session_id"] = s.id;
  detail["region"] = region;
  detail["expires_at"] = s.expires_at;
  a.detail_json = detail.dump();
  store_.audit(a);
  return r;
}

bool SessionOpener::revoke(const std::string &session_id, const std::string &actor,
                           const std::string &client_ip) {
  bool ok = store_.revoke_session(session_id, now_unix());
  // The origin is told even when the store had it already revoked (idempotent, and re-arms an
  // origin that restarted).
  if (origin_ && (ok || store_.session(session_id))) origin_->revoke_session(session_id);
  AuditEntry a;
  a.actor = actor;
  a.action = "session.revoke";
  a.target = session_id;
  a.outcome = ok ? "ok" : "error";
  a.reason = ok ? "" : "not_found_or_revoked";
  a.client_ip_hash = store_.hash_ip(client_ip);
  store_.audit(a);
  return ok;
}

std::vector<std::string> SessionOpener::revoke_subject(const std::string &subject,
                                                       const std::string &actor,
                                                       const std::string &client_ip) {
  auto ids = store_.revoke_subject(subject, now_unix());
  if (origin_)
    for (const auto &id : ids) origin_->revoke_session(id);
  AuditEntry a;
  a.actor = actor;
  a.action = "subject.revoke";
  a.target = subject;
  a.outcome = "ok";
  a.client_ip_hash = store_.hash_ip(client_ip);
  a.detail_json = nlohmann::json{{"sessions", ids.size()}}.dump();
  store_.audit(a);
  return ids;
}

size_t SessionOpener::rearm_origin() {
  if (!origin_) return 0;
  auto ids = store_.revoked_unexpired(now_unix());
  for (const auto &id : ids) origin_->revoke_session(id);
  return ids.size();
}

}  // namespace iptv::control
