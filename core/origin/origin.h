// The HLS origin: serves the HLS trees of one or more channels over HTTP (libsoup 3) under
// /hls/<channel_id>/..., checking playback tokens. Shared by iptvhlssink (http-port) and iptvd.
//
// URL layout (token modes): /hls/<channel>/<token>/index.m3u8, /hls/<channel>/<token>/hi/seg-7.ts
// (see token/token.h); token mode none: /hls/<channel>/index.m3u8.
//
// Refusals: 403 (410 for an expired token) with no body and a machine-readable reason in
// `X-Iptv-Deny` (missing, malformed, unknown-key, forged, not-yet-valid, expired, scope, ip,
// revoked, path). Path traversal (also percent-encoded), hidden files and symlinks out of the
// tree are refused; a file not there (yet) is 404 with a 1 s max-age.
//
// Edge authorization (auth_request): GET /hls-auth/<channel>/<token> checks the token exactly as
// a request under /hls/<channel>/<token>/ would be checked (signature, expiry, scope, client
// address, revocation) without touching a file, and answers 200 (allowed) or 403 with the reason
// in `X-Iptv-Deny` (also for an expired token: nginx's auth_request passes 401/403 on, but turns
// any other status into 500; the edge maps `expired` back to 410). An allowed answer may be
// cached by the edge for `Cache-Control: max-age=min(edge_auth_max_age, seconds to expiry)`, a
// refusal for edge_auth_max_age: that is how long a revocation takes to reach a caching edge
// (docs/tokens.md, docs/deploy/nginx-edge.conf). Token mode none: 404 (there is nothing to check).
// An unknown channel is checked like a known one: its token is verified first, so a request
// without a valid token gets the same refusal whether the channel exists or not.
//
// Cache headers: media playlists max-age = half the target duration; the multivariant playlist
// max-age = 2 s; segments a year and immutable. ETag, Last-Modified and RFC 9110 conditionals
// (If-None-Match with `*`, lists and weak tags, If-Modified-Since, If-Match, If-Unmodified-Since,
// If-Range), HEAD, and one byte range (see http_conditional.h: never multipart, 416 with
// `Content-Range: bytes */LEN`). Range headers are dropped for every other route of the server
// (the API), so libsoup never builds a multipart response. Tokens, keys and secrets are never
// logged.
//
// Connections (see connections.h): the origin accepts them itself, closes them on client EOF,
// after an idle keep-alive timeout and a request (slowloris) timeout, and sheds the oldest idle
// ones first when descriptors run short.
//
// Threads: the server runs on its own thread and GMainContext (a SoupServer belongs to the
// context it was created in). Everything else here is thread-safe.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "origin/connections.h"
#include "token/token.h"

typedef struct _SoupServer SoupServer;
typedef struct _GMainContext GMainContext;
typedef struct _GMainLoop GMainLoop;

namespace iptv {

enum class TokenMode { kNone, kEdgeAuth, kSecureLink };

struct OriginConfig {
  std::string address = "127.0.0.1";
  int port = 0;  // 0: pick a free port
  TokenMode mode = TokenMode::kNone;
  KeyRing keys;                   // edgeauth
  std::string securelink_secret;  // securelink
  // The longest time an edge may cache an /hls-auth answer (bounds revocation at an edge).
  int edge_auth_max_age = 5;
  ConnectionLimits limits;  // timeouts and backlog
};

// One served channel's /hls requests since start: all, and those answered 400 or more.
struct ChannelTraffic {
  uint64_t requests = 0;
  uint64_t errors = 0;
};

struct OriginStats {
  uint64_t requests = 0;
  uint64_t bytes = 0;
  std::map<std::string, uint64_t> denials;  // by reason
  std::map<int, uint64_t> statuses;
  // /hls-auth answers by outcome ("ok" or the refusal reason); not counted above (no file).
  std::map<std::string, uint64_t> edge_auth;
  ConnectionStats connections;  // the HTTP server's connections (API clients included)
  // By channel id, for channels served here (an unknown name in a URL is not counted).
  std::map<std::string, ChannelTraffic> channels;
};

class Origin {
 public:
  explicit Origin(OriginConfig config);
  ~Origin();
  Origin(const Origin &) = delete;
  Origin &operator=(const Origin &) = delete;

  // Binds and starts serving on the origin's own thread. False with a reason on failure.
  bool start(std::string *error);
  void stop();
  int port() const { return port_; }
  TokenMode mode() const { return config_.mode; }

  void add_channel(const std::string &id, const std::string &root);
  void remove_channel(const std::string &id);
  // Purges a channel's manifests from caches: their ETags change at once, and for `seconds`
  // they are served with `Cache-Control: no-cache`, so edges revalidate every request and
  // revocations or fixes take effect without waiting for max-age.
  void purge_channel(const std::string &id, int seconds = 60);
  // A revoked session's next request is refused (checked on every request).
  void revoke_session(const std::string &session);
  bool session_revoked(const std::string &session) const;

  OriginStats stats() const;

  // Runs `fn` on the server's thread with its SoupServer (to add more handlers, e.g. the API).
  void with_server(const std::function<void(SoupServer *)> &fn);

  // Internal: called by the libsoup handler on the server thread.
  struct Request;
  void handle(Request &req);

 private:
  void run(std::promise<std::string> *started);
  // The token check of /hls/<channel>/<token_segment><rel> (rel: "/<file...>" or "/").
  TokenError check_token(const std::string &channel, const std::string &token_segment,
                         const std::string &rel, const std::string &client_ip,
                         int64_t *expiry) const;
  void handle_auth(Request &req);
  OriginConfig config_;
  std::thread thread_;
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  SoupServer *server_ = nullptr;
  std::unique_ptr<ConnectionManager> conns_;  // created and destroyed on the server's thread
  mutable std::mutex conns_mu_;               // guards conns_ against stats()
  std::atomic<int> port_{0};
  mutable std::mutex mu_;  // guards channels_, revoked_, purges_, stats_
  std::map<std::string, std::string> channels_;
  std::set<std::string> revoked_;
  struct Purge {
    uint64_t generation = 0;
    int64_t until_us = 0;
  };
  std::map<std::string, Purge> purges_;
  OriginStats stats_;
};

}  // namespace iptv
