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
// Cache headers: media playlists max-age = half the target duration (a blocking reload's
// answer: the target duration), a DASH MPD half its
// minimumUpdatePeriod (like a media playlist); the multivariant playlist max-age = 2 s; fMP4 init
// segments (.mp4) 2 s (a restart may rewrite init.mp4); segments a year and immutable.
// Content types: .m3u8 application/vnd.apple.mpegurl, .ts video/mp2t, .mp4 video/mp4, .m4s
// video/iso.segment, .mpd application/dash+xml.
//
// Time route: GET /hls/<channel>/[<token>/]time answers the server's UTC as ISO 8601 with
// milliseconds (`2026-05-01T12:00:00.123Z`, text/plain, no-store), checked like a file of the
// channel: the DASH MPD's UTCTiming (urn:mpeg:dash:utc:http-iso:2014) points at it relatively.
// ETag, Last-Modified and RFC 9110 conditionals (If-None-Match with `*`, lists and weak tags,
// If-Modified-Since, If-Match, If-Unmodified-Since, If-Range), HEAD, and one byte range (see
// http_conditional.h: never multipart, 416 with `Content-Range: bytes */LEN`). Range headers are
// dropped for every other route of the server (the API), so libsoup never builds a multipart
// response. Tokens, keys and secrets are never logged.
//
// Connections (see connections.h): the origin accepts them itself, closes them on client EOF,
// after an idle keep-alive timeout and a request (slowloris) timeout, and sheds the oldest idle
// ones first when descriptors run short.
//
// Threads: `threads` serving threads (default one per core), each with its own GMainContext and
// SoupServer, serve /hls and /hls-auth; one more thread, the control thread, owns the listening
// socket and hands accepted connections out round-robin (connections.h), and hosts whatever is
// mounted with with_server() (the API and /metrics). On the shared port the acceptor peeks at a
// connection's first request line: `GET|HEAD /hls...` (and `/keys/`) goes to a serving thread,
// anything else to the control thread, so an API call never waits behind media. With control_port
// >= 0 the control thread has its own listening socket too (connections there are all its own) and
// the main port's connections all go to the serving threads. A keep-alive connection keeps its
// thread: an API route asked on a media connection is answered by the control thread's handlers
// through forward_to_control() (the API code does this), media on an API connection by the control
// thread. (A SoupServer belongs to the context it was created in.) Everything else here is
// thread-safe.
//
// Per serving thread, without locks: files are looked up once (realpath, mmap) and then validated
// by one stat() per request (device, inode, size, mtime): playlists are served from memory (a
// publish is an atomic rename: a new inode), segments of 64 KiB and more with sendfile(2) once
// libsoup has written the headers (the message paused meanwhile), smaller ones and ranges from
// their mapping (no copy in user space). A token's verified claims are remembered by
// token string until it expires; time, scope, client address and revocation are still checked on
// every request, so a revocation takes effect at once.
//
// Parked requests (blocking playlist reload, the ground of LL-HLS): a media playlist request with
// `_HLS_msn=N` is answered at once if the playlist's last media sequence number is >= N, with 400
// if N is more than 2 ahead of it, and is otherwise parked: the message is paused (no thread is
// held), put on its serving thread's waiter list for that file, and answered when a new version
// of the file is published (inotify on its directory, from the control thread) that satisfies it,
// or with 503 after 3 target durations. A client that closes while parked is noticed within a
// second and its request ended.
//
// Low-latency HLS (RFC 8216bis, docs/low-latency-origin.md, ll_playlist.h): `_HLS_part=P` with
// `_HLS_msn=M` waits for part P of segment M (400 beyond the Advance Part Limit);
// `_HLS_skip=YES|v2` answers a Playlist Delta Update (EXT-X-SKIP) when the playlist offers
// CAN-SKIP-UNTIL; a request for the part an EXT-X-PRELOAD-HINT names, not there yet, is parked
// until the file is renamed into place. The origin knows parts only from the playlist's
// EXT-X-PART/PRELOAD-HINT tags. Malformed directives get 400 (X-Iptv-Deny hls-msn, hls-part,
// hls-skip). A blocking answer is cached for one target duration (it holds at least what its URL
// asked for); a part not there yet is 404 no-store.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "origin/connections.h"
#include "origin/request_observer.h"
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
  // Serving threads for /hls; 0: one per core.
  int threads = 0;
  // The control plane's own listening address (API, /metrics: whatever with_server() mounts).
  // control_port < 0: it shares the main port (connections routed by their first request line).
  std::string control_address = "127.0.0.1";
  int control_port = -1;
};

// What a parked blocking reload waits for: segment `msn` in the playlist (complete), or, with
// `part` >= 0, that segment's part `part` (an EXT-X-PART of the segment in progress), or later.
struct ParkCondition {
  int64_t msn = -1;   // _HLS_msn
  int64_t part = -1;  // _HLS_part (LL-HLS); -1: none
};

struct FileEntry;
struct MediaPlaylistInfo;

// Time-addressed requests (catch-up, docs/timeshift.md): after the token check, a request the
// route claims (it returns an answer) is answered from it instead of the channel's live tree:
// a refusal (status, reason in X-Iptv-Deny, text body), a generated body, or a file to serve
// with the usual validators, ranges and HEAD.
struct RoutedAnswer {
  int status = 200;
  std::string reason;        // refusal reason (X-Iptv-Deny)
  std::string content_type;  // of body (or of file)
  std::string body;          // a generated answer, or
  std::string file;          // an absolute path to serve
  int max_age = 0;           // Cache-Control max-age
};
using TimeShiftRoute = std::function<std::optional<RoutedAnswer>(
    const std::string &channel, const std::string &rel, const std::string &query)>;

// AES-128 keys (docs/encryption.md): GET /keys/<channel>/<token>/<key-id> is checked exactly like
// a file of the channel (token signature, expiry, scope, client address, session revocation, on
// every request: the token cache keeps no verdict), then answered with the 16 key bytes from
// this route (`Cache-Control: no-store`), or 404 when it has no such key. Media playlists
// (live, DVR and catch-up) may name keys with a `{token}` placeholder in their EXT-X-KEY URI,
// which the origin fills with the requesting viewer's own token segment ("-" with tokens off).
using KeyRoute =
    std::function<std::optional<std::string>(const std::string &channel, const std::string &id)>;

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
  uint64_t parked = 0;          // requests parked now
  // Requests parked now by channel (blocking reloads and preload-hinted parts); a channel with
  // none is absent. Bounded by the channels served.
  std::map<std::string, uint64_t> parked_by_channel;
  uint64_t parked_answered = 0;  // parked requests answered by a publish
  uint64_t parked_timeouts = 0;  // parked requests answered 503 after 3 target durations
  uint64_t parked_gone = 0;      // parked requests whose client went away
  uint64_t token_cache_hits = 0;
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
  // The control plane's port: control_port's bound port, or port() when it shares the main one.
  int control_port() const { return control_port_ > 0 ? control_port_.load() : port_.load(); }
  int threads() const { return static_cast<int>(workers_.size()); }
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
  // Every answered /hls request is also told to `observer` (request_observer.h); null: none.
  void set_observer(std::shared_ptr<RequestObserver> observer);

  // Thread-safe; an empty route turns time-addressed answers off (set it empty before the
  // route's owner goes away).
  void set_timeshift_route(TimeShiftRoute route);
  // Thread-safe; empty: /keys answers 404 (set it empty before the route's owner goes away).
  void set_key_route(KeyRoute route);

  // Runs `fn` on the control thread with its SoupServer (to add handlers, e.g. the API).
  void with_server(const std::function<void(SoupServer *)> &fn);
  // Runs `fn` with the serving threads' SoupServers, each on its own thread (e.g. the API's
  // forwarding handlers for API routes asked on media connections).
  void with_media_servers(const std::function<void(SoupServer *)> &fn);
  // Runs `fn` on the control thread and waits for it (called on a serving thread).
  void run_on_control(const std::function<void()> &fn);
  GMainContext *control_context() const { return control_ ? control_context_ : nullptr; }

  // Internal: one serving (or the control) thread, and the libsoup handler.
  struct Server;
  struct Request;
  void handle(Server &srv, Request &req);
  // The removed EXT-X-DATERANGE IDs of the playlist at `path` (RECENTLY-REMOVED-DATERANGES),
  // given its newest version; called with every new version loaded.
  std::vector<std::string> removed_dateranges(const std::string &path,
                                              const MediaPlaylistInfo &info);

 private:
  bool start_server(Server &srv, std::string *error);
  void run(Server *srv, std::promise<std::string> *started);
  void watch_dir(const std::string &dir);
  void on_inotify();
  void published(const std::string &path);
  // The token check of /hls/<channel>/<token_segment><rel> (rel: "/<file...>" or "/").
  TokenError check_token(Server *srv, const std::string &channel, const std::string &token_segment,
                         const std::string &rel, const std::string &client_ip,
                         int64_t *expiry) const;
  void handle_auth(Server &srv, Request &req);
  int preload_hinted(Server &srv, const std::string &root, const std::string &full);
  void park(Server &srv, Request &req, const std::string &channel, const std::string &root,
            const std::string &full, ParkCondition cond, int target, bool file_wait);
  void respond_file(Server &srv, Request &req, const std::string &channel, const std::string &rel,
                    FileEntry *fe, std::string etag, bool playlist, bool init,
                    const RoutedAnswer *routed, const std::string &delta,
                    const std::function<void(int, uint64_t, const char *)> &count);
  void handle_key(Server &srv, Request &req);
  OriginConfig config_;
  std::vector<std::unique_ptr<Server>> workers_;
  std::unique_ptr<Server> control_;
  GMainContext *control_context_ = nullptr;
  std::atomic<int> port_{0}, control_port_{0};
  std::atomic<unsigned> next_worker_{0};
  int inotify_fd_ = -1;                 // owned by the control thread
  std::map<int, std::string> watches_;  // inotify watch descriptor -> directory
  std::mutex watch_mu_;
  mutable std::shared_mutex mu_;  // guards channels_, revoked_, purges_, timeshift_, observer_
  std::map<std::string, std::string> channels_;
  std::set<std::string> revoked_;
  struct Purge {
    uint64_t generation = 0;
    int64_t until_us = 0;
  };
  std::map<std::string, Purge> purges_;
  std::shared_ptr<const TimeShiftRoute> timeshift_;  // guarded by mu_; called without it
  std::shared_ptr<const KeyRoute> key_route_;        // guarded by mu_; called without it
  std::shared_ptr<RequestObserver> observer_;        // guarded by mu_; called without it
  // EXT-X-DATERANGE IDs per media playlist path, for RECENTLY-REMOVED-DATERANGES (_HLS_skip=v2).
  struct DaterangeHistory {
    std::set<std::string> present;
    std::map<std::string, int64_t> removed;  // id -> when it went (monotonic us)
  };
  std::mutex dateranges_mu_;
  std::map<std::string, DaterangeHistory> dateranges_;
};

}  // namespace iptv
