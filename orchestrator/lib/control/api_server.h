// ApiServer: the control plane's HTTP routes, mounted on the origin's SoupServer (one server,
// one port): /healthz, /readyz, /metrics, /api/v1/..., /iptv/playlist.m3u, /iptv/epg.xml.
// schemas/openapi.yaml describes every route; docs/api.md has roles, reason codes and examples.
//
// Use (daemon):
//   iptv::Origin origin(cfg);            origin.start(&err);
//   iptv::control::ControlStore store(db);   // the daemon's one Db
//   iptv::control::ApiServer api({&directory, &records, &events, &metrics, &store, &origin,
//                                 &origin_keyring}, api_config);
//   api.mount();     // after origin.start(); adds the handlers on the server's thread
//   ...
//   api.unmount();   // before origin.stop() (the destructor does it too)
// Everything passed in must outlive the ApiServer. mount()/unmount() may be called from any
// thread except the server's own (they wait for it through Origin::with_server).
//
// Threads: handlers run on the origin's server thread and only read snapshots through the
// directory interfaces (see directory.h) and the SQLite control store. One follower thread of
// ours calls EventLog::wait_after and hands new events to SSE and long-poll clients on the server
// thread; it also prunes old audit rows and expired sessions once an hour.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "control/diagnosis.h"
#include "control/directory.h"
#include "control/sessions.h"
#include "control/store.h"
#include "origin/origin.h"
#include "token/token.h"

namespace iptv::control {

struct ApiConfig {
  SessionConfig sessions;  // playback token TTL
  int64_t playlist_token_ttl_seconds = 30 * 86400;
  int64_t playlist_session_ttl_seconds = 86400;  // tokens inside /iptv/playlist.m3u
  // Base of every URL handed out ("https://tv.example.com"); "" = http://127.0.0.1:<port>.
  // The request's Host header is never used. iptvd sets it from public_base_url (default: the
  // listen address).
  std::string public_url;
  int audit_retention_days = 90;
  // The largest request body read. Bigger (by Content-Length, or a chunked body growing past
  // it) is answered 413 before it is read; so are 401/403/404/405 for requests with a body.
  int64_t max_body_bytes = 1 << 20;
  bool metrics_public = false;  // /metrics without a key (scrapers on a private network)
  int sse_keepalive_seconds = 15;
  int long_poll_max_seconds = 30;
  // The operator console (docs/console.md): its built files, served at "/" ("" = not served:
  // "/" answers 404 naming the reason), the console session lifetime, the preview session's.
  std::string console_dir;
  int64_t console_session_ttl_seconds = 8 * 3600;
  int64_t preview_ttl_seconds = 300;
  // Where workers write <channel>.jpg thumbnails ("" = none), for
  // GET /api/v1/channels/{id}/thumbnail.jpg.
  std::string thumbnail_dir;
  // In a cluster (docs/cluster.md): "" while etcd answers, else why not; /healthz reports it
  // (still 200: the process is alive, and a node cut off from etcd serves nothing it does not
  // own). Empty function: the node runs alone.
  std::function<std::string()> cluster_problem;
  // In a cluster: whether this node owns the channel now (thread-safe). /readyz counts only the
  // channels this node owns; the others are served by their owners. Empty: the node runs alone.
  std::function<bool(const std::string &channel)> owns_channel;
};

struct ApiDeps {
  ChannelDirectory *channels = nullptr;
  RecordSource *records = nullptr;
  EventLog *events = nullptr;
  MetricsSource *metrics = nullptr;
  ControlStore *store = nullptr;
  Origin *origin = nullptr;        // the server we mount on; revocations go here
  const KeyRing *keys = nullptr;   // the origin's key ring (signs playback and playlist tokens)
  Diagnoser *diagnoser = nullptr;  // GET .../diagnosis (null: 503)
};

class ApiServer {
 public:
  ApiServer(ApiDeps deps, ApiConfig config);
  ~ApiServer();
  ApiServer(const ApiServer &) = delete;
  ApiServer &operator=(const ApiServer &) = delete;

  void mount();
  void unmount();

  SessionOpener &sessions();
  // Every route as {method, pattern} ("GET", "/api/v1/channels/{id}"), for the spec test.
  std::vector<std::pair<std::string, std::string>> routes() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// Creates an admin key when the store has no active key and writes it (mode 0600) to `path`.
// Returns true when it created one. For the daemon's first start; the key is never logged.
// JSON as API bodies must be: valid, and no key twice in one object. Discarded (with `error`
// set) otherwise. Unit-tested.
nlohmann::json parse_strict_json(const std::string &text, std::string *error);
// An entitlement tier: up to 64 of [A-Za-z0-9 ._-+], no leading/trailing space; "" is none.
bool valid_tier(std::string_view tier);

bool bootstrap_admin_key(ControlStore &store, const std::string &path, std::string *error);

}  // namespace iptv::control
