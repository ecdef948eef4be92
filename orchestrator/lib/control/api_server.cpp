#include "control/api_server.h"

#include <fcntl.h>
#include <glib.h>
#include <libsoup/soup.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <list>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "control/json_views.h"
#include "control/m3u.h"
#include "control/metrics.h"
#include "control/secrets.h"
#include "control/xmltv.h"
#include "util/strutil.h"

namespace iptv::control {

using nlohmann::json;

const char *to_string(Action a) {
  switch (a) {
    case Action::kFailover:
      return "failover";
    case Action::kReturn:
      return "return";
    case Action::kRestart:
      return "restart";
    case Action::kPurge:
      return "purge";
    case Action::kRenditionDisable:
      return "rendition.disable";
    case Action::kRenditionEnable:
      return "rendition.enable";
  }
  return "unknown";
}

namespace {

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
  std::string route;
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

std::string header(SoupServerMessage *msg, const char *name) {
  const char *v = soup_message_headers_get_one(soup_server_message_get_request_headers(msg), name);
  return v ? v : "";
}

void set_body(Ctx &c, int status, const std::string &content_type, const std::string &body) {
  soup_server_message_set_status(c.msg, status, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(c.msg);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  soup_server_message_set_response(c.msg, content_type.c_str(), SOUP_MEMORY_COPY, body.data(),
                                   body.size());
  c.status = status;
}

void reply(Ctx &c, int status, const json &j) {
  set_body(c, status, "application/json", j.dump() + "\n");
}

void error(Ctx &c, int status, const std::string &code, const std::string &message) {
  c.error_code = code;
  reply(c, status, {{"error", code}, {"message", message}});
}

std::optional<int64_t> query_int(const Ctx &c, const std::string &k) {
  auto it = c.query.find(k);
  if (it == c.query.end() || it->second.empty()) return std::nullopt;
  char *end = nullptr;
  long long v = g_ascii_strtoll(it->second.c_str(), &end, 10);
  if (!end || *end) return std::nullopt;
  return v;
}

std::string query_str(const Ctx &c, const std::string &k) {
  auto it = c.query.find(k);
  return it == c.query.end() ? std::string() : it->second;
}

}  // namespace

// Strict JSON (RFC 8259 as nlohmann parses it) that also refuses a key given twice in one object:
// with "last one wins", {"role":"read",...,"role":"admin"} would mean what a reviewer or a
// filtering proxy reading the first key did not see.
json parse_strict_json(const std::string &text, std::string *error) {
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::string dup;
  auto cb = [&](int, json::parse_event_t ev, json &parsed) {
    switch (ev) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second && dup.empty())
          dup = parsed.get<std::string>();
        break;
      default:
        break;
    }
    return true;
  };
  json out = json::parse(text, cb, false);
  if (out.is_discarded()) {
    if (error) *error = "not valid JSON";
    return json(json::value_t::discarded);
  }
  if (!dup.empty()) {
    if (error) *error = "duplicate key '" + dup + "'";
    return json(json::value_t::discarded);
  }
  return out;
}

bool valid_tier(std::string_view t) {
  if (t.size() > 64) return false;
  for (char ch : t) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == ' ' || ch == '.' || ch == '_' || ch == '-' || ch == '+';
    if (!ok) return false;
  }
  return t.empty() || (t.front() != ' ' && t.back() != ' ');
}

namespace {

bool parse_body(Ctx &c, json &out) {
  std::string why;
  out = parse_strict_json(c.body.empty() ? std::string("{}") : c.body, &why);
  if (out.is_discarded()) {
    error(c, 400, "invalid_request", "the body must be a JSON object: " + why);
    return false;
  }
  if (!out.is_object()) {
    error(c, 400, "invalid_request", "the body must be a JSON object");
    return false;
  }
  return true;
}

bool get_string(Ctx &c, const json &j, const char *k, std::string &out, bool required) {
  if (!j.contains(k) || j[k].is_null()) {
    if (required) {
      error(c, 400, "invalid_request", std::string("'") + k + "' is required");
      return false;
    }
    return true;
  }
  if (!j[k].is_string()) {
    error(c, 400, "invalid_request", std::string("'") + k + "' must be a string");
    return false;
  }
  out = j[k].get<std::string>();
  return true;
}

bool get_string_list(Ctx &c, const json &j, const char *k, std::vector<std::string> &out) {
  if (!j.contains(k) || j[k].is_null()) return true;
  if (!j[k].is_array()) {
    error(c, 400, "invalid_request", std::string("'") + k + "' must be a list of names");
    return false;
  }
  for (const auto &e : j[k]) {
    if (!e.is_string() || !valid_name(e.get<std::string>())) {
      error(c, 400, "invalid_request", std::string("'") + k + "' must be a list of names");
      return false;
    }
    out.push_back(e.get<std::string>());
  }
  return true;
}

int action_status(ActionResult::Code code) {
  switch (code) {
    case ActionResult::Code::kAccepted:
      return 202;
    case ActionResult::Code::kNotFound:
      return 404;
    case ActionResult::Code::kConflict:
      return 409;
    case ActionResult::Code::kUnavailable:
      return 503;
  }
  return 500;
}
const char *action_code(ActionResult::Code code) {
  switch (code) {
    case ActionResult::Code::kAccepted:
      return "accepted";
    case ActionResult::Code::kNotFound:
      return "not_found";
    case ActionResult::Code::kConflict:
      return "conflict";
    case ActionResult::Code::kUnavailable:
      return "unavailable";
  }
  return "error";
}

bool event_matches(const EventView &e, const std::string &channel, const std::string &type) {
  if (!channel.empty() && e.channel_id != channel) return false;
  if (type.empty()) return true;
  if (type.back() == '*') return starts_with(e.event_type, type.substr(0, type.size() - 1));
  return e.event_type == type;
}

std::string sse_frame(const EventView &e) {
  return "id: " + std::to_string(e.id) + "\nevent: " + e.event_type +
         "\ndata: " + to_json(e).dump() + "\n\n";
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct ApiServer::Impl : std::enable_shared_from_this<ApiServer::Impl> {
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
  const Route *match(const std::string &method, const std::string &path,
                     std::map<std::string, std::string> &params, const Route **path_route,
                     std::string *allowed) const;
  bool route_and_authorize(Ctx &c, const Route **found);
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

  // ---- events to clients (server thread) ----
  void deliver(const std::vector<EventView> &events);
  void finish_waiter(std::list<Waiter>::iterator it, const std::vector<EventView> &events);
  void run_follower();
  void send_keepalive();

  // ---- handlers ----
  void h_healthz(Ctx &c);
  void h_readyz(Ctx &c);
  void h_metrics(Ctx &c);
  void h_channels(Ctx &c);
  void h_channel(Ctx &c);
  void h_action(Ctx &c);
  void h_rendition(Ctx &c);
  void h_events(Ctx &c);
  void h_events_stream(Ctx &c);
  void h_session_open(Ctx &c);
  void h_session_get(Ctx &c);
  void h_session_delete(Ctx &c);
  void h_subject_sessions(Ctx &c);
  void h_subject_revoke(Ctx &c);
  void h_playlist_token(Ctx &c);
  void h_ent_list(Ctx &c);
  void h_ent_get(Ctx &c);
  void h_ent_put(Ctx &c, bool create);
  void h_ent_delete(Ctx &c);
  void h_keys_list(Ctx &c);
  void h_key_create(Ctx &c);
  void h_key_delete(Ctx &c);
  void h_audit(Ctx &c);
  void h_playlist(Ctx &c);
  void h_epg(Ctx &c);
};

void ApiServer::Impl::build_routes() {
  using R = Role;
  auto m = [](void (Impl::*fn)(Ctx &)) { return [fn](Impl &i, Ctx &c) { (i.*fn)(c); }; };
  add("GET", "/healthz", std::nullopt, "", m(&Impl::h_healthz));
  add("GET", "/readyz", std::nullopt, "", m(&Impl::h_readyz));
  add("GET", "/metrics", config.metrics_public ? std::nullopt : std::optional<Role>(R::kRead), "",
      m(&Impl::h_metrics));
  add("GET", "/api/v1/channels", R::kRead, "", m(&Impl::h_channels));
  add("GET", "/api/v1/channels/{id}", R::kRead, "", m(&Impl::h_channel));
  add("POST", "/api/v1/channels/{id}/actions/{action}", R::kOperator, "channel.action",
      m(&Impl::h_action));
  add("PUT", "/api/v1/channels/{id}/renditions/{name}", R::kOperator, "channel.rendition",
      m(&Impl::h_rendition));
  add("GET", "/api/v1/events", R::kRead, "", m(&Impl::h_events));
  add("GET", "/api/v1/events/stream", R::kRead, "", m(&Impl::h_events_stream));
  add("POST", "/api/v1/sessions", R::kOperator, "", m(&Impl::h_session_open));  // audits itself
  add("GET", "/api/v1/sessions/{id}", R::kRead, "", m(&Impl::h_session_get));
  add("DELETE", "/api/v1/sessions/{id}", R::kOperator, "", m(&Impl::h_session_delete));
  add("GET", "/api/v1/subjects/{subject}/sessions", R::kRead, "", m(&Impl::h_subject_sessions));
  add("DELETE", "/api/v1/subjects/{subject}/sessions", R::kOperator, "",
      m(&Impl::h_subject_revoke));
  add("POST", "/api/v1/subjects/{subject}/playlist-token", R::kOperator, "",
      m(&Impl::h_playlist_token));
  add("GET", "/api/v1/entitlements", R::kAdmin, "", m(&Impl::h_ent_list));
  add("POST", "/api/v1/entitlements", R::kAdmin, "entitlement.create",
      [](Impl &i, Ctx &c) { i.h_ent_put(c, true); });
  add("GET", "/api/v1/entitlements/{subject}", R::kAdmin, "", m(&Impl::h_ent_get));
  add("PUT", "/api/v1/entitlements/{subject}", R::kAdmin, "entitlement.put",
      [](Impl &i, Ctx &c) { i.h_ent_put(c, false); });
  add("DELETE", "/api/v1/entitlements/{subject}", R::kAdmin, "entitlement.delete",
      m(&Impl::h_ent_delete));
  add("GET", "/api/v1/keys", R::kAdmin, "", m(&Impl::h_keys_list));
  add("POST", "/api/v1/keys", R::kAdmin, "key.create", m(&Impl::h_key_create));
  add("DELETE", "/api/v1/keys/{id}", R::kAdmin, "key.revoke", m(&Impl::h_key_delete));
  add("GET", "/api/v1/audit", R::kAdmin, "", m(&Impl::h_audit));
  add("GET", "/iptv/playlist.m3u", std::nullopt, "", m(&Impl::h_playlist));
  add("GET", "/iptv/epg.xml", std::nullopt, "", m(&Impl::h_epg));
}

// Matches method+path against the routes: the route (or null), with the path's parameters;
// `path_route` is the first route of that path whatever its method, `allowed` its methods.
const Route *ApiServer::Impl::match(const std::string &method, const std::string &path,
                                    std::map<std::string, std::string> &params,
                                    const Route **path_route, std::string *allowed) const {
  // The handler's `path` is percent-decoded; a parameter may not hold '/'.
  auto segs = split(path, '/');
  const Route *found = nullptr;
  *path_route = nullptr;
  allowed->clear();
  auto allow = [&](const std::string &m) {
    for (const auto &have : split(*allowed, ','))
      if (trim(have) == m) return;
    *allowed += (allowed->empty() ? "" : ", ") + m;
  };
  for (const auto &r : routes) {
    if (r.segs.size() != segs.size()) continue;
    std::map<std::string, std::string> p;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      const auto &s = r.segs[i];
      if (s.size() > 2 && s.front() == '{' && s.back() == '}')
        p[s.substr(1, s.size() - 2)] = segs[i];
      else
        ok = s == segs[i];
    }
    if (!ok) continue;
    if (!*path_route) *path_route = &r;
    allow(r.method);
    if (r.method == "GET") allow("HEAD");
    if (!found && (r.method == method || (r.method == "GET" && method == "HEAD"))) {
      found = &r;
      params = std::move(p);
    }
  }
  return found;
}

// The first query parameter whose name says it carries a credential ("" when none): api_key,
// apikey, api-key, key, access_token, token, bearer, auth, authorization (any case).
static std::string credential_in_query(SoupServerMessage *msg) {
  GUri *uri = soup_server_message_get_uri(msg);
  const char *q = uri ? g_uri_get_query(uri) : nullptr;
  if (!q || !*q) return "";
  static const std::set<std::string> kNames = {"api_key", "apikey",       "api-key",
                                               "key",     "access_token", "token",
                                               "bearer",  "auth",         "authorization"};
  for (const auto &pair : split(q, '&')) {
    std::string name = pair.substr(0, pair.find('='));
    char *dec = g_uri_unescape_string(name.c_str(), nullptr);
    std::string n = dec ? dec : name;
    g_free(dec);
    std::string lower = n;
    for (auto &ch : lower) ch = static_cast<char>(g_ascii_tolower(ch));
    if (kNames.count(lower)) return lower;
  }
  return "";
}

// Routing and authentication, shared by the early check (headers only, before any body is
// read) and dispatch. False when `c` holds the refusal (404, 405, 400, 401 or 403).
bool ApiServer::Impl::route_and_authorize(Ctx &c, const Route **out) {
  const Route *path_route = nullptr;
  std::string allowed;
  const Route *found = match(c.method, c.path, c.params, &path_route, &allowed);
  *out = found;
  if (!found) {
    // The metrics label is the route template (or "other"), never the path the client sent.
    c.route = path_route ? path_route->pattern : "other";
    g_object_set_data_full(G_OBJECT(c.msg), "iptv-route", g_strdup(c.route.c_str()), g_free);
    if (path_route) {
      soup_message_headers_replace(soup_server_message_get_response_headers(c.msg), "Allow",
                                   allowed.c_str());
      error(c, 405, "method_not_allowed", "this route allows " + allowed);
    } else {
      error(c, 404, "not_found", "no such route");
    }
    return false;
  }
  c.route = found->pattern;
  g_object_set_data_full(G_OBJECT(c.msg), "iptv-route", g_strdup(c.route.c_str()), g_free);
  for (const auto &[k, v] : c.params) {
    if (!valid_name(v) && k != "action") {
      error(c, 400, "invalid_request", "'" + k + "' is not a valid name");
      return false;
    }
  }
  if (!found->role) return true;
  // API keys travel in the Authorization header only: a URL ends up in proxy and access logs,
  // browser history and Referer headers. A credential in the query string is refused outright
  // (even beside a valid header), so a client that sends one learns it at once.
  if (std::string name = credential_in_query(c.msg); !name.empty()) {
    {
      std::lock_guard lk(counters_mu);
      counters.api_auth_failures++;
    }
    audit_call(c, "auth.denied", c.method + " " + c.route, "denied", "key_in_query");
    soup_message_headers_replace(soup_server_message_get_response_headers(c.msg),
                                 "WWW-Authenticate", "Bearer realm=\"iptvd\"");
    error(c, 401, "unauthorized",
          "API keys are never accepted in the query string ('" + name +
              "'): send it as 'Authorization: Bearer KEY', and replace a key that was sent in a "
              "URL, since URLs are logged");
    return false;
  }
  // Authenticated once per request: the early check leaves the key on the message.
  if (auto *known = static_cast<ApiKey *>(g_object_get_data(G_OBJECT(c.msg), "iptv-key"))) {
    c.key = *known;
  } else {
    std::string auth = header(c.msg, "Authorization");
    std::string reason;
    if (auth.empty()) {
      reason = "missing_key";
    } else if (!starts_with(auth, "Bearer ")) {
      reason = "invalid_key";
    } else {
      c.key = deps.store->authenticate(trim(auth.substr(7)));
      if (!c.key) reason = "invalid_key";
    }
    if (!reason.empty()) {
      {
        std::lock_guard lk(counters_mu);
        counters.api_auth_failures++;
      }
      audit_call(c, "auth.denied", c.method + " " + c.route, "denied", reason);
      SoupMessageHeaders *h = soup_server_message_get_response_headers(c.msg);
      soup_message_headers_replace(h, "WWW-Authenticate", "Bearer realm=\"iptvd\"");
      error(c, 401, "unauthorized",
            reason == "missing_key" ? "an API key is required (Authorization: Bearer ...)"
                                    : "the API key is not valid");
      return false;
    }
    g_object_set_data_full(G_OBJECT(c.msg), "iptv-key", new ApiKey(*c.key),
                           [](gpointer p) { delete static_cast<ApiKey *>(p); });
  }
  c.actor = "key:" + c.key->id;
  if (static_cast<int>(c.key->role) < static_cast<int>(*found->role)) {
    {
      std::lock_guard lk(counters_mu);
      counters.api_auth_failures++;
    }
    audit_call(c, "auth.denied", c.method + " " + c.route, "denied", "role",
               {{"role", to_string(c.key->role)}, {"needs", to_string(*found->role)}});
    error(c, 403, "forbidden",
          std::string("this route needs the '") + to_string(*found->role) + "' role");
    return false;
  }
  return true;
}

void ApiServer::Impl::fill_ctx(Ctx &c, SoupServerMessage *msg, const char *path) {
  c.msg = msg;
  c.method = soup_server_message_get_method(msg);
  c.path = path ? path : "";
  const char *host = soup_server_message_get_remote_host(msg);
  c.client_ip = host ? host : "";
}

// ---- request bodies: decided on the headers, before they are read -----------------------------
//
// libsoup reads a request's whole body into memory before calling a handler. So the early
// handler (run when the headers are in) routes and authenticates requests that carry a body, and
// refuses, with the body still unread: an unknown route (404), a wrong method (405), a missing or
// bad key (401), a too-small role (403) and a declared Content-Length over max_body_bytes (413).
// A chunked body is counted as it arrives and refused with 413 once past the cap.
//
// Refusing without reading: with "Expect: 100-continue" libsoup answers at once and the client
// never sends the body. Otherwise the request is paused and its connection taken from libsoup;
// the answer is written on it, its sending side shut, and what the client still sends is
// discarded for up to 2 s (so the client reads the answer instead of a reset), then it is closed.

namespace {

struct LingeringClose {
  GIOStream *stream = nullptr;
  GSocket *sock = nullptr;
  std::string out;
  size_t off = 0;
  GSource *io = nullptr, *timer = nullptr;
};

void lingering_finish(LingeringClose *l) {
  for (GSource **s : {&l->io, &l->timer})
    if (*s) {
      g_source_destroy(*s);
      g_source_unref(*s);
      *s = nullptr;
    }
  g_io_stream_close(l->stream, nullptr, nullptr);
  g_object_unref(l->stream);
  g_object_unref(l->sock);
  delete l;
}

gboolean lingering_io(GSocket *, GIOCondition, gpointer data);

void lingering_wait(LingeringClose *l, GIOCondition cond) {
  if (l->io) {
    g_source_destroy(l->io);
    g_source_unref(l->io);
  }
  l->io = g_socket_create_source(l->sock, cond, nullptr);
  g_source_set_callback(l->io, G_SOURCE_FUNC(lingering_io), l, nullptr);
  g_source_attach(l->io, g_main_context_get_thread_default());
}

gboolean lingering_io(GSocket *, GIOCondition, gpointer data) {
  auto *l = static_cast<LingeringClose *>(data);
  while (l->off < l->out.size()) {
    GError *err = nullptr;
    gssize n =
        g_socket_send(l->sock, l->out.data() + l->off, l->out.size() - l->off, nullptr, &err);
    if (n < 0) {
      bool again = g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_error_free(err);
      if (again) return G_SOURCE_CONTINUE;
      lingering_finish(l);
      return G_SOURCE_REMOVE;  // lingering_finish destroyed this source
    }
    l->off += static_cast<size_t>(n);
    if (l->off == l->out.size()) {
      g_socket_shutdown(l->sock, FALSE, TRUE, nullptr);
      lingering_wait(l, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR));
      return G_SOURCE_REMOVE;
    }
  }
  // Discard what the client still sends until it closes (or the timer ends it).
  char buf[65536];
  for (int i = 0; i < 64; ++i) {
    GError *err = nullptr;
    gssize n = g_socket_receive(l->sock, buf, sizeof buf, nullptr, &err);
    if (n > 0) continue;
    bool again = n < 0 && g_error_matches(err, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    if (err) g_error_free(err);
    if (again) return G_SOURCE_CONTINUE;
    lingering_finish(l);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

// The response set on `msg` (status, headers, body) as HTTP/1.1 bytes, with Connection: close.
std::string serialize_response(SoupServerMessage *msg) {
  guint status = soup_server_message_get_status(msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  SoupMessageBody *body = soup_server_message_get_response_body(msg);
  GBytes *b = soup_message_body_flatten(body);
  gsize len = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(b, &len));
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + soup_status_get_phrase(status) + "\r\n";
  soup_message_headers_remove(h, "Connection");
  soup_message_headers_remove(h, "Content-Length");
  soup_message_headers_remove(h, "Transfer-Encoding");
  soup_message_headers_foreach(
      h,
      [](const char *name, const char *value, gpointer d) {
        *static_cast<std::string *>(d) += std::string(name) + ": " + value + "\r\n";
      },
      &out);
  out += "Content-Length: " + std::to_string(len) + "\r\nConnection: close\r\n\r\n";
  if (soup_server_message_get_method(msg) != SOUP_METHOD_HEAD) out.append(data, len);
  g_bytes_unref(b);
  return out;
}

}  // namespace

void ApiServer::Impl::refuse_unread(Ctx &c, bool body_started) {
  SoupServerMessage *msg = c.msg;
  SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
  g_object_set_data(G_OBJECT(msg), "iptv-refused", GINT_TO_POINTER(1));
  if (!body_started && (soup_message_headers_get_expectations(req) & SOUP_EXPECTATION_CONTINUE)) {
    // libsoup answers now instead of 100 Continue; the client does not send the body.
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
    return;
  }
  // A taken connection never reaches request-finished: count the request here.
  auto *t = static_cast<gint64 *>(g_object_get_data(G_OBJECT(msg), "iptv-start"));
  http.record(c.route.empty() ? "other" : c.route, c.method, c.status,
              t ? (g_get_monotonic_time() - *t) / 1e6 : 0);
  soup_server_message_pause(msg);
  struct Steal {
    SoupServerMessage *msg;
  };
  auto *st = new Steal{static_cast<SoupServerMessage *>(g_object_ref(msg))};
  GSource *idle = g_idle_source_new();
  g_source_set_priority(idle, G_PRIORITY_DEFAULT);
  g_source_set_callback(
      idle,
      [](gpointer data) -> gboolean {
        auto *st = static_cast<Steal *>(data);
        GSocket *sock = soup_server_message_get_socket(st->msg);
        // No connection to take (libsoup already read the whole body, e.g. a small one that came
        // with the headers): let libsoup send the refusal the ordinary way, else it never goes.
        if (!sock) soup_server_message_unpause(st->msg);
        if (sock) {  // still connected (the server may have stopped meanwhile)
          std::string out = serialize_response(st->msg);
          g_object_ref(sock);
          GIOStream *stream = soup_server_message_steal_connection(st->msg);
          if (!stream) {
            g_object_unref(sock);
            soup_server_message_unpause(st->msg);
          } else {
            auto *l = new LingeringClose{stream, sock, std::move(out)};
            l->timer = g_timeout_source_new(2000);
            g_source_set_callback(
                l->timer,
                [](gpointer d) -> gboolean {
                  auto *l = static_cast<LingeringClose *>(d);
                  g_source_unref(l->timer);  // this source is finishing: only our reference
                  l->timer = nullptr;
                  lingering_finish(l);
                  return G_SOURCE_REMOVE;
                },
                l, nullptr);
            g_source_attach(l->timer, g_main_context_get_thread_default());
            lingering_wait(l, G_IO_OUT);
          }
        }
        g_object_unref(st->msg);
        delete st;
        return G_SOURCE_REMOVE;
      },
      st, nullptr);
  g_source_attach(idle, context);
  g_source_unref(idle);
}

void ApiServer::Impl::early(SoupServerMessage *msg, const char *path) {
  SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
  SoupEncoding enc = soup_message_headers_get_encoding(req);
  goffset len =
      enc == SOUP_ENCODING_CONTENT_LENGTH ? soup_message_headers_get_content_length(req) : 0;
  bool chunked = enc == SOUP_ENCODING_CHUNKED;
  if (!chunked && len <= 0) return;  // no body: dispatch decides as before
  Ctx c;
  fill_ctx(c, msg, path);
  const Route *found = nullptr;
  if (!route_and_authorize(c, &found)) return refuse_unread(c);
  int64_t cap = std::max<int64_t>(1, config.max_body_bytes);
  if (len > cap) {
    error(c, 413, "payload_too_large",
          "the body is " + std::to_string(len) + " bytes; the API reads at most " +
              std::to_string(cap));
    return refuse_unread(c);
  }
  if (!chunked) return;
  // A chunked body declares no size: count it as it comes.
  g_signal_connect_data(
      msg, "got-chunk", G_CALLBACK(+[](SoupServerMessage *m, GBytes *chunk, gpointer data) {
        auto *self = static_cast<Impl *>(data);
        if (g_object_get_data(G_OBJECT(m), "iptv-refused")) return;
        auto got = reinterpret_cast<gintptr>(g_object_get_data(G_OBJECT(m), "iptv-body-bytes"));
        got += static_cast<gintptr>(g_bytes_get_size(chunk));
        g_object_set_data(G_OBJECT(m), "iptv-body-bytes", reinterpret_cast<gpointer>(got));
        int64_t cap = std::max<int64_t>(1, self->config.max_body_bytes);
        if (got <= cap) return;
        Ctx c;
        c.msg = m;
        c.method = soup_server_message_get_method(m);
        const char *route = static_cast<const char *>(g_object_get_data(G_OBJECT(m), "iptv-route"));
        c.route = route ? route : "other";
        error(c, 413, "payload_too_large",
              "the chunked body passed " + std::to_string(cap) + " bytes, the API's limit");
        self->refuse_unread(c, true);
      }),
      this, nullptr, G_CONNECT_DEFAULT);
}

void ApiServer::Impl::dispatch(SoupServerMessage *msg, const char *path) {
  Ctx c;
  fill_ctx(c, msg, path);
  GUri *uri = soup_server_message_get_uri(msg);
  if (const char *q = uri ? g_uri_get_query(uri) : nullptr) {
    GHashTable *t = g_uri_parse_params(q, -1, "&", G_URI_PARAMS_NONE, nullptr);
    if (t) {
      GHashTableIter it;
      gpointer k, v;
      g_hash_table_iter_init(&it, t);
      while (g_hash_table_iter_next(&it, &k, &v))
        c.query[static_cast<char *>(k)] = static_cast<char *>(v);
      g_hash_table_unref(t);
    }
  }
  SoupMessageBody *rb = soup_server_message_get_request_body(msg);
  if (rb && rb->length) c.body.assign(rb->data, static_cast<size_t>(rb->length));
  const Route *found = nullptr;
  if (!route_and_authorize(c, &found)) return;
  if (static_cast<int64_t>(c.body.size()) > std::max<int64_t>(1, config.max_body_bytes))
    return error(c, 413, "payload_too_large", "the body is over the API's limit");

  try {
    found->handler(*this, c);
  } catch (const std::exception &e) {
    g_warning("api: %s %s failed: %s", c.method.c_str(), c.route.c_str(), e.what());
    error(c, 500, "internal", "internal error");
  }
  if (!found->audit_action.empty()) {
    std::string target;
    for (const char *k : {"id", "subject", "name"})
      if (c.params.count(k)) {
        target = c.params[k];
        break;
      }
    json detail = json::object();
    for (const auto &[k, v] : c.params) detail[k] = v;
    detail["status"] = c.status;
    audit_call(c, found->audit_action, target, c.status < 400 ? "ok" : "error", c.error_code,
               detail);
  }
}

// ---- health, readiness, metrics ---------------------------------------------------------------

void ApiServer::Impl::h_healthz(Ctx &c) {
  // The process: this thread answers, and the database answers.
  try {
    deps.store->active_key_count();
  } catch (const std::exception &) {
    return error(c, 503, "database", "the database does not answer");
  }
  reply(c, 200, {{"status", "ok"}, {"uptime_seconds", (now_ms() - started_ms) / 1000.0}});
}

void ApiServer::Impl::h_readyz(Ctx &c) {
  auto list = deps.channels->list();
  json not_ready = json::array();
  std::map<std::string, int> states;
  for (const auto &ch : list) {
    states[ch.state]++;
    if (ch.state == "disabled" || ch.state == "retired") continue;
    // Serving: live, degraded, failover and slate all keep playlists advancing.
    if (ch.state != "live" && ch.state != "degraded" && ch.state != "failover" &&
        ch.state != "slate")
      not_ready.push_back({{"id", ch.id}, {"state", ch.state}, {"reason", ch.reason}});
  }
  json body = {{"ready", not_ready.empty()}, {"states", states}, {"not_ready", not_ready}};
  reply(c, not_ready.empty() ? 200 : 503, body);
}

void ApiServer::Impl::h_metrics(Ctx &c) {
  ControlCounters cc;
  {
    std::lock_guard lk(counters_mu);
    cc = counters;
  }
  cc.sse_clients = sse.size();
  std::string text = render_prometheus(deps.metrics->metrics(), deps.origin->stats(),
                                       http.snapshot(), cc, (now_ms() - started_ms) / 1000.0);
  set_body(c, 200, "text/plain; version=0.0.4; charset=utf-8", text);
}

// ---- channels ----------------------------------------------------------------------------------

void ApiServer::Impl::h_channels(Ctx &c) {
  json arr = json::array();
  std::string state = query_str(c, "state");
  for (const auto &ch : deps.channels->list())
    if (state.empty() || ch.state == state) arr.push_back(to_json(ch));
  reply(c, 200, {{"channels", arr}});
}

void ApiServer::Impl::h_channel(Ctx &c) {
  auto d = deps.channels->get(c.params["id"]);
  if (!d) return error(c, 404, "not_found", "no channel '" + c.params["id"] + "'");
  reply(c, 200, to_json(*d));
}

void ApiServer::Impl::h_action(Ctx &c) {
  static const std::map<std::string, Action> kActions = {{"failover", Action::kFailover},
                                                         {"return", Action::kReturn},
                                                         {"restart", Action::kRestart},
                                                         {"purge", Action::kPurge}};
  auto it = kActions.find(c.params["action"]);
  if (it == kActions.end())
    return error(c, 404, "not_found", "actions are failover, return, restart and purge");
  ActionArgs args;
  args.actor = c.actor;
  ActionResult r = deps.channels->act(c.params["id"], it->second, args);
  int status = action_status(r.code);
  if (status == 409 && !r.reason.empty()) {
    c.error_code = "refused";
    return reply(c, 409, {{"error", "refused"}, {"reason", r.reason}, {"message", r.message}});
  }
  if (status >= 400) return error(c, status, action_code(r.code), r.message);
  reply(c, status,
        {{"channel_id", c.params["id"]},
         {"action", it->first},
         {"accepted", true},
         {"message", r.message}});
}

void ApiServer::Impl::h_rendition(Ctx &c) {
  json j;
  if (!parse_body(c, j)) return;
  if (!j.contains("enabled") || !j["enabled"].is_boolean())
    return error(c, 400, "invalid_request", "'enabled' (true or false) is required");
  bool enabled = j["enabled"].get<bool>();
  ActionArgs args;
  args.actor = c.actor;
  args.rendition = c.params["name"];
  ActionResult r = deps.channels->act(
      c.params["id"], enabled ? Action::kRenditionEnable : Action::kRenditionDisable, args);
  int status = action_status(r.code);
  if (status >= 400) return error(c, status, action_code(r.code), r.message);
  reply(c, status,
        {{"channel_id", c.params["id"]},
         {"rendition", c.params["name"]},
         {"enabled", enabled},
         {"accepted", true},
         {"message", r.message}});
}

// ---- events ------------------------------------------------------------------------------------

void ApiServer::Impl::h_events(Ctx &c) {
  EventFilter f;
  f.channel_id = query_str(c, "channel");
  f.event_type = query_str(c, "type");
  f.after_id = query_int(c, "after");
  f.before_id = query_int(c, "before");
  if (auto l = query_int(c, "limit")) f.limit = static_cast<int>(std::clamp<int64_t>(*l, 1, 1000));
  if ((c.query.count("after") && !f.after_id) || (c.query.count("before") && !f.before_id) ||
      (c.query.count("limit") && !query_int(c, "limit")))
    return error(c, 400, "invalid_request", "after, before and limit are integers");
  int64_t wait = query_int(c, "wait").value_or(0);
  EventPage p = deps.events->page(f);
  if (p.events.empty() && wait > 0 && f.after_id) {
    // Long poll: answered by the follower's next matching events or by the timeout.
    Waiter w;
    w.msg = c.msg;
    w.channel = f.channel_id;
    w.type = f.event_type;
    w.after = *f.after_id;
    w.limit = f.limit;
    waiters.push_back(w);
    auto it = std::prev(waiters.end());
    soup_server_message_pause(c.msg);
    int secs = static_cast<int>(std::clamp<int64_t>(wait, 1, config.long_poll_max_seconds));
    struct TimeoutData {
      std::weak_ptr<Impl> self;
      SoupServerMessage *msg;
    };
    auto *td = new TimeoutData{weak_from_this(), c.msg};
    it->timeout = g_timeout_source_new_seconds(static_cast<guint>(secs));
    g_source_set_callback(
        it->timeout,
        [](gpointer data) -> gboolean {
          auto *t = static_cast<TimeoutData *>(data);
          if (auto self = t->self.lock()) {
            for (auto w = self->waiters.begin(); w != self->waiters.end(); ++w)
              if (w->msg == t->msg) {
                // This source is finishing (G_SOURCE_REMOVE): only our reference goes.
                GSource *own = w->timeout;
                w->timeout = nullptr;
                self->finish_waiter(w, {});
                g_source_unref(own);
                break;
              }
          }
          return G_SOURCE_REMOVE;
        },
        td, [](gpointer data) { delete static_cast<TimeoutData *>(data); });
    g_source_attach(it->timeout, context);
    it->finished_id = g_signal_connect_data(
        c.msg, "finished", G_CALLBACK(+[](SoupServerMessage *msg, gpointer data) {
          auto *self = static_cast<Impl *>(data);
          for (auto w = self->waiters.begin(); w != self->waiters.end(); ++w)
            if (w->msg == msg) {
              if (w->timeout) {
                g_source_destroy(w->timeout);
                g_source_unref(w->timeout);
              }
              self->waiters.erase(w);
              break;
            }
        }),
        this, nullptr, G_CONNECT_DEFAULT);
    c.status = 200;
    return;
  }
  json arr = json::array();
  for (const auto &e : p.events) arr.push_back(to_json(e));
  json body = {{"events", arr}, {"more", p.more}};
  if (!p.events.empty()) {
    int64_t lo = p.events.front().id, hi = p.events.back().id;
    if (lo > hi) std::swap(lo, hi);
    body["first_id"] = lo;
    body["last_id"] = hi;
  }
  reply(c, 200, body);
}

void ApiServer::Impl::finish_waiter(std::list<Waiter>::iterator it,
                                    const std::vector<EventView> &events) {
  Waiter w = *it;
  waiters.erase(it);
  if (w.timeout) {
    g_source_destroy(w.timeout);
    g_source_unref(w.timeout);
  }
  if (w.finished_id) g_signal_handler_disconnect(w.msg, w.finished_id);
  json arr = json::array();
  int n = 0;
  for (const auto &e : events)
    if (e.id > w.after && event_matches(e, w.channel, w.type) && n++ < w.limit)
      arr.push_back(to_json(e));
  json body = {{"events", arr}, {"more", false}};
  if (!arr.empty()) {
    body["first_id"] = arr.front()["id"];
    body["last_id"] = arr.back()["id"];
  }
  std::string text = body.dump() + "\n";
  soup_server_message_set_status(w.msg, 200, nullptr);
  soup_message_headers_replace(soup_server_message_get_response_headers(w.msg), "Cache-Control",
                               "no-store");
  soup_server_message_set_response(w.msg, "application/json", SOUP_MEMORY_COPY, text.data(),
                                   text.size());
  soup_server_message_unpause(w.msg);
}

void ApiServer::Impl::h_events_stream(Ctx &c) {
  SseClient cl;
  cl.msg = c.msg;
  cl.channel = query_str(c, "channel");
  cl.type = query_str(c, "type");
  std::string last = header(c.msg, "Last-Event-ID");
  std::optional<int64_t> after = query_int(c, "after");
  if (!last.empty()) after = g_ascii_strtoll(last.c_str(), nullptr, 10);
  cl.last_id = after.value_or(deps.events->last_id());
  soup_server_message_set_status(c.msg, 200, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(c.msg);
  soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type(h, "text/event-stream", nullptr);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  soup_message_headers_replace(h, "X-Accel-Buffering", "no");
  SoupMessageBody *body = soup_server_message_get_response_body(c.msg);
  soup_message_body_set_accumulate(body, FALSE);
  c.status = 200;
  if (c.method == "HEAD") return;
  // Replay what the client missed (Last-Event-ID / after), then follow.
  std::string first =
      "retry: 2000\n: following events after " + std::to_string(cl.last_id) + "\n\n";
  if (after) {
    EventFilter f;
    f.channel_id = cl.channel;
    f.event_type = cl.type;
    f.after_id = *after;
    f.limit = 1000;
    for (const auto &e : deps.events->page(f).events) {
      first += sse_frame(e);
      cl.last_id = std::max(cl.last_id, e.id);
    }
  }
  soup_message_body_append(body, SOUP_MEMORY_COPY, first.data(), first.size());
  cl.finished_id = g_signal_connect_data(
      c.msg, "finished", G_CALLBACK(+[](SoupServerMessage *msg, gpointer data) {
        auto *self = static_cast<Impl *>(data);
        self->sse.remove_if([msg](const SseClient &s) { return s.msg == msg; });
      }),
      this, nullptr, G_CONNECT_DEFAULT);
  sse.push_back(cl);
}

void ApiServer::Impl::deliver(const std::vector<EventView> &events) {
  for (auto &cl : sse) {
    std::string out;
    for (const auto &e : events)
      if (e.id > cl.last_id && event_matches(e, cl.channel, cl.type)) {
        out += sse_frame(e);
        cl.last_id = e.id;
      }
    if (out.empty()) continue;
    soup_message_body_append(soup_server_message_get_response_body(cl.msg), SOUP_MEMORY_COPY,
                             out.data(), out.size());
    soup_server_message_unpause(cl.msg);
  }
  for (auto it = waiters.begin(); it != waiters.end();) {
    auto next = std::next(it);
    bool any = std::any_of(events.begin(), events.end(), [&](const EventView &e) {
      return e.id > it->after && event_matches(e, it->channel, it->type);
    });
    if (any) finish_waiter(it, events);
    it = next;
  }
}

void ApiServer::Impl::send_keepalive() {
  static const char kPing[] = ": keepalive\n\n";
  for (auto &cl : sse) {
    soup_message_body_append(soup_server_message_get_response_body(cl.msg), SOUP_MEMORY_STATIC,
                             kPing, sizeof kPing - 1);
    soup_server_message_unpause(cl.msg);
  }
}

void ApiServer::Impl::run_follower() {
  int64_t last = 0;
  try {
    last = deps.events->last_id();
  } catch (const std::exception &e) {
    g_warning("api: events unavailable: %s", e.what());
  }
  int64_t next_prune = 0;
  while (!stopping.load()) {
    std::vector<EventView> evs;
    try {
      evs = deps.events->wait_after(last, std::chrono::milliseconds(500));
    } catch (const std::exception &e) {
      g_warning("api: waiting for events failed: %s", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!evs.empty() && !stopping.load()) {
      last = std::max(last, evs.back().id);
      struct Post {
        std::weak_ptr<Impl> self;
        std::vector<EventView> events;
      };
      auto *p = new Post{weak_from_this(), std::move(evs)};
      g_main_context_invoke_full(
          context, G_PRIORITY_DEFAULT,
          [](gpointer data) -> gboolean {
            auto *post = static_cast<Post *>(data);
            if (auto self = post->self.lock())
              if (self->mounted.load()) self->deliver(post->events);
            return G_SOURCE_REMOVE;
          },
          p, [](gpointer data) { delete static_cast<Post *>(data); });
    }
    int64_t now = now_unix();
    if (now >= next_prune) {
      next_prune = now + 3600;
      try {
        int64_t keep_ms = static_cast<int64_t>(config.audit_retention_days) * 86400 * 1000;
        int a = deps.store->prune_audit(now_ms() - keep_ms);
        // Expired sessions are kept a day for support questions, then dropped.
        int s = deps.store->prune_sessions(now - 86400);
        if (a || s) g_message("api: pruned %d audit rows and %d expired sessions", a, s);
      } catch (const std::exception &e) {
        g_warning("api: prune failed: %s", e.what());
      }
    }
  }
}

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

// ---- entitlements ------------------------------------------------------------------------------

void ApiServer::Impl::h_ent_list(Ctx &c) {
  int limit = static_cast<int>(std::clamp<int64_t>(query_int(c, "limit").value_or(100), 1, 1000));
  auto list = deps.store->entitlements(limit + 1, query_str(c, "after"));
  bool more = static_cast<int>(list.size()) > limit;
  if (more) list.pop_back();
  json arr = json::array();
  for (const auto &e : list) arr.push_back(to_json(e));
  reply(c, 200, {{"entitlements", arr}, {"more", more}});
}

void ApiServer::Impl::h_ent_get(Ctx &c) {
  auto e = deps.store->entitlement(c.params["subject"]);
  if (!e) return error(c, 404, "not_found", "no entitlement for this subject");
  reply(c, 200, to_json(*e));
}

void ApiServer::Impl::h_ent_put(Ctx &c, bool create) {
  json j;
  if (!parse_body(c, j)) return;
  Entitlement e;
  if (create) {
    if (!get_string(c, j, "subject", e.subject, true)) return;
    if (!valid_name(e.subject)) return error(c, 400, "invalid_request", "'subject' is not a name");
    c.params["subject"] = e.subject;
    if (deps.store->entitlement(e.subject))
      return error(c, 409, "conflict", "the subject has an entitlement; use PUT to replace it");
  } else {
    e.subject = c.params["subject"];
    std::string body_subject;
    if (!get_string(c, j, "subject", body_subject, false)) return;
    if (!body_subject.empty() && body_subject != e.subject)
      return error(c, 400, "invalid_request", "'subject' differs from the path");
  }
  if (!get_string_list(c, j, "channels", e.channels) ||
      !get_string_list(c, j, "groups", e.groups) || !get_string(c, j, "tier", e.tier, false) ||
      !get_string(c, j, "region", e.region, false))
    return;
  if (!e.region.empty() && !valid_name(e.region))
    return error(c, 400, "invalid_request", "'region' is not a name");
  if (!valid_tier(e.tier))
    return error(c, 400, "invalid_request",
                 "'tier' is up to 64 letters, digits, spaces and . _ - + (no control characters)");
  if (j.contains("expires_at") && !j["expires_at"].is_null()) {
    if (!j["expires_at"].is_string())
      return error(c, 400, "invalid_request", "'expires_at' must be ISO 8601");
    GTimeZone *utc = g_time_zone_new_utc();
    GDateTime *dt = g_date_time_new_from_iso8601(j["expires_at"].get<std::string>().c_str(), utc);
    g_time_zone_unref(utc);
    if (!dt) return error(c, 400, "invalid_request", "'expires_at' must be ISO 8601");
    e.expires_at = g_date_time_to_unix(dt);
    g_date_time_unref(dt);
  }
  for (const auto &k : j.items()) {
    static const std::set<std::string> known = {"subject", "channels", "groups",
                                                "tier",    "region",   "expires_at"};
    if (!known.count(k.key()))
      return error(c, 400, "invalid_request", "unknown field '" + k.key() + "'");
  }
  e.updated_at = now_unix();
  deps.store->put_entitlement(e);
  reply(c, create ? 201 : 200, to_json(e));
}

void ApiServer::Impl::h_ent_delete(Ctx &c) {
  if (!deps.store->delete_entitlement(c.params["subject"]))
    return error(c, 404, "not_found", "no entitlement for this subject");
  set_body(c, 204, "application/json", "");
}

// ---- keys --------------------------------------------------------------------------------------

void ApiServer::Impl::h_keys_list(Ctx &c) {
  json arr = json::array();
  for (const auto &k : deps.store->keys()) arr.push_back(to_json(k));
  reply(c, 200, {{"keys", arr}});
}

void ApiServer::Impl::h_key_create(Ctx &c) {
  json j;
  if (!parse_body(c, j)) return;
  std::string name, role_s;
  if (!get_string(c, j, "name", name, true) || !get_string(c, j, "role", role_s, true)) return;
  auto role = role_from_string(role_s);
  if (!role) return error(c, 400, "invalid_request", "'role' is read, operator or admin");
  if (name.empty() || name.size() > 200)
    return error(c, 400, "invalid_request", "'name' is 1..200 characters");
  ApiKey k;
  std::string secret = deps.store->create_key(name, *role, &k);
  c.params["id"] = k.id;
  json body = to_json(k);
  body["key"] = secret;  // the only time it is shown
  reply(c, 201, body);
}

void ApiServer::Impl::h_key_delete(Ctx &c) {
  if (c.key && c.key->id == c.params["id"])
    return error(c, 409, "conflict", "a key cannot revoke itself");
  if (!deps.store->revoke_key(c.params["id"]))
    return error(c, 404, "not_found", "no such active key");
  set_body(c, 204, "application/json", "");
}

// ---- audit -------------------------------------------------------------------------------------

void ApiServer::Impl::h_audit(Ctx &c) {
  AuditFilter f;
  f.actor = query_str(c, "actor");
  f.action = query_str(c, "action");
  f.target = query_str(c, "target");
  f.outcome = query_str(c, "outcome");
  f.after_id = query_int(c, "after");
  f.before_id = query_int(c, "before");
  f.limit = static_cast<int>(std::clamp<int64_t>(query_int(c, "limit").value_or(100), 1, 1000));
  bool more = false;
  json arr = json::array();
  for (const auto &a : deps.store->audit_page(f, &more)) arr.push_back(to_json(a));
  reply(c, 200, {{"entries", arr}, {"more", more}});
}

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
                       r.name.empty() ? r.channel_id : r.name, r.epg.logo, r.epg.group,
                       base + sr.path});
  }
  audit_call(c, "playlist.get", subject, "ok", "", {{"channels", entries.size()}});
  set_body(c, 200, "audio/x-mpegurl", render_m3u(entries, base + "/iptv/epg.xml"));
}

void ApiServer::Impl::h_epg(Ctx &c) {
  EpgBuild b = build_epg(deps.records->records());
  for (const auto &w : b.warnings)
    if (warned_epg.insert(w).second) g_warning("epg: %s", w.c_str());
  set_body(c, 200, "application/xml; charset=utf-8", render_xmltv(b.channels, b.programmes));
  soup_message_headers_replace(soup_server_message_get_response_headers(c.msg), "Cache-Control",
                               "max-age=300");
}

// ---------------------------------------------------------------------------------------------

namespace {

void on_api_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                    gpointer user_data) {
  static_cast<ApiServer::Impl *>(user_data)->dispatch(msg, path);
}

void on_api_early(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                  gpointer user_data) {
  static_cast<ApiServer::Impl *>(user_data)->early(msg, path);
}

void on_request_started(SoupServer *, SoupServerMessage *msg, gpointer) {
  auto *t = g_new(gint64, 1);
  *t = g_get_monotonic_time();
  g_object_set_data_full(G_OBJECT(msg), "iptv-start", t, g_free);
}

void on_request_finished(SoupServer *, SoupServerMessage *msg, gpointer user_data) {
  auto *self = static_cast<ApiServer::Impl *>(user_data);
  auto *t = static_cast<gint64 *>(g_object_get_data(G_OBJECT(msg), "iptv-start"));
  const char *route = static_cast<const char *>(g_object_get_data(G_OBJECT(msg), "iptv-route"));
  std::string r = route ? route : "";
  if (r.empty()) {
    GUri *uri = soup_server_message_get_uri(msg);
    const char *p = uri ? g_uri_get_path(uri) : "";
    r = p && starts_with(p, "/hls/") ? "/hls" : "other";
  }
  double secs = t ? (g_get_monotonic_time() - *t) / 1e6 : 0;
  self->http.record(r, soup_server_message_get_method(msg),
                    static_cast<int>(soup_server_message_get_status(msg)), secs);
}

}  // namespace

ApiServer::ApiServer(ApiDeps deps, ApiConfig config)
    : impl_(std::make_shared<Impl>(deps, std::move(config))) {}

ApiServer::~ApiServer() {
  unmount();
}

SessionOpener &ApiServer::sessions() {
  return *impl_->opener;
}

std::vector<std::pair<std::string, std::string>> ApiServer::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto &r : impl_->routes) out.push_back({r.method, r.pattern});
  return out;
}

void ApiServer::mount() {
  Impl *i = impl_.get();
  if (i->mounted.load()) return;
  i->opener->rearm_origin();
  i->deps.origin->with_server([i](SoupServer *server) {
    i->server = server;
    i->context = g_main_context_ref_thread_default();
    for (const char *prefix : {"/api", "/healthz", "/readyz", "/metrics", "/iptv"}) {
      soup_server_add_early_handler(server, prefix, on_api_early, i, nullptr);
      soup_server_add_handler(server, prefix, on_api_request, i, nullptr);
    }
    i->signal_ids.push_back(
        g_signal_connect(server, "request-started", G_CALLBACK(on_request_started), i));
    i->signal_ids.push_back(
        g_signal_connect(server, "request-finished", G_CALLBACK(on_request_finished), i));
    i->keepalive = g_timeout_source_new_seconds(
        static_cast<guint>(std::max(1, i->config.sse_keepalive_seconds)));
    g_source_set_callback(
        i->keepalive,
        [](gpointer data) -> gboolean {
          static_cast<Impl *>(data)->send_keepalive();
          return G_SOURCE_CONTINUE;
        },
        i, nullptr);
    g_source_attach(i->keepalive, i->context);
  });
  if (!i->context) return;  // the origin is not running
  i->mounted = true;
  i->stopping = false;
  i->follower = std::thread([i] { i->run_follower(); });
}

void ApiServer::unmount() {
  Impl *i = impl_.get();
  if (!i->mounted.exchange(false)) return;
  i->stopping = true;
  if (i->follower.joinable()) i->follower.join();
  i->deps.origin->with_server([i](SoupServer *server) {
    for (const char *prefix : {"/api", "/healthz", "/readyz", "/metrics", "/iptv"})
      soup_server_remove_handler(server, prefix);
    for (gulong id : i->signal_ids) g_signal_handler_disconnect(server, id);
    i->signal_ids.clear();
    if (i->keepalive) {
      g_source_destroy(i->keepalive);
      g_source_unref(i->keepalive);
      i->keepalive = nullptr;
    }
    // Open streams and long polls end now (the clients reconnect to the next server).
    while (!i->waiters.empty()) i->finish_waiter(i->waiters.begin(), {});
    for (auto &cl : i->sse) {
      g_signal_handler_disconnect(cl.msg, cl.finished_id);
      soup_message_body_complete(soup_server_message_get_response_body(cl.msg));
      soup_server_message_unpause(cl.msg);
    }
    i->sse.clear();
  });
  if (i->context) g_main_context_unref(i->context);
  i->context = nullptr;
  i->server = nullptr;
}

bool bootstrap_admin_key(ControlStore &store, const std::string &path, std::string *error) {
  if (store.active_key_count() > 0) return false;
  std::string key = store.create_key("bootstrap admin", Role::kAdmin);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (error) *error = "cannot write " + path;
    return false;
  }
  ::fchmod(fd, 0600);  // an older file keeps its mode through O_TRUNC: owner only, always
  std::string line = key + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok && error) *error = "cannot write " + path;
  return ok;
}

}  // namespace iptv::control
