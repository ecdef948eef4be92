#include "origin/origin.h"

#include <glib.h>
#include <libsoup/soup.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <future>
#include <vector>

#include "origin/http_conditional.h"
#include "origin/request_path.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptv {

struct Origin::Request {
  SoupServerMessage *msg;
  std::string path;  // as received (percent-encoded)
  std::string method;
  std::string client_ip;
};

namespace {

void respond_status(SoupServerMessage *msg, int status, const char *deny = nullptr,
                    int max_age = -1) {
  soup_server_message_set_status(msg, status, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  if (deny) soup_message_headers_replace(h, "X-Iptv-Deny", deny);
  if (max_age >= 0)
    soup_message_headers_replace(h, "Cache-Control",
                                 ("max-age=" + std::to_string(max_age)).c_str());
  else
    soup_message_headers_replace(h, "Cache-Control", "no-store");
}

std::string http_date(time_t t) {
  GDateTime *dt = g_date_time_new_from_unix_utc(t);
  gchar *s = g_date_time_format(dt, "%a, %d %b %Y %H:%M:%S GMT");
  std::string out = s;
  g_free(s);
  g_date_time_unref(dt);
  return out;
}

int playlist_max_age(const char *data, size_t len) {
  std::string_view v(data, len);
  size_t at = v.find("#EXT-X-TARGETDURATION:");
  if (at == std::string_view::npos) return 2;  // multivariant: changes rarely, but may
  int td = std::atoi(std::string(v.substr(at + 22, 8)).c_str());
  return std::max(1, td / 2);
}

void on_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
                gpointer user_data) {
  auto *origin = static_cast<Origin *>(user_data);
  // The handler's `path` argument is already percent-decoded; tokens need the raw segments.
  GUri *uri = soup_server_message_get_uri(msg);
  const char *raw = uri ? g_uri_get_path(uri) : path;
  Origin::Request req{
      msg, raw ? raw : "", soup_server_message_get_method(msg),
      soup_server_message_get_remote_host(msg) ? soup_server_message_get_remote_host(msg) : ""};
  origin->handle(req);
}

}  // namespace

Origin::Origin(OriginConfig config) : config_(std::move(config)) {}

Origin::~Origin() {
  stop();
}

bool Origin::start(std::string *error) {
  if (thread_.joinable()) return true;
  std::promise<std::string> started;
  auto fut = started.get_future();
  thread_ = std::thread([this, &started] { run(&started); });
  std::string err = fut.get();
  if (!err.empty()) {
    thread_.join();
    if (error) *error = err;
    return false;
  }
  return true;
}

void Origin::run(std::promise<std::string> *started) {
  context_ = g_main_context_new();
  g_main_context_push_thread_default(context_);
  server_ = soup_server_new("server-header", "gst-iptv-origin", nullptr);
  soup_server_add_handler(server_, "/hls", on_request, this, nullptr);
  soup_server_add_handler(server_, "/hls-auth", on_request, this, nullptr);
  // Byte ranges are the origin's alone (one range, see handle()); for every other route libsoup
  // would answer any number of ranges as multipart/byteranges, so the header goes.
  g_signal_connect(
      server_, "request-read", G_CALLBACK(+[](SoupServer *, SoupServerMessage *msg, gpointer) {
        GUri *uri = soup_server_message_get_uri(msg);
        const char *p = uri ? g_uri_get_path(uri) : nullptr;
        if (!p || !g_str_has_prefix(p, "/hls/"))
          soup_message_headers_remove(soup_server_message_get_request_headers(msg), "Range");
      }),
      nullptr);
  std::string err;
  int port = 0;
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    conns_ = std::make_unique<ConnectionManager>(server_, config_.limits);
  }
  bool ok = conns_->listen(config_.address, config_.port, &port, &err);
  if (ok) {
    port_ = port;
    loop_ = g_main_loop_new(context_, FALSE);
    started->set_value("");
    g_main_loop_run(loop_);
    g_main_loop_unref(loop_);
    loop_ = nullptr;
  } else {
    started->set_value(err);
  }
  conns_->stop_accepting();
  soup_server_disconnect(server_);
  {
    std::lock_guard<std::mutex> lock(conns_mu_);
    conns_.reset();
  }
  g_object_unref(server_);
  server_ = nullptr;
  g_main_context_pop_thread_default(context_);
  g_main_context_unref(context_);
  context_ = nullptr;
}

void Origin::stop() {
  if (!thread_.joinable()) return;
  // Quit from inside the server's context, so the loop is running when it is told to stop.
  g_main_context_invoke(
      context_,
      [](gpointer data) -> gboolean {
        auto *self = static_cast<Origin *>(data);
        if (self->loop_) g_main_loop_quit(self->loop_);
        return G_SOURCE_REMOVE;
      },
      this);
  thread_.join();
}

void Origin::with_server(const std::function<void(SoupServer *)> &fn) {
  if (!context_) return;
  std::promise<void> done;
  struct Call {
    Origin *self;
    const std::function<void(SoupServer *)> *fn;
    std::promise<void> *done;
  } call{this, &fn, &done};
  g_main_context_invoke(
      context_,
      [](gpointer data) -> gboolean {
        auto *c = static_cast<Call *>(data);
        (*c->fn)(c->self->server_);
        c->done->set_value();
        return G_SOURCE_REMOVE;
      },
      &call);
  done.get_future().wait();
}

void Origin::add_channel(const std::string &id, const std::string &root) {
  char resolved[PATH_MAX];
  std::string r = realpath(root.c_str(), resolved) ? std::string(resolved) : root;
  std::lock_guard<std::mutex> lock(mu_);
  channels_[id] = r;
}

void Origin::remove_channel(const std::string &id) {
  std::lock_guard<std::mutex> lock(mu_);
  channels_.erase(id);
}

void Origin::purge_channel(const std::string &id, int seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  auto &p = purges_[id];
  p.generation++;
  p.until_us = g_get_monotonic_time() + (gint64)seconds * 1000000;
}

void Origin::revoke_session(const std::string &session) {
  std::lock_guard<std::mutex> lock(mu_);
  revoked_.insert(session);
}

bool Origin::session_revoked(const std::string &session) const {
  std::lock_guard<std::mutex> lock(mu_);
  return revoked_.count(session) > 0;
}

OriginStats Origin::stats() const {
  OriginStats out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out = stats_;
  }
  std::lock_guard<std::mutex> lock(conns_mu_);
  if (conns_) out.connections = conns_->stats();
  return out;
}

TokenError Origin::check_token(const std::string &channel, const std::string &token_segment,
                               const std::string &rel, const std::string &client_ip,
                               int64_t *expiry) const {
  int64_t now = g_get_real_time() / 1000000;
  if (config_.mode == TokenMode::kEdgeAuth) {
    TokenClaims claims;
    TokenError e = verify_token(token_from_path_segment(token_segment), config_.keys,
                                "/hls/" + channel + rel, now, client_ip, &claims);
    if (e == TokenError::kOk && !claims.session.empty() && session_revoked(claims.session))
      e = TokenError::kRevoked;
    if (expiry) *expiry = claims.expiry;
    return e;
  }
  if (config_.mode == TokenMode::kSecureLink) {
    TokenError e = verify_securelink(token_segment, channel, now, config_.securelink_secret);
    if (expiry) {
      // "s-<md5>-<expires>"
      auto dash = token_segment.rfind('-');
      *expiry = dash == std::string::npos ? 0 : std::atoll(token_segment.c_str() + dash + 1);
    }
    return e;
  }
  return TokenError::kOk;
}

// GET /hls-auth/<channel>/<token>: the edge's auth_request (see origin.h).
void Origin::handle_auth(Request &req) {
  SoupServerMessage *msg = req.msg;
  auto count = [&](const char *reason) {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.edge_auth[reason ? reason : "ok"]++;
  };
  if (req.method != "GET" && req.method != "HEAD") {
    respond_status(msg, 405);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    return;
  }
  auto parts = split(req.path, '/', false);
  if (config_.mode == TokenMode::kNone || parts.size() != 4 || !parts[0].empty() ||
      parts[1] != "hls-auth") {
    respond_status(msg, 404);
    return count("path");
  }
  std::string channel = decode_path_segment(parts[2]);
  bool known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    known = channels_.count(channel) > 0;
  }
  int max_age = std::max(0, config_.edge_auth_max_age);
  // Token first, as for media: an unknown channel answers like a known one with the same token.
  int64_t expiry = 0;
  TokenError e = check_token(channel, parts[3], "/", req.client_ip, &expiry);
  if (e != TokenError::kOk) {
    respond_status(msg, 403, to_string(e), max_age);
    return count(to_string(e));
  }
  if (!known) {
    respond_status(msg, 403, "path", max_age);
    return count("path");
  }
  // Never cached past the token's expiry: an expired token is refused to the second.
  int64_t left = expiry - g_get_real_time() / 1000000;
  respond_status(msg, 200, nullptr, (int)std::clamp<int64_t>(left, 0, max_age));
  count(nullptr);
}

void Origin::handle(Request &req) {
  if (starts_with(req.path, "/hls-auth/") || req.path == "/hls-auth") return handle_auth(req);
  SoupServerMessage *msg = req.msg;
  std::string traffic_channel;  // set once the request is known to be for a served channel
  auto count = [&](int status, uint64_t bytes = 0, const char *reason = nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!traffic_channel.empty()) {
      ChannelTraffic &t = stats_.channels[traffic_channel];
      t.requests++;
      if (status >= 400) t.errors++;
    }
    stats_.requests++;
    stats_.bytes += bytes;
    stats_.statuses[status]++;
    if (reason) stats_.denials[reason]++;
  };
  auto deny = [&](const char *reason, int status = 403) {
    respond_status(msg, status, reason);
    count(status, 0, reason);
  };
  auto not_found = [&]() {
    respond_status(msg, 404, nullptr, 1);
    count(404);
  };
  SoupMessageHeaders *rq = soup_server_message_get_request_headers(msg);
  // Ranges are answered here only (one range); libsoup must never see the header.
  std::string range_header;
  if (const char *r = soup_message_headers_get_one(rq, "Range")) range_header = r;
  soup_message_headers_remove(rq, "Range");
  if (req.method != "GET" && req.method != "HEAD") {
    respond_status(msg, 405);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    count(405);
    return;
  }
  // /hls/<channel>/[<token>/]<file...>
  MediaPath mp;
  switch (parse_media_path(req.path, config_.mode != TokenMode::kNone, &mp)) {
    case MediaPathError::kOk:
      break;
    case MediaPathError::kNotHls:
      return deny("path", 404);
    case MediaPathError::kMissingToken:
      return deny("missing");
    case MediaPathError::kBadSegment:
      return deny("path");
  }
  const std::string &channel = mp.channel;
  const std::string &rel = mp.rel;
  // The token is checked before the channel is looked up: an unknown channel answers exactly
  // like a known one with the same token, so channel ids cannot be enumerated.
  if (config_.mode != TokenMode::kNone) {
    TokenError e = check_token(channel, mp.token_segment, rel, req.client_ip, nullptr);
    if (e != TokenError::kOk) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (channels_.count(channel)) traffic_channel = channel;
      }
      return deny(to_string(e), e == TokenError::kExpired ? 410 : 403);
    }
  }
  std::string root;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(channel);
    if (it != channels_.end()) root = it->second;
  }
  // A valid token for a channel not served (here, or not yet): like a file not there (yet).
  if (root.empty()) return not_found();
  traffic_channel = channel;
  // Symlinks out of the tree are refused: the resolved file must stay under the root.
  std::string full = root + rel;
  char resolved[PATH_MAX];
  if (!realpath(full.c_str(), resolved)) return not_found();
  if (!starts_with(resolved, root + "/")) return deny("path");
  struct stat st;
  if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode)) return not_found();
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  std::string etag = "\"" + std::to_string((long long)st.st_size) + "-" +
                     std::to_string((long long)st.st_mtim.tv_sec) + "." +
                     std::to_string((long long)st.st_mtim.tv_nsec) + "\"";
  bool playlist = ends_with(rel, ".m3u8");
  bool purging = false;
  if (playlist) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = purges_.find(channel);
    if (it != purges_.end()) {
      // A purge changes every manifest's validator (caches holding the old copy refetch it) and
      // asks caches to revalidate every request for a while.
      etag.insert(etag.size() - 1, "-p" + std::to_string(it->second.generation));
      purging = g_get_monotonic_time() < it->second.until_us;
    }
  }
  Validators validators{etag, st.st_mtim.tv_sec};
  soup_message_headers_replace(h, "ETag", etag.c_str());
  soup_message_headers_replace(h, "Last-Modified", http_date(st.st_mtim.tv_sec).c_str());
  soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace(h, "Accept-Ranges", "bytes");
  GError *err = nullptr;
  GMappedFile *mf = g_mapped_file_new(resolved, FALSE, &err);
  if (!mf) {
    g_clear_error(&err);
    return not_found();
  }
  GBytes *bytes = g_mapped_file_get_bytes(mf);
  g_mapped_file_unref(mf);
  gsize len = 0;
  const char *data = (const char *)g_bytes_get_data(bytes, &len);
  std::string cc = purging    ? std::string("no-cache")
                   : playlist ? "max-age=" + std::to_string(playlist_max_age(data, len))
                              : std::string("max-age=31536000, immutable");
  soup_message_headers_replace(h, "Cache-Control", cc.c_str());
  ConditionalHeaders cond{soup_message_headers_get_one(rq, "If-Match"),
                          soup_message_headers_get_one(rq, "If-None-Match"),
                          soup_message_headers_get_one(rq, "If-Modified-Since"),
                          soup_message_headers_get_one(rq, "If-Unmodified-Since"),
                          soup_message_headers_get_one(rq, "If-Range")};
  Precondition pre = evaluate_preconditions(cond, validators);
  if (pre != Precondition::kProceed) {
    int status = pre == Precondition::kNotModified ? 304 : 412;
    soup_server_message_set_status(msg, status, nullptr);
    g_bytes_unref(bytes);
    return count(status);
  }
  soup_message_headers_set_content_type(h,
                                        playlist                ? "application/vnd.apple.mpegurl"
                                        : ends_with(rel, ".ts") ? "video/mp2t"
                                                                : "application/octet-stream",
                                        nullptr);
  ByteRange range;
  RangeDecision rd = range_header.empty() || !if_range_allows(cond.if_range, validators)
                         ? RangeDecision::kWhole
                         : decide_range(range_header, len, &range);
  int status = 200;
  GBytes *body = bytes;
  if (rd == RangeDecision::kUnsatisfiable) {
    status = 416;
    soup_message_headers_replace(h, "Content-Range", ("bytes */" + std::to_string(len)).c_str());
    body = nullptr;
  } else if (rd == RangeDecision::kPartial) {
    status = 206;
    soup_message_headers_replace(h, "Content-Range",
                                 ("bytes " + std::to_string(range.first) + "-" +
                                  std::to_string(range.last) + "/" + std::to_string(len))
                                     .c_str());
    body = g_bytes_new_from_bytes(bytes, range.first, range.last - range.first + 1);
  }
  soup_server_message_set_status(msg, status, nullptr);
  gsize sent = 0;
  if (body) {
    sent = g_bytes_get_size(body);
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body);
    if (body != bytes) g_bytes_unref(body);
  }
  g_bytes_unref(bytes);
  count(status, req.method == "HEAD" ? 0 : sent);
}

}  // namespace iptv
