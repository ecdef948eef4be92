// handlers/console.cpp: the operator console (docs/console.md). Its files at "/" (with ETags,
// no traversal), its login (an API key exchanged for an HttpOnly, SameSite=Strict session
// cookie with a CSRF token), GET /api/v1/console/overview (the grid in one call), the preview
// session, channel thumbnails and logos. Routes, roles and audit actions are declared in
// api_server.cpp (Impl::build_routes); the cookie and CSRF checks run inside
// route_and_authorize, so every API route accepts a console session the way it accepts a key.
#include <glib.h>
#include <sys/stat.h>

#include <algorithm>

#include "control/api_impl.h"
#include "control/json_views.h"
#include "origin/http_conditional.h"

namespace iptv::control {

using namespace api;

namespace {

constexpr const char *kCookie = "iptv_console";

// The console's own pages may load only their own files; media from blobs (hls.js).
constexpr const char *kConsoleCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

bool mutating(const std::string &method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// Sends a file with its validators; 304 when the client's copy is current. False when it cannot
// be read (the caller answers 404).
bool send_file(SoupServerMessage *msg, const std::string &path, const std::string &content_type,
               const std::string &etag, int64_t mtime, const char *cache_control) {
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(h, "ETag", etag.c_str());
  soup_message_headers_replace(h, "Cache-Control", cache_control);
  soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
  SoupMessageHeaders *rq = soup_server_message_get_request_headers(msg);
  ConditionalHeaders cond{nullptr, soup_message_headers_get_one(rq, "If-None-Match"), nullptr,
                          nullptr, nullptr};
  if (evaluate_preconditions(cond, Validators{etag, static_cast<time_t>(mtime)}) ==
      Precondition::kNotModified) {
    soup_server_message_set_status(msg, 304, nullptr);
    return true;
  }
  GError *err = nullptr;
  GMappedFile *mf = g_mapped_file_new(path.c_str(), FALSE, &err);
  if (!mf) {
    g_clear_error(&err);
    return false;
  }
  GBytes *bytes = g_mapped_file_get_bytes(mf);
  g_mapped_file_unref(mf);
  soup_message_headers_set_content_type(h, content_type.c_str(), nullptr);
  soup_server_message_set_status(msg, 200, nullptr);
  if (std::string(soup_server_message_get_method(msg)) != "HEAD")
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), bytes);
  else
    soup_message_headers_set_content_length(h, static_cast<goffset>(g_bytes_get_size(bytes)));
  g_bytes_unref(bytes);
  return true;
}

// A file outside the console's folder (a thumbnail, a logo) by absolute path.
bool send_path(Ctx &c, const std::string &path, const char *cache_control) {
  struct stat st;
  if (path.empty() || stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  std::string etag = "\"" + std::to_string((long long)st.st_size) + "-" +
                     std::to_string((long long)st.st_mtim.tv_sec) + "." +
                     std::to_string((long long)st.st_mtim.tv_nsec) + "\"";
  if (!send_file(c.msg, path, content_type_for(path), etag, st.st_mtim.tv_sec, cache_control))
    return false;
  c.status = static_cast<int>(soup_server_message_get_status(c.msg));
  return true;
}

std::string session_cookie(const std::string &value, int64_t max_age, bool secure) {
  return std::string(kCookie) + "=" + value +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
         (secure ? "; Secure" : "");
}

}  // namespace

// ---- authentication by the console's cookie ----------------------------------------------------

std::optional<bool> ApiServer::Impl::cookie_authenticate(Ctx &c) {
  std::string sid = cookie_value(header(c.msg, "Cookie"), kCookie);
  if (sid.empty()) return std::nullopt;
  ConsoleSession s;
  auto fail = [&](const char *reason, const char *code, const std::string &message) {
    {
      std::lock_guard lk(counters_mu);
      counters.api_auth_failures++;
    }
    audit_call(c, "auth.denied", c.method + " " + c.route, "denied", reason);
    error(c, 401, code, message);
    return false;
  };
  switch (console_sessions.find(sid, now_unix(), &s)) {
    case ConsoleSessions::Lookup::kExpired:
      return fail("console_session_expired", "session_expired",
                  "the console session has expired: log in again with an API key");
    case ConsoleSessions::Lookup::kUnknown:
      return fail("console_session_unknown", "session_unknown",
                  "the console session is not known (logged out, or iptvd restarted): log in "
                  "again with an API key");
    case ConsoleSessions::Lookup::kOk:
      break;
  }
  // The session follows its key: a revoked key ends it.
  auto key = deps.store->key(s.key_id);
  if (!key || key->revoked) {
    console_sessions.close(sid);
    return fail("invalid_key", "key_revoked",
                "the API key this console session was opened with has been revoked");
  }
  c.key = *key;
  c.console_session = sid;
  return true;
}

bool ApiServer::Impl::csrf_refused(Ctx &c) {
  if (c.console_session.empty() || !mutating(c.method)) return false;
  ConsoleSession s;
  if (console_sessions.find(c.console_session, now_unix(), &s) == ConsoleSessions::Lookup::kOk &&
      same_secret(header(c.msg, "X-CSRF-Token"), s.csrf))
    return false;
  {
    std::lock_guard lk(counters_mu);
    counters.api_auth_failures++;
  }
  audit_call(c, "auth.denied", c.method + " " + c.route, "denied", "csrf");
  error(c, 403, "csrf",
        "a call that changes something, made with the console's cookie, must carry the session's "
        "X-CSRF-Token header");
  return true;
}

// ---- login, session, logout --------------------------------------------------------------------

void ApiServer::Impl::h_console_login(Ctx &c) {
  // A form on another site can post only form encodings without a preflight: JSON only.
  std::string ct = header(c.msg, "Content-Type");
  if (!starts_with(ct, "application/json"))
    return error(c, 415, "unsupported_media_type", "the login body is JSON ({\"key\": \"...\"})");
  json j;
  if (!parse_body(c, j)) return;
  std::string presented;
  if (!get_string(c, j, "key", presented, true)) return;
  for (const auto &[k, v] : j.items())
    if (k != "key") return error(c, 400, "invalid_request", "unknown field '" + k + "'");
  auto key = deps.store->authenticate(trim(presented));
  if (!key) {
    {
      std::lock_guard lk(counters_mu);
      counters.api_auth_failures++;
    }
    audit_call(c, "console.login", "", "denied", "invalid_key");
    return error(c, 401, "unauthorized", "this API key is not valid (or has been revoked)");
  }
  c.key = key;
  c.actor = "key:" + key->id;
  ConsoleSession s;
  int64_t ttl = std::max<int64_t>(5, config.console_session_ttl_seconds);
  std::string sid = console_sessions.open(*key, ttl, now_unix(), &s);
  soup_message_headers_append(
      soup_server_message_get_response_headers(c.msg), "Set-Cookie",
      session_cookie(sid, ttl, starts_with(config.public_url, "https://")).c_str());
  audit_call(c, "console.login", key->id, "ok", "", {{"role", to_string(key->role)}});
  reply(c, 201,
        {{"key_id", key->id},
         {"key_name", key->name},
         {"role", to_string(key->role)},
         {"csrf_token", s.csrf},
         {"expires_at", iso8601_utc(s.expires_at * 1000)}});
}

void ApiServer::Impl::h_console_session(Ctx &c) {
  json j = {{"key_id", c.key->id}, {"key_name", c.key->name}, {"role", to_string(c.key->role)}};
  ConsoleSession s;
  if (!c.console_session.empty() &&
      console_sessions.find(c.console_session, now_unix(), &s) == ConsoleSessions::Lookup::kOk) {
    // Readable by this origin's pages only (no CORS): the CSRF token is safe to hand back.
    j["csrf_token"] = s.csrf;
    j["expires_at"] = iso8601_utc(s.expires_at * 1000);
  } else {
    j["csrf_token"] = nullptr;
    j["expires_at"] = nullptr;
  }
  reply(c, 200, j);
}

void ApiServer::Impl::h_console_logout(Ctx &c) {
  if (!c.console_session.empty()) console_sessions.close(c.console_session);
  soup_message_headers_append(
      soup_server_message_get_response_headers(c.msg), "Set-Cookie",
      session_cookie("", 0, starts_with(config.public_url, "https://")).c_str());
  audit_call(c, "console.logout", c.key->id, "ok", "");
  reply(c, 200, {{"logged_out", !c.console_session.empty()}});
}

// ---- the grid in one call ----------------------------------------------------------------------

void ApiServer::Impl::h_console_overview(Ctx &c) {
  std::map<std::string, ChannelRecord> recs;
  for (auto &r : deps.records->records()) recs[r.channel_id] = std::move(r);
  auto sessions = deps.store->open_sessions_by_channel(now_unix());
  OriginStats traffic = deps.origin ? deps.origin->stats() : OriginStats{};
  json arr = json::array();
  std::set<std::string> groups;
  for (const auto &ch : deps.channels->list()) {
    auto d = deps.channels->get(ch.id);
    json j = d ? to_json(*d) : to_json(ch);
    j.erase("last_events");
    auto r = recs.find(ch.id);
    j["logo_url"] = r == recs.end() ? json(nullptr) : json(logo_url(r->second, ""));
    if (j["logo_url"] == "") j["logo_url"] = nullptr;
    j["thumbnail_url"] = "/api/v1/channels/" + ch.id + "/thumbnail.jpg";
    // When the worker last wrote one (null: none yet), so the page asks only for what exists.
    struct stat st;
    std::string thumb = config.thumbnail_dir + "/" + ch.id + ".jpg";
    j["thumbnail_age_seconds"] =
        !config.thumbnail_dir.empty() && stat(thumb.c_str(), &st) == 0 && S_ISREG(st.st_mode)
            ? json(std::max<double>(
                  0,
                  (now_ms() - (st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000)) / 1000.0))
            : json(nullptr);
    auto s = sessions.find(ch.id);
    j["open_sessions"] = s == sessions.end() ? 0 : s->second;
    auto t = traffic.channels.find(ch.id);
    j["requests"] = t == traffic.channels.end() ? 0 : t->second.requests;
    j["errors"] = t == traffic.channels.end() ? 0 : t->second.errors;
    if (!ch.group.empty()) groups.insert(ch.group);
    arr.push_back(std::move(j));
  }
  reply(c, 200,
        {{"generated_at", iso8601_utc(now_ms(), true)},
         {"role", to_string(c.key->role)},
         {"groups", groups},
         {"last_event_id", deps.events->last_id()},
         {"channels", arr}});
}

// ---- the preview -------------------------------------------------------------------------------

void ApiServer::Impl::h_preview(Ctx &c) {
  // Tokens off (tokens.mode none): the channel plays from its open URL; no session to open.
  if (deps.origin && deps.origin->mode() == TokenMode::kNone && deps.keys->empty()) {
    std::string id = c.params["id"];
    if (!deps.records->record(id)) return error(c, 404, "not_found", "no channel '" + id + "'");
    return reply(c, 201,
                 {{"session_id", nullptr},
                  {"channel_id", id},
                  {"playback_path", "/hls/" + id + "/index.m3u8"},
                  {"expires_at", nullptr}});
  }
  if (std::string why = tokens_unavailable(); !why.empty())
    return error(c, 503, "unavailable", why);
  SessionRequest req;
  req.channel_id = c.params["id"];
  req.client_ip = c.client_ip;
  req.actor = c.actor;
  req.operator_preview = true;
  req.ttl_seconds = std::max<int64_t>(30, config.preview_ttl_seconds);
  SessionResult r = opener->open(req);
  count_session(r.ok ? "ok" : r.reason);
  if (!r.ok) {
    c.error_code = r.reason;
    return reply(c, r.http_status,
                 {{"error", "refused"}, {"reason", r.reason}, {"message", r.message}});
  }
  // A relative URL: the page plays it from the origin that served it.
  reply(c, 201,
        {{"session_id", r.session.id},
         {"channel_id", req.channel_id},
         {"playback_path", r.path},
         {"expires_at", iso8601_utc(r.token_expires_at * 1000)}});
}

// ---- thumbnails and logos ----------------------------------------------------------------------

void ApiServer::Impl::h_thumbnail(Ctx &c) {
  std::string id = c.params["id"];
  if (!deps.channels->get(id)) return error(c, 404, "not_found", "no channel '" + id + "'");
  if (config.thumbnail_dir.empty())
    return error(c, 404, "not_found", "thumbnails are off (no thumbnail folder)");
  // Revalidated on every use: a new picture arrives every few seconds.
  if (!send_path(c, config.thumbnail_dir + "/" + id + ".jpg", "private, no-cache"))
    return error(c, 404, "not_found",
                 "no thumbnail of '" + id + "' yet (the worker writes one every few seconds)");
}

void ApiServer::Impl::h_logo(Ctx &c) {
  std::string id = c.params["id"];
  auto rec = deps.records->record(id);
  std::string file = rec ? logo_file(*rec) : "";
  if (file.empty()) return set_body(c, 404, "text/plain", "no logo file for '" + id + "'\n");
  // An SVG opened directly must not run scripts in our origin.
  soup_message_headers_replace(soup_server_message_get_response_headers(c.msg),
                               "Content-Security-Policy",
                               "default-src 'none'; style-src 'unsafe-inline'");
  if (!send_path(c, file, "public, max-age=3600"))
    return set_body(c, 404, "text/plain", "the logo file of '" + id + "' cannot be read\n");
}

// ---- the console's files -----------------------------------------------------------------------

void ApiServer::Impl::early_console(SoupServerMessage *msg, const char *path) {
  SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
  SoupEncoding enc = soup_message_headers_get_encoding(req);
  bool body = enc == SOUP_ENCODING_CHUNKED || (enc == SOUP_ENCODING_CONTENT_LENGTH &&
                                               soup_message_headers_get_content_length(req) > 0);
  if (!body) return;
  // The console's files take no body: refused before it is read.
  Ctx c;
  fill_ctx(c, msg, path);
  c.route = "/";
  g_object_set_data_full(G_OBJECT(msg), "iptv-route", g_strdup("/"), g_free);
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", "GET, HEAD");
  error(c, 405, "method_not_allowed", "the console's files allow GET, HEAD");
  refuse_unread(c);
}

void ApiServer::Impl::serve_console(SoupServerMessage *msg, const char *path) {
  if (g_object_get_data(G_OBJECT(msg), "iptv-refused")) return;
  Ctx c;
  fill_ctx(c, msg, path);
  c.route = "/";
  g_object_set_data_full(G_OBJECT(msg), "iptv-route", g_strdup("/"), g_free);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  if (c.method != "GET" && c.method != "HEAD") {
    soup_message_headers_replace(h, "Allow", "GET, HEAD");
    return set_body(c, 405, "text/plain", "the console's files allow GET, HEAD\n");
  }
  if (config.console_dir.empty())
    return set_body(c, 404, "text/plain",
                    "the operator console is not installed (no console folder was found; see "
                    "docs/console.md). The API is at /api/v1/.\n");
  StaticFile f;
  StaticError e = static_file(config.console_dir, c.path, &f);
  if (e == StaticError::kForbidden) return set_body(c, 403, "text/plain", "forbidden\n");
  if (e != StaticError::kOk) return set_body(c, 404, "text/plain", "not found\n");
  soup_message_headers_replace(h, "Content-Security-Policy", kConsoleCsp);
  soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace(h, "X-Frame-Options", "DENY");
  // Revalidated each load (cheap: ETag), so an upgrade shows at once.
  if (!send_file(msg, f.path, f.content_type, f.etag, f.mtime, "no-cache"))
    set_body(c, 404, "text/plain", "not found\n");
}

}  // namespace iptv::control
