// handlers/playlists.cpp: GET /iptv/playlist.m3u and GET /iptv/epg.xml (the documents:
// control/m3u.cpp and control/xmltv.cpp). Routes, roles and audit actions are declared in
// api_server.cpp (Impl::build_routes).
#include <glib.h>

#include <algorithm>

#include "control/api_impl.h"
#include "control/console.h"
#include "control/m3u.h"
#include "control/xmltv.h"

namespace iptv::control {

using namespace api;

// ---- IPTV players ------------------------------------------------------------------------------

void ApiServer::Impl::h_playlist(Ctx &c) {
  if (std::string why = tokens_unavailable(); !why.empty())
    return set_body(c, 503, "text/plain", why + "\n");
  std::string token = query_str(c, "token");
  TokenClaims claims;
  TokenError e =
      verify_token(token, *deps.keys, "/iptv/playlist.m3u", now_unix(), c.client_ip, &claims);
  std::string subject;
  if (e == TokenError::kOk) {
    if (!starts_with(claims.session, "sub.")) {
      e = TokenError::kScope;
    } else {
      subject = claims.session.substr(4);
      int64_t revoked = deps.store->subject_revoked_at(subject);
      if (revoked && claims.start <= revoked) e = TokenError::kRevoked;
    }
  }
  if (e != TokenError::kOk) {
    audit_call(c, "playlist.get", subject, "denied", to_string(e));
    return set_body(c, e == TokenError::kExpired ? 410 : (token.empty() ? 401 : 403), "text/plain",
                    std::string("playlist refused: ") + to_string(e) + "\n");
  }
  c.actor = "subject:" + subject;
  std::string base = base_url(c);
  std::vector<M3uEntry> entries;
  auto ent = deps.store->entitlement(subject);
  auto recs = deps.records->records();
  std::sort(recs.begin(), recs.end(), [](const ChannelRecord &a, const ChannelRecord &b) {
    return a.channel_id < b.channel_id;
  });
  for (const auto &r : recs) {
    // Only channels the subject is entitled to (open channels are not everyone's list).
    if (!ent) break;
    bool listed = std::find(ent->channels.begin(), ent->channels.end(), r.channel_id) !=
                      ent->channels.end() ||
                  (!r.epg.group.empty() && std::find(ent->groups.begin(), ent->groups.end(),
                                                     r.epg.group) != ent->groups.end());
    if (!listed) continue;
    if (!access_decision(r, ent, subject, "", now_unix()).empty()) continue;
    SessionRequest req;
    req.subject = subject;
    req.channel_id = r.channel_id;
    req.client_ip = c.client_ip;
    req.actor = c.actor;
    req.reuse = true;  // a player refetching its playlist keeps its sessions
    SessionOpener playlist_opener(
        *deps.store, *deps.records, *deps.keys, deps.origin,
        {config.playlist_session_ttl_seconds, config.sessions.bind_client_ip,
         config.sessions.max_sessions_per_subject});
    SessionResult sr = playlist_opener.open(req);
    count_session(sr.ok ? (sr.reused ? "reused" : "ok") : sr.reason);
    if (!sr.ok) continue;
    entries.push_back({r.epg.tvg_id.empty() ? r.channel_id : r.epg.tvg_id,
                       r.name.empty() ? r.channel_id : r.name, logo_url(r, base), r.epg.group,
                       base + sr.path});
    entries.back().catchup_days = r.catchup.days;
  }
  audit_call(c, "playlist.get", subject, "ok", "", {{"channels", entries.size()}});
  set_body(c, 200, "audio/x-mpegurl", render_m3u(entries, base + "/iptv/epg.xml"));
}

void ApiServer::Impl::h_epg(Ctx &c) {
  EpgBuild b = build_epg(deps.records->records(), base_url(c));
  for (const auto &w : b.warnings)
    if (warned_epg.insert(w).second) g_warning("epg: %s", w.c_str());
  set_body(c, 200, "application/xml; charset=utf-8", render_xmltv(b.channels, b.programmes));
  soup_message_headers_replace(soup_server_message_get_response_headers(c.msg), "Cache-Control",
                               "max-age=300");
}

}  // namespace iptv::control
