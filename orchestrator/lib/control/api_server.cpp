// ApiServer (see api_server.h): the routing table (Impl::build_routes), authentication and roles,
// the early check that refuses bodies unread, dispatch and the
// generic audit, mount/unmount. The handlers are in handlers/<resource>.cpp; the types they share
// with this file in api_impl.h, the answer and body helpers in api_helpers.cpp; writing a refusal
// on a taken connection in lingering_close.cpp.
#include "control/api_server.h"

#include <fcntl.h>
#include <glib.h>
#include <libsoup/soup.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <mutex>
#include <thread>

#include "control/api_impl.h"
#include "control/lingering_close.h"
#include "control/metrics.h"
#include "control/secrets.h"
#include "util/strutil.h"

namespace iptv::control {

using nlohmann::json;

bool valid_tier(std::string_view t) {
  if (t.size() > 64) return false;
  for (char ch : t) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == ' ' || ch == '.' || ch == '_' || ch == '-' || ch == '+';
    if (!ok) return false;
  }
  return t.empty() || (t.front() != ' ' && t.back() != ' ');
}

using namespace api;

// ---------------------------------------------------------------------------------------------

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
  add("GET", "/api/v1/channels/{id}/diagnosis", R::kOperator, "", m(&Impl::h_diagnosis));
  add("GET", "/api/v1/channels/{id}/incidents", R::kRead, "", m(&Impl::h_incidents));
  add("POST", "/api/v1/channels/{id}/incidents", R::kOperator, "incident.note",
      m(&Impl::h_incident_post));
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
  add("GET", "/iptv/logos/{id}", std::nullopt, "", m(&Impl::h_logo));
  // The operator console (handlers/console.cpp, docs/console.md).
  add("POST", "/api/v1/console/login", std::nullopt, "", m(&Impl::h_console_login));  // audits
  add("GET", "/api/v1/console/session", R::kRead, "", m(&Impl::h_console_session));
  add("POST", "/api/v1/console/logout", R::kRead, "", m(&Impl::h_console_logout));
  add("GET", "/api/v1/console/overview", R::kRead, "", m(&Impl::h_console_overview));
  add("POST", "/api/v1/channels/{id}/preview", R::kOperator, "", m(&Impl::h_preview));  // audits
  add("GET", "/api/v1/channels/{id}/thumbnail.jpg", R::kRead, "", m(&Impl::h_thumbnail));
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
    if (auto *sid = static_cast<const char *>(g_object_get_data(G_OBJECT(c.msg), "iptv-console")))
      c.console_session = sid;
  } else if (std::optional<bool> by_cookie =
                 header(c.msg, "Authorization").empty() ? cookie_authenticate(c) : std::nullopt) {
    if (!*by_cookie) return false;
    g_object_set_data_full(G_OBJECT(c.msg), "iptv-key", new ApiKey(*c.key),
                           [](gpointer p) { delete static_cast<ApiKey *>(p); });
    g_object_set_data_full(G_OBJECT(c.msg), "iptv-console", g_strdup(c.console_session.c_str()),
                           g_free);
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
  if (csrf_refused(c)) return false;
  return true;
}

void ApiServer::Impl::fill_ctx(Ctx &c, SoupServerMessage *msg, const char *path) {
  c.msg = msg;
  c.method = soup_server_message_get_method(msg);
  c.path = path ? path : "";
  const char *host = soup_server_message_get_remote_host(msg);
  c.client_ip = host ? host : "";
  c.home = static_cast<GMainContext *>(g_object_get_data(G_OBJECT(msg), "iptv-home"));
}

bool ApiServer::Impl::redirect_foreign(Ctx &c) {
  if (!c.home) return false;
  GUri *uri = soup_server_message_get_uri(c.msg);
  std::string target = uri ? g_uri_get_path(uri) : "/";
  if (const char *q = uri ? g_uri_get_query(uri) : nullptr) target += std::string("?") + q;
  soup_server_message_set_status(c.msg, 307, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(c.msg);
  soup_message_headers_replace(h, "Location", target.c_str());
  soup_message_headers_replace(h, "Connection", "close");
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  c.status = 307;
  return true;
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
    gulong disconnected_id = 0;
    bool disconnected = false;
  };
  auto *st = new Steal{static_cast<SoupServerMessage *>(g_object_ref(msg))};
  st->disconnected_id =
      g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer d) {
                         static_cast<Steal *>(d)->disconnected = true;
                       }),
                       st);
  GSource *idle = g_idle_source_new();
  g_source_set_priority(idle, G_PRIORITY_DEFAULT);
  g_source_set_callback(
      idle,
      [](gpointer data) -> gboolean {
        auto *st = static_cast<Steal *>(data);
        g_signal_handler_disconnect(st->msg, st->disconnected_id);
        // Still connected (the server may have stopped meanwhile). The socket is found under the
        // stolen stream: the message has none when the origin accepted the connection itself
        // (soup_server_accept_iostream, core/origin/connections.cpp).
        if (!st->disconnected) {
          std::string out = serialize_response(st->msg);
          GIOStream *stream = soup_server_message_steal_connection(st->msg);
          GSocket *sock = stream ? socket_of_stream(stream) : nullptr;
          if (sock) {
            lingering_close(stream, sock, std::move(out));
          } else if (stream) {
            g_io_stream_close(stream, nullptr, nullptr);
            g_object_unref(stream);
          }
        }
        g_object_unref(st->msg);
        delete st;
        return G_SOURCE_REMOVE;
      },
      st, nullptr);
  // On the thread that owns the message's connection (a serving thread's for a forwarded one).
  g_source_attach(idle, c.home ? c.home : context);
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

// ---------------------------------------------------------------------------------------------

namespace {

// Nothing thrown while answering (authentication, audit, a handler: the database locked by
// another process past its busy timeout, a full disk) may leave libsoup's callback: it would end
// the daemon (std::terminate). A request not answered yet gets 503 with Retry-After; one already
// answered keeps its answer, and the failure is logged (issue 21, chaos).
template <class F>
void answer_or_503(SoupServerMessage *msg, const char *path, F &&f) {
  try {
    f();
  } catch (const std::exception &e) {
    g_warning("api: %s %s: %s", soup_server_message_get_method(msg), path, e.what());
    if (soup_server_message_get_status(msg) != 0) return;
    static const char kBody[] =
        "{\"error\":\"unavailable\",\"message\":\"the database is not available; try again\"}";
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    soup_message_headers_replace(h, "Retry-After", "1");
    soup_message_headers_replace(h, "Cache-Control", "no-store");
    soup_server_message_set_status(msg, 503, nullptr);
    soup_server_message_set_response(msg, "application/json", SOUP_MEMORY_STATIC, kBody,
                                     sizeof kBody - 1);
  }
}

void on_api_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                    gpointer user_data) {
  answer_or_503(msg, path, [&] { static_cast<ApiServer::Impl *>(user_data)->dispatch(msg, path); });
}

void on_api_early(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                  gpointer user_data) {
  answer_or_503(msg, path, [&] { static_cast<ApiServer::Impl *>(user_data)->early(msg, path); });
}

// An API route asked on a media connection (the connection stays on its serving thread): the
// control thread's code answers it while this thread waits (a handful of microseconds of
// routing; the handlers only read snapshots and the store).
void forward(ApiServer::Impl *i, SoupServerMessage *msg, const char *path, bool early) {
  g_object_set_data(G_OBJECT(msg), "iptv-home", g_main_context_get_thread_default());
  std::string p = path ? path : "";
  i->deps.origin->run_on_control([&] {
    if (early)
      i->early(msg, p.c_str());
    else
      i->dispatch(msg, p.c_str());
  });
}

void on_api_forward(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                    gpointer user_data) {
  forward(static_cast<ApiServer::Impl *>(user_data), msg, path, false);
}

void on_api_forward_early(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                          gpointer user_data) {
  forward(static_cast<ApiServer::Impl *>(user_data), msg, path, true);
}

void on_console_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                        gpointer user_data) {
  static_cast<ApiServer::Impl *>(user_data)->serve_console(msg, path);
}

void on_console_early(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                      gpointer user_data) {
  static_cast<ApiServer::Impl *>(user_data)->early_console(msg, path);
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
    // Everything else (the longest prefix wins, so /hls stays the origin's): the console.
    soup_server_add_early_handler(server, "/", on_console_early, i, nullptr);
    soup_server_add_handler(server, "/", on_console_request, i, nullptr);
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
  std::mutex mu;
  i->deps.origin->with_media_servers([i, &mu](SoupServer *server) {
    for (const char *prefix : {"/api", "/healthz", "/readyz", "/metrics", "/iptv"}) {
      soup_server_add_early_handler(server, prefix, on_api_forward_early, i, nullptr);
      soup_server_add_handler(server, prefix, on_api_forward, i, nullptr);
    }
    std::lock_guard<std::mutex> lock(mu);
    i->media_signal_ids.push_back(
        {server, g_signal_connect(server, "request-started", G_CALLBACK(on_request_started), i)});
    i->media_signal_ids.push_back(
        {server, g_signal_connect(server, "request-finished", G_CALLBACK(on_request_finished), i)});
  });
  i->mounted = true;
  i->stopping = false;
  i->follower = std::thread([i] { i->run_follower(); });
}

void ApiServer::unmount() {
  Impl *i = impl_.get();
  if (!i->mounted.exchange(false)) return;
  i->stopping = true;
  if (i->follower.joinable()) i->follower.join();
  // Diagnoses in flight use the daemon's objects: let them finish (each is bounded, ~10 s).
  for (int n = 0; i->diagnosing.load() > 0 && n < 600; ++n)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  i->deps.origin->with_media_servers([i](SoupServer *server) {
    for (const char *prefix : {"/api", "/healthz", "/readyz", "/metrics", "/iptv"})
      soup_server_remove_handler(server, prefix);
  });
  for (auto &[server, id] : i->media_signal_ids) {
    SoupServer *srv = server;
    gulong sig = id;
    i->deps.origin->with_media_servers([srv, sig](SoupServer *s) {
      if (s == srv) g_signal_handler_disconnect(s, sig);
    });
  }
  i->media_signal_ids.clear();
  i->deps.origin->with_server([i](SoupServer *server) {
    for (const char *prefix : {"/api", "/healthz", "/readyz", "/metrics", "/iptv", "/"})
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
