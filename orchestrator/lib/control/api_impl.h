// ApiServer::Impl and the request context, shared by api_server.cpp (routing, auth, errors, the
// early body check, mount/unmount) and handlers/*.cpp (one file per resource). Internal to
// iptv_control: nothing outside orchestrator/lib/control includes it.
//
// Each handler is an Impl member `void h_x(Ctx &c)`: it reads the request from `c` (method, path,
// parameters, query, body, the authenticated key) and answers with reply() / set_body() /
// error(), which also record the status and error code for the generic audit of mutating routes.
// Routes, their roles and their audit actions are declared in one table, Impl::build_routes().
#pragma once

#include <libsoup/soup.h>

#include <atomic>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "control/api_server.h"
#include "control/console.h"
#include "control/metrics.h"
#include "control/secrets.h"
#include "util/strutil.h"

namespace iptv::control {

namespace api {

using nlohmann::json;

struct Ctx {
  SoupServerMessage *msg = nullptr;
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> params;
  std::string body;
  std::string client_ip;
  std::optional<ApiKey> key;
  std::string actor = "anonymous";
  // Authenticated by the console's session cookie (not an Authorization header): its id, so
  // logout can end it. Mutating calls then carry the session's CSRF token (X-CSRF-Token).
  std::string console_session;
  std::string route;
  // Asked on a media connection (a serving thread's): handled here on the control thread while
  // that thread waits; the message's I/O stays there (`home`), so it is never parked here.
  GMainContext *home = nullptr;
  // Filled by handlers for the generic audit of mutating calls.
  int status = 0;
  std::string error_code;
};

struct Route;
using Handler = std::function<void(ApiServer::Impl &, Ctx &)>;

struct Route {
  std::string method;
  std::string pattern;  // "/api/v1/channels/{id}"
  std::vector<std::string> segs;
  std::optional<Role> role;  // nullopt: no API key needed
  std::string audit_action;  // "" = not audited generically
  Handler handler;
};

// Helpers (api_server.cpp). A request header, "" when absent:
std::string header(SoupServerMessage *msg, const char *name);
// The answers: each sets the status, Cache-Control: no-store and the body, and records the status
// (and error's code) in `c` for the generic audit.
void set_body(Ctx &c, int status, const std::string &content_type, const std::string &body);
void reply(Ctx &c, int status, const json &j);
void error(Ctx &c, int status, const std::string &code, const std::string &message);
// Query parameters: nullopt (int) or "" (string) when absent; nullopt when not an integer.
std::optional<int64_t> query_int(const Ctx &c, const std::string &k);
std::string query_str(const Ctx &c, const std::string &k);
// Request bodies: false when `c` already holds the 400 answer.
bool parse_body(Ctx &c, json &out);
bool get_string(Ctx &c, const json &j, const char *k, std::string &out, bool required);
bool get_string_list(Ctx &c, const json &j, const char *k, std::vector<std::string> &out);

}  // namespace api

struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
  using Ctx = api::Ctx;
  using Route = api::Route;
  using Handler = api::Handler;
  using json = api::json;

  ApiDeps deps;
  ApiConfig config;
  std::unique_ptr<SessionOpener> opener;
  HttpStats http;
  std::mutex counters_mu;
  ControlCounters counters;
  std::vector<Route> routes;
  int64_t started_ms = now_ms();

  // Server-thread state.
  SoupServer *server = nullptr;
  GMainContext *context = nullptr;
  std::vector<gulong> signal_ids;
  std::vector<std::pair<SoupServer *, gulong>> media_signal_ids;  // on the serving threads' servers
  GSource *keepalive = nullptr;
  struct SseClient {
    SoupServerMessage *msg;
    std::string channel, type;
    int64_t last_id;
    gulong finished_id = 0;
  };
  std::list<SseClient> sse;
  struct Waiter {
    SoupServerMessage *msg;
    std::string channel, type;
    int64_t after;
    GSource *timeout = nullptr;
    gulong finished_id = 0;
    int limit = 100;
  };
  std::list<Waiter> waiters;
  std::set<std::string> warned_epg;
  ConsoleSessions console_sessions;

  // Follower thread.
  std::thread follower;
  std::atomic<bool> stopping{false};
  std::atomic<bool> mounted{false};

  Impl(ApiDeps d, ApiConfig c) : deps(d), config(std::move(c)) {
    opener = std::make_unique<SessionOpener>(*deps.store, *deps.records, *deps.keys, deps.origin,
                                             config.sessions);
    build_routes();
  }

  // ---- plumbing ----
  void build_routes();
  void add(const std::string &method, const std::string &pattern, std::optional<Role> role,
           const std::string &audit, Handler h) {
    Route r{method, pattern, split(pattern, '/'), role, audit, std::move(h)};
    routes.push_back(std::move(r));
  }
  void dispatch(SoupServerMessage *msg, const char *path);
  void early(SoupServerMessage *msg, const char *path);
  void fill_ctx(Ctx &c, SoupServerMessage *msg, const char *path);
  // A request that would wait (long poll, event stream) asked on a media connection: 307 to the
  // same URL with Connection: close, so the client asks again on a new connection, which the
  // origin hands to the control thread. True when answered so.
  bool redirect_foreign(Ctx &c);
  const Route *match(const std::string &method, const std::string &path,
                     std::map<std::string, std::string> &params, const Route **path_route,
                     std::string *allowed) const;
  bool route_and_authorize(Ctx &c, const Route **found);
  // The console's cookie (handlers/console.cpp): true with c.key set when the request carries a
  // live console session; false with `c` holding the 401 when it names none (unknown or expired);
  // nullopt when it carries no console cookie.
  std::optional<bool> cookie_authenticate(Ctx &c);
  // True when a mutating call made with a console cookie lacks its session's CSRF token (the
  // 403 is then in `c`).
  bool csrf_refused(Ctx &c);
  // GET/HEAD of the console's files at "/" (handlers/console.cpp); the early check refuses bodies.
  void serve_console(SoupServerMessage *msg, const char *path);
  void early_console(SoupServerMessage *msg, const char *path);
  void refuse_unread(Ctx &c, bool body_started = false);
  void audit_call(const Ctx &c, const std::string &action, const std::string &target,
                  const std::string &outcome, const std::string &reason,
                  const json &detail = json::object()) {
    AuditEntry a;
    a.actor = c.actor;
    a.action = action;
    a.target = target;
    a.outcome = outcome;
    a.reason = reason;
    a.client_ip_hash = deps.store->hash_ip(c.client_ip);
    a.detail_json = detail.dump();
    deps.store->audit(a);
  }
  // The base of every URL handed out. Only configuration decides it: the request's Host header
  // is the client's word, and would let anyone who can reach the port put their own host into
  // playlists, their url-tvg and playback_url (cache poisoning, phishing links in M3U files).
  std::string base_url(const Ctx &) const {
    if (!config.public_url.empty()) {
      std::string b = config.public_url;
      while (ends_with(b, "/")) b.pop_back();
      return b;
    }
    return "http://127.0.0.1:" + std::to_string(deps.origin->port());
  }
  // Why sessions and playlist tokens cannot be issued ("" when they can): token mode none issues
  // only unrevocable URLs; securelink tokens name no session, so they could not be revoked.
  std::string tokens_unavailable() const {
    if (!deps.keys->empty()) return "";
    if (deps.origin && deps.origin->mode() == TokenMode::kSecureLink)
      return "sessions and playlist tokens need tokens.mode edgeauth: securelink tokens carry no "
             "session and cannot be revoked (an edge checks edgeauth tokens with "
             "docs/deploy/nginx-edge.conf; see docs/tokens.md)";
    return "playback tokens are off (tokens.mode is none): an untokenized URL cannot be revoked";
  }
  void count_session(const std::string &outcome) {
    std::lock_guard lk(counters_mu);
    counters.session_outcomes[outcome]++;
  }

  // ---- events to clients (server thread; handlers/events.cpp) ----
  void deliver(const std::vector<EventView> &events);
  void finish_waiter(std::list<Waiter>::iterator it, const std::vector<EventView> &events);
  void run_follower();
  void send_keepalive();

  // ---- handlers: one file per resource in handlers/ ----
  // metrics.cpp
  void h_healthz(Ctx &c);
  void h_readyz(Ctx &c);
  void h_metrics(Ctx &c);
  // channels.cpp
  void h_channels(Ctx &c);
  void h_channel(Ctx &c);
  void h_action(Ctx &c);
  void h_rendition(Ctx &c);
  // diagnosis.cpp
  void h_diagnosis(Ctx &c);
  void h_incident_post(Ctx &c);
  void h_incidents(Ctx &c);
  std::atomic<int> diagnosing{0};  // diagnoses running on their threads
  // events.cpp
  void h_events(Ctx &c);
  void h_events_stream(Ctx &c);
  // sessions.cpp
  void h_session_open(Ctx &c);
  void h_session_get(Ctx &c);
  void h_session_delete(Ctx &c);
  void h_subject_sessions(Ctx &c);
  void h_subject_revoke(Ctx &c);
  void h_playlist_token(Ctx &c);
  // entitlements.cpp
  void h_ent_list(Ctx &c);
  void h_ent_get(Ctx &c);
  void h_ent_put(Ctx &c, bool create);
  void h_ent_delete(Ctx &c);
  // keys.cpp
  void h_keys_list(Ctx &c);
  void h_key_create(Ctx &c);
  void h_key_delete(Ctx &c);
  // audit.cpp
  void h_audit(Ctx &c);
  // playlists.cpp (M3U and XMLTV)
  void h_playlist(Ctx &c);
  void h_epg(Ctx &c);
  // console.cpp (the operator console's login, overview, preview; thumbnails and logos)
  void h_console_login(Ctx &c);
  void h_console_session(Ctx &c);
  void h_console_logout(Ctx &c);
  void h_console_overview(Ctx &c);
  void h_preview(Ctx &c);
  void h_thumbnail(Ctx &c);
  void h_logo(Ctx &c);
};

}  // namespace iptv::control
