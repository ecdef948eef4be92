// handlers/sessions.cpp: POST /api/v1/sessions, GET/DELETE /api/v1/sessions/{id}, GET/DELETE
// /api/v1/subjects/{subject}/sessions and POST /api/v1/subjects/{subject}/playlist-token.
// Routes, roles and audit actions are declared in api_server.cpp (Impl::build_routes).
#include <glib.h>

#include <algorithm>

#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

// ---- sessions ----------------------------------------------------------------------------------

void ApiServer::Impl::h_session_open(Ctx &c) {
  if (std::string why = tokens_unavailable(); !why.empty())
    return error(c, 503, "unavailable", why);
  json j;
  if (!parse_body(c, j)) return;
  SessionRequest req;
  if (!get_string(c, j, "channel_id", req.channel_id, true) ||
      !get_string(c, j, "subject", req.subject, false) ||
      !get_string(c, j, "region", req.region, false))
    return;
  req.client_ip = c.client_ip;
  req.actor = c.actor;
  SessionResult r = opener->open(req);
  count_session(r.ok ? "ok" : r.reason);
  if (!r.ok) {
    c.error_code = r.reason;
    return reply(c, r.http_status,
                 {{"error", "refused"}, {"reason", r.reason}, {"message", r.message}});
  }
  json body = to_json(r.session);
  body["session_id"] = r.session.id;
  body["playback_path"] = r.path;
  body["playback_url"] = base_url(c) + r.path;
  reply(c, 201, body);
}

void ApiServer::Impl::h_session_get(Ctx &c) {
  auto s = deps.store->session(c.params["id"]);
  if (!s) return error(c, 404, "not_found", "no such session");
  reply(c, 200, to_json(*s));
}

void ApiServer::Impl::h_session_delete(Ctx &c) {
  std::string id = c.params["id"];
  auto s = deps.store->session(id);
  if (!s) {
    audit_call(c, "session.revoke", id, "error", "not_found");
    return error(c, 404, "not_found", "no such session");
  }
  bool changed = opener->revoke(id, c.actor, c.client_ip);
  reply(c, 200, {{"session_id", id}, {"revoked", true}, {"already_revoked", !changed}});
}

void ApiServer::Impl::h_subject_sessions(Ctx &c) {
  bool active = query_str(c, "active") != "false";
  json arr = json::array();
  for (const auto &s : deps.store->sessions_of(c.params["subject"], active))
    arr.push_back(to_json(s));
  reply(c, 200, {{"subject", c.params["subject"]}, {"sessions", arr}});
}

void ApiServer::Impl::h_subject_revoke(Ctx &c) {
  auto ids = opener->revoke_subject(c.params["subject"], c.actor, c.client_ip);
  reply(c, 200, {{"subject", c.params["subject"]}, {"revoked", ids}, {"count", ids.size()}});
}

void ApiServer::Impl::h_playlist_token(Ctx &c) {
  if (std::string why = tokens_unavailable(); !why.empty())
    return error(c, 503, "unavailable", why);
  std::string subject = c.params["subject"];
  json j;
  if (!parse_body(c, j)) return;
  int64_t ttl = config.playlist_token_ttl_seconds;
  if (j.contains("ttl_seconds")) {
    if (!j["ttl_seconds"].is_number_integer() || j["ttl_seconds"].get<int64_t>() <= 0)
      return error(c, 400, "invalid_request", "'ttl_seconds' must be a positive integer");
    ttl = std::min(ttl, j["ttl_seconds"].get<int64_t>());
  }
  TokenClaims claims;
  claims.start = now_unix();
  claims.expiry = claims.start + ttl;
  claims.acl = "/iptv/*";
  claims.session = "sub." + subject;
  std::string token = sign_token(claims, *deps.keys);
  gchar *esc = g_uri_escape_string(token.c_str(), nullptr, FALSE);
  std::string path = std::string("/iptv/playlist.m3u?token=") + esc;
  g_free(esc);
  audit_call(c, "playlist_token.issue", subject, "ok", "", {{"expires_at", claims.expiry}});
  reply(c, 201,
        {{"subject", subject},
         {"token", token},
         {"expires_at", iso8601_utc(claims.expiry * 1000)},
         {"playlist_path", path},
         {"playlist_url", base_url(c) + path}});
}

}  // namespace iptv::control
