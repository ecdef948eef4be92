#include "origin/origin.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <libsoup/soup.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/inotify.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <future>
#include <list>
#include <unordered_map>
#include <vector>

#include "origin/http_conditional.h"
#include "origin/ll_playlist.h"
#include "origin/request_path.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace iptv {

struct Origin::Request {
  SoupServerMessage *msg;
  std::string path;  // as received (percent-encoded)
  std::string method;
  std::string client_ip;
  std::string query;      // raw (still percent-encoded), "" when none
  std::string range;      // the Range header (taken out of the request: libsoup must not see it)
  int64_t hls_msn = -1;   // _HLS_msn (blocking playlist reload), -1: none
  int64_t hls_part = -1;  // _HLS_part (with _HLS_msn), -1: none
  int hls_skip = 0;       // _HLS_skip: 0 none, 1 YES, 2 v2 (Playlist Delta Update)
  const char *bad_query = nullptr;  // the malformed LL-HLS directive's refusal reason
  bool blocking = false;            // asked with _HLS_msn (answered now or after being parked)
  std::string token_segment;        // /hls/<channel>/<token>/...: the viewer's token, or ""
};

// One file as last seen by a serving thread: validated by one stat() per request.
struct FileEntry {
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtim = {};
  std::string resolved;
  GBytes *bytes = nullptr;  // playlists: a copy in memory; segments: their mapping
  int64_t last_msn = -1;    // media playlists: the last segment's media sequence number
  int target_duration = 0;  // media playlists: EXT-X-TARGETDURATION
  int max_age = 0;          // playlists' Cache-Control max-age
  // Media playlists: what they say about parts, blocking and delta updates (ll_playlist.h).
  std::shared_ptr<const MediaPlaylistInfo> info;
  std::string etag;  // "size-mtime" (before a purge's generation)
  std::string last_modified;
  gint64 used = 0;
};

namespace {

constexpr size_t kMaxFiles = 1024;          // per serving thread
constexpr size_t kMaxTokens = 1 << 16;      // per serving thread
constexpr gint64 kFileUnusedUs = 10000000;  // an entry unused this long is dropped
// In EXT-X-KEY URIs of encrypted channels: replaced by the viewer's token segment (KeyRoute).
constexpr char kTokenPlaceholder[] = "{token}";

std::string token_fill(const std::string &token_segment) {
  return token_segment.empty() ? std::string("-") : token_segment;
}

void fill_token(std::string &text, const std::string &token) {
  for (size_t at = 0; (at = text.find(kTokenPlaceholder, at)) != std::string::npos;
       at += token.size())
    text.replace(at, sizeof kTokenPlaceholder - 1, token);
}

}  // namespace

struct Parked;

struct Origin::Server {
  Origin *origin = nullptr;
  bool control = false;
  std::thread thread;
  GMainContext *context = nullptr;
  GMainLoop *loop = nullptr;
  SoupServer *server = nullptr;
  std::unique_ptr<ConnectionManager> conns;     // the connections this thread serves
  std::unique_ptr<ConnectionManager> acceptor;  // control thread: the main port's listener
  mutable std::mutex conns_mu;                  // guards conns and acceptor against stats()
  std::mutex in_mu;                             // guards incoming
  std::vector<int> incoming;                    // sockets handed over by the acceptor
  // This thread's alone.
  std::unordered_map<std::string, FileEntry> files;
  std::unordered_map<std::string, TokenClaims> tokens;
  std::unordered_map<std::string, std::list<Parked *>> parked;  // by file path
  std::map<std::string, uint64_t> parked_channels;              // guarded by stats_mu
  GSource *tick = nullptr;
  unsigned ticks = 0;
  std::atomic<uint64_t> parked_now{0};
  // Counters (read by stats()).
  std::mutex stats_mu;
  OriginStats stats;

  ~Server() {
    for (int fd : incoming) ::close(fd);
    if (context) g_main_context_unref(context);
  }
};

struct Parked {
  Origin::Server *srv = nullptr;
  Origin::Request req;
  std::string root, file;
  std::string channel;
  ParkCondition cond;
  bool file_wait = false;  // a preload-hinted part: waits for the file itself to be there
  gint64 deadline = 0;
  GSocket *socket = nullptr;  // a ref; to notice the client going away
  gulong disconnected_id = 0;
  std::list<Parked *>::iterator pos;
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

// The Content-Type of a file of the tree, by extension.
const char *media_type(const std::string &rel) {
  if (ends_with(rel, ".m3u8")) return "application/vnd.apple.mpegurl";
  if (ends_with(rel, ".ts")) return "video/mp2t";
  if (ends_with(rel, ".m4s")) return "video/iso.segment";
  if (ends_with(rel, ".mp4")) return "video/mp4";
  if (ends_with(rel, ".mpd")) return "application/dash+xml";
  return "application/octet-stream";
}

std::string http_date(time_t t) {
  GDateTime *dt = g_date_time_new_from_unix_utc(t);
  gchar *s = g_date_time_format(dt, "%a, %d %b %Y %H:%M:%S GMT");
  std::string out = s;
  g_free(s);
  g_date_time_unref(dt);
  return out;
}

// Target duration, max-age and last media sequence number of a playlist.
void scan_playlist(FileEntry &fe) {
  gsize len = 0;
  const char *data = static_cast<const char *>(g_bytes_get_data(fe.bytes, &len));
  std::string_view v(data, len);
  // A DASH MPD like a media playlist: half its update period ("PT4.000S"); a static one 2 s.
  constexpr std::string_view kMup = "minimumUpdatePeriod=\"PT";
  size_t mup = v.find(kMup);
  if (mup != std::string_view::npos) {
    fe.max_age =
        std::max(1, (int)(std::atof(std::string(v.substr(mup + kMup.size(), 12)).c_str()) / 2));
    return;
  }
  size_t at = v.find("#EXT-X-TARGETDURATION:");
  if (at == std::string_view::npos) {
    fe.max_age = 2;  // multivariant: changes rarely, but may
    return;
  }
  auto info = std::make_shared<MediaPlaylistInfo>(scan_media_playlist(v));
  fe.target_duration = info->target_duration;
  fe.max_age = std::max(1, fe.target_duration / 2);
  fe.last_msn = info->last_msn;
  fe.info = std::move(info);
}

void drop_file(FileEntry &fe) {
  if (fe.bytes) g_bytes_unref(fe.bytes);
  fe.bytes = nullptr;
}

bool same_file(const FileEntry &fe, const struct stat &st) {
  return fe.dev == st.st_dev && fe.ino == st.st_ino && fe.size == st.st_size &&
         fe.mtim.tv_sec == st.st_mtim.tv_sec && fe.mtim.tv_nsec == st.st_mtim.tv_nsec;
}

enum class Lookup { kFound, kNotFound, kOutside };

// The file at `full` (under `root`), from this thread's cache when it has not changed.
Lookup lookup_file(Origin::Server &srv, const std::string &root, const std::string &full,
                   bool playlist, FileEntry **out) {
  struct stat st;
  auto it = srv.files.find(full);
  if (stat(full.c_str(), &st) != 0) {
    if (it != srv.files.end()) {
      drop_file(it->second);
      srv.files.erase(it);
    }
    return Lookup::kNotFound;
  }
  gint64 now = g_get_monotonic_time();
  if (it != srv.files.end() && same_file(it->second, st)) {
    it->second.used = now;
    *out = &it->second;
    return Lookup::kFound;
  }
  // New or changed: resolve it again (symlinks out of the tree are refused: the resolved file
  // must stay under the root), and load it.
  char resolved[PATH_MAX];
  if (!realpath(full.c_str(), resolved)) return Lookup::kNotFound;
  if (!starts_with(resolved, root + "/")) return Lookup::kOutside;
  if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode)) return Lookup::kNotFound;
  FileEntry fe;
  fe.dev = st.st_dev;
  fe.ino = st.st_ino;
  fe.size = st.st_size;
  fe.mtim = st.st_mtim;
  fe.resolved = resolved;
  fe.used = now;
  fe.etag = "\"" + std::to_string((long long)st.st_size) + "-" +
            std::to_string((long long)st.st_mtim.tv_sec) + "." +
            std::to_string((long long)st.st_mtim.tv_nsec) + "\"";
  fe.last_modified = http_date(st.st_mtim.tv_sec);
  if (playlist) {
    // A copy in memory: a playlist may be rewritten in place by other producers.
    gchar *data = nullptr;
    gsize len = 0;
    if (!g_file_get_contents(resolved, &data, &len, nullptr)) return Lookup::kNotFound;
    fe.bytes = g_bytes_new_take(data, len);
    scan_playlist(fe);
    if (fe.info && fe.info->can_skip_dateranges)
      srv.origin->removed_dateranges(full, *fe.info);  // every version, for _HLS_skip=v2
  } else {
    GMappedFile *mf = g_mapped_file_new(resolved, FALSE, nullptr);
    if (!mf) return Lookup::kNotFound;
    fe.bytes = g_mapped_file_get_bytes(mf);
    g_mapped_file_unref(mf);
  }
  if (it != srv.files.end()) {
    drop_file(it->second);
    it->second = fe;
    *out = &it->second;
    return Lookup::kFound;
  }
  if (srv.files.size() >= kMaxFiles) {
    for (auto i = srv.files.begin(); i != srv.files.end();) {
      if (now - i->second.used > kFileUnusedUs / 10) {
        drop_file(i->second);
        i = srv.files.erase(i);
      } else {
        ++i;
      }
    }
    if (srv.files.size() >= kMaxFiles) {
      for (auto &[k, v] : srv.files) drop_file(v);
      srv.files.clear();
    }
  }
  *out = &srv.files.emplace(full, fe).first->second;
  return Lookup::kFound;
}

// `<stem>.<part index>.<ext>`: the contract's part file names (docs/low-latency-origin.md).
bool looks_like_part(const std::string &rel) {
  size_t slash = rel.rfind('/');
  std::string_view name(rel);
  name.remove_prefix(slash == std::string::npos ? 0 : slash + 1);
  size_t ext = name.rfind('.');
  if (ext == std::string_view::npos || ext == 0) return false;
  size_t dot = name.rfind('.', ext - 1);
  if (dot == std::string_view::npos || dot + 1 == ext) return false;
  for (size_t i = dot + 1; i < ext; ++i)
    if (!g_ascii_isdigit(name[i])) return false;
  return true;
}

// Tells the observer about one answered /hls request (request_observer.h).
void notify(RequestObserver &obs, const Origin::Request &req, const MediaPath &mp, bool known,
            int status, uint64_t bytes) {
  GUri *uri = soup_server_message_get_uri(req.msg);
  const char *q = uri ? g_uri_get_query(uri) : nullptr;
  SoupMessageHeaders *h = soup_server_message_get_request_headers(req.msg);
  ObservedRequest o;
  o.channel = mp.channel;
  o.rel = mp.rel;
  o.known_channel = known;
  o.status = status;
  o.bytes = bytes;
  o.query = q ? q : "";
  o.header = [h](const char *name) { return soup_message_headers_get_one(h, name); };
  obs.on_request(o);
}

void on_request(SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data) {
  auto *srv = static_cast<Origin::Server *>(user_data);
  // The handler's `path` argument is already percent-decoded; tokens need the raw segments.
  GUri *uri = soup_server_message_get_uri(msg);
  const char *raw = uri ? g_uri_get_path(uri) : path;
  const char *host = soup_server_message_get_remote_host(msg);
  Origin::Request req{msg, raw ? raw : "", soup_server_message_get_method(msg), host ? host : ""};
  if (const char *q = uri ? g_uri_get_query(uri) : nullptr) req.query = q;
  SoupMessageHeaders *rq = soup_server_message_get_request_headers(msg);
  // Ranges are answered by the origin only (one range); libsoup must never see the header.
  if (const char *r = soup_message_headers_get_one(rq, "Range")) req.range = r;
  soup_message_headers_remove(rq, "Range");
  if (query) {
    HlsQuery q = parse_hls_query([&](const char *key) {
      return static_cast<const char *>(g_hash_table_lookup(query, key));
    });
    req.hls_msn = q.msn;
    req.hls_part = q.part;
    req.hls_skip = q.skip;
    req.bad_query = q.bad;
    req.blocking = req.hls_msn >= 0;
  }
  srv->origin->handle(*srv, req);
}

void count_into(Origin::Server &srv, int status, uint64_t bytes, const char *reason) {
  std::lock_guard<std::mutex> lock(srv.stats_mu);
  srv.stats.requests++;
  srv.stats.bytes += bytes;
  srv.stats.statuses[status]++;
  if (reason) srv.stats.denials[reason]++;
}

void unpark(Parked *p) {
  auto &list = p->srv->parked[p->file];
  list.erase(p->pos);
  if (list.empty()) p->srv->parked.erase(p->file);
  p->srv->parked_now--;
  if (p->disconnected_id) g_signal_handler_disconnect(p->req.msg, p->disconnected_id);
  p->disconnected_id = 0;
  std::lock_guard<std::mutex> lock(p->srv->stats_mu);
  auto it = p->srv->parked_channels.find(p->channel);
  if (it != p->srv->parked_channels.end() && --it->second == 0) p->srv->parked_channels.erase(it);
}

void free_parked(Parked *p) {
  if (p->socket) g_object_unref(p->socket);
  g_object_unref(p->req.msg);
  delete p;
}

// Answers a parked request with `status` (timeout, client gone) and lets libsoup send it.
void end_parked(Parked *p, int status) {
  unpark(p);
  SoupServerMessage *msg = p->req.msg;
  respond_status(msg, status);
  if (status == 503)
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "1");
  count_into(*p->srv, status, 0, nullptr);
  soup_server_message_unpause(msg);
  free_parked(p);
}

// A segment's body sent with sendfile(2) from the page cache, on the connection's socket, while
// libsoup holds the message paused after writing the headers (it writes no body bytes itself:
// the body it holds stays empty and is completed when the file has gone out).
constexpr gsize kSendfileMin = 64 * 1024;

// TCP_CORK on the connection's socket until libsoup has written the message's body ("wrote-body"),
// so headers and body go out in one segment. Uncorking pushes what is queued.
void cork_until_body_written(SoupServerMessage *msg, GSocket *sock) {
  int fd = g_socket_get_fd(sock);
  int on = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) != 0) return;
  g_signal_connect_object(msg, "wrote-body", G_CALLBACK(+[](SoupServerMessage *, gpointer d) {
                            int off = 0;
                            setsockopt(g_socket_get_fd(G_SOCKET(d)), IPPROTO_TCP, TCP_CORK, &off,
                                       sizeof off);
                          }),
                          sock, G_CONNECT_DEFAULT);
}

struct FileSend {
  SoupServerMessage *msg;  // a ref
  GSocket *socket;         // a ref
  int file = -1;
  off_t offset = 0;
  off_t end = 0;
  GSource *watch = nullptr;
  gulong headers_id = 0, disconnected_id = 0, finished_id = 0;
};

void file_send_free(FileSend *f) {
  if (f->watch) {
    g_source_destroy(f->watch);
    g_source_unref(f->watch);
  }
  if (f->headers_id) g_signal_handler_disconnect(f->msg, f->headers_id);
  if (f->disconnected_id) g_signal_handler_disconnect(f->msg, f->disconnected_id);
  if (f->finished_id) g_signal_handler_disconnect(f->msg, f->finished_id);
  if (f->file >= 0) ::close(f->file);
  g_object_unref(f->socket);
  g_object_unref(f->msg);
  delete f;
}

// Sends what the socket takes; true when done (sent, or failed: then the connection is shut so
// the client never mistakes a short body for the file, and libsoup ends it).
bool file_send_pump(FileSend *f) {
  int fd = g_socket_get_fd(f->socket);
  while (f->offset < f->end) {
    ssize_t n = sendfile(fd, f->file, &f->offset, static_cast<size_t>(f->end - f->offset));
    if (n > 0) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
    if (n < 0 && errno == EINTR) continue;
    g_socket_shutdown(f->socket, TRUE, TRUE, nullptr);
    break;
  }
  return true;
}

void file_send_finish(FileSend *f) {
  SoupServerMessage *msg = f->msg;
  g_object_ref(msg);
  file_send_free(f);
  soup_message_body_complete(soup_server_message_get_response_body(msg));
  soup_server_message_unpause(msg);
  g_object_unref(msg);
}

void file_send_start(FileSend *f) {
  g_signal_handler_disconnect(f->msg, f->headers_id);
  f->headers_id = 0;
  soup_server_message_pause(f->msg);
  if (file_send_pump(f)) return file_send_finish(f);
  f->watch = g_socket_create_source(
      f->socket, static_cast<GIOCondition>(G_IO_OUT | G_IO_ERR | G_IO_HUP), nullptr);
  g_source_set_callback(
      f->watch, reinterpret_cast<GSourceFunc>(+[](GSocket *, GIOCondition, gpointer d) -> gboolean {
        auto *f = static_cast<FileSend *>(d);
        if (!file_send_pump(f)) return G_SOURCE_CONTINUE;
        g_source_unref(f->watch);
        f->watch = nullptr;
        file_send_finish(f);
        return G_SOURCE_REMOVE;
      }),
      f, nullptr);
  g_source_attach(f->watch, g_main_context_get_thread_default());
}

}  // namespace

Origin::Origin(OriginConfig config) : config_(std::move(config)) {}

Origin::~Origin() {
  stop();
}

bool Origin::start(std::string *error) {
  if (control_) return true;
  int n = config_.threads > 0 ? config_.threads
                              : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  control_ = std::make_unique<Server>();
  control_->origin = this;
  control_->control = true;
  control_->context = g_main_context_new();
  control_context_ = control_->context;
  for (int i = 0; i < n; ++i) {
    auto w = std::make_unique<Server>();
    w->origin = this;
    w->context = g_main_context_new();
    workers_.push_back(std::move(w));
  }
  // The control thread binds and starts accepting (sockets for serving threads wait in their
  // queues until those run), then the serving threads share its listening socket.
  std::string err;
  bool ok = start_server(*control_, &err);
  for (size_t i = 0; ok && i < workers_.size(); ++i) ok = start_server(*workers_[i], &err);
  if (!ok) {
    stop();
    if (error) *error = err;
    return false;
  }
  return true;
}

bool Origin::start_server(Server &srv, std::string *error) {
  std::promise<std::string> started;
  auto fut = started.get_future();
  srv.thread = std::thread([this, &srv, &started] { run(&srv, &started); });
  std::string err = fut.get();
  if (!err.empty()) {
    srv.thread.join();
    *error = err;
    return false;
  }
  return true;
}

void Origin::run(Server *srv, std::promise<std::string> *started) {
  g_main_context_push_thread_default(srv->context);
  srv->server = soup_server_new("server-header", "gst-iptv-origin", nullptr);
  soup_server_add_handler(srv->server, "/hls", on_request, srv, nullptr);
  soup_server_add_handler(srv->server, "/hls-auth", on_request, srv, nullptr);
  soup_server_add_handler(srv->server, "/keys", on_request, srv, nullptr);
  // Byte ranges are the origin's alone (one range, see handle()); for every other route libsoup
  // would answer any number of ranges as multipart/byteranges, so the header goes.
  g_signal_connect(
      srv->server, "request-read", G_CALLBACK(+[](SoupServer *, SoupServerMessage *msg, gpointer) {
        GUri *uri = soup_server_message_get_uri(msg);
        const char *p = uri ? g_uri_get_path(uri) : nullptr;
        if (!p || !g_str_has_prefix(p, "/hls/"))
          soup_message_headers_remove(soup_server_message_get_request_headers(msg), "Range");
      }),
      nullptr);
  std::string err;
  bool ok = true;
  {
    std::lock_guard<std::mutex> lock(srv->conns_mu);
    srv->conns = std::make_unique<ConnectionManager>(srv->server, config_.limits);
    if (srv->control) srv->acceptor = std::make_unique<ConnectionManager>(nullptr, config_.limits);
  }
  if (srv->control) {
    bool shared = config_.control_port < 0;
    ConnectionRouter router;
    router.classify = shared;
    router.route = [this, shared](int fd, bool media) {
      if (shared && !media) return control_->conns->adopt(fd);
      Server &w = *workers_[next_worker_++ % workers_.size()];
      bool wake;
      {
        std::lock_guard<std::mutex> lock(w.in_mu);
        wake = w.incoming.empty();
        w.incoming.push_back(fd);
      }
      if (wake)
        g_main_context_invoke(
            w.context,
            [](gpointer d) -> gboolean {
              auto *w = static_cast<Server *>(d);
              std::vector<int> fds;
              {
                std::lock_guard<std::mutex> lock(w->in_mu);
                fds.swap(w->incoming);
              }
              for (int fd : fds) w->conns->adopt(fd);
              return G_SOURCE_REMOVE;
            },
            &w);
    };
    router.pressure = [this](int n) {
      control_->conns->shed(n);
      for (auto &w : workers_) {
        struct Shed {
          Server *w;
          int n;
        };
        g_main_context_invoke_full(
            w->context, G_PRIORITY_HIGH,
            [](gpointer d) -> gboolean {
              auto *s = static_cast<Shed *>(d);
              if (s->w->conns) s->w->conns->shed(s->n);
              return G_SOURCE_REMOVE;
            },
            new Shed{w.get(), n}, [](gpointer d) { delete static_cast<Shed *>(d); });
      }
    };
    srv->acceptor->set_router(std::move(router));
    int port = 0;
    ok = srv->acceptor->listen(config_.address, config_.port, &port, &err);
    if (ok) port_ = port;
    if (ok && !shared) {
      int cport = 0;
      ok = srv->conns->listen(config_.control_address, config_.control_port, &cport, &err);
      if (ok) control_port_ = cport;
    } else if (ok) {
      ok = srv->conns->share_listener(srv->acceptor->listen_fd(), &err);
    }
    if (ok) {
      inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
      if (inotify_fd_ >= 0) {
        GSource *s = g_unix_fd_source_new(inotify_fd_, G_IO_IN);
        g_source_set_callback(
            s, reinterpret_cast<GSourceFunc>(+[](int, GIOCondition, gpointer d) -> gboolean {
              static_cast<Origin *>(d)->on_inotify();
              return G_SOURCE_CONTINUE;
            }),
            this, nullptr);
        g_source_attach(s, srv->context);
        g_source_unref(s);
      }
    }
  } else {
    ok = srv->conns->share_listener(control_->acceptor->listen_fd(), &err);
  }
  // Parked requests: timeouts every 250 ms, clients gone every second; the file cache's sweep.
  srv->tick = g_timeout_source_new(250);
  g_source_set_callback(
      srv->tick,
      [](gpointer d) -> gboolean {
        auto *srv = static_cast<Server *>(d);
        gint64 now = g_get_monotonic_time();
        bool check_peers = ++srv->ticks % 4 == 0;
        std::vector<std::pair<Parked *, int>> done;
        for (auto &[file, list] : srv->parked)
          for (Parked *p : list) {
            if (now >= p->deadline) {
              done.push_back({p, 503});
              srv->stats_mu.lock();
              srv->stats.parked_timeouts++;
              srv->stats_mu.unlock();
            } else if (check_peers && p->socket) {
              char b;
              ssize_t n = recv(g_socket_get_fd(p->socket), &b, 1, MSG_PEEK | MSG_DONTWAIT);
              if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                done.push_back({p, 503});
                srv->stats_mu.lock();
                srv->stats.parked_gone++;
                srv->stats_mu.unlock();
              }
            }
          }
        for (auto &[p, status] : done) end_parked(p, status);
        if (srv->ticks % 20 == 0)
          for (auto i = srv->files.begin(); i != srv->files.end();) {
            if (now - i->second.used > kFileUnusedUs) {
              drop_file(i->second);
              i = srv->files.erase(i);
            } else {
              ++i;
            }
          }
        return G_SOURCE_CONTINUE;
      },
      srv, nullptr);
  g_source_attach(srv->tick, srv->context);
  if (ok) {
    srv->loop = g_main_loop_new(srv->context, FALSE);
    started->set_value("");
    g_main_loop_run(srv->loop);
    g_main_loop_unref(srv->loop);
    srv->loop = nullptr;
  } else {
    started->set_value(err);
  }
  g_source_destroy(srv->tick);
  g_source_unref(srv->tick);
  srv->tick = nullptr;
  // Parked requests end with their connections.
  std::vector<Parked *> left;
  for (auto &[file, list] : srv->parked)
    for (Parked *p : list) left.push_back(p);
  for (Parked *p : left) {
    unpark(p);
    free_parked(p);
  }
  if (srv->acceptor) srv->acceptor->stop_accepting();
  srv->conns->stop_accepting();
  soup_server_disconnect(srv->server);
  {
    std::lock_guard<std::mutex> lock(srv->conns_mu);
    srv->acceptor.reset();
    srv->conns.reset();
  }
  g_object_unref(srv->server);
  srv->server = nullptr;
  for (auto &[k, v] : srv->files) drop_file(v);
  srv->files.clear();
  if (srv->control && inotify_fd_ >= 0) {
    ::close(inotify_fd_);
    inotify_fd_ = -1;
  }
  g_main_context_pop_thread_default(srv->context);
}

namespace {

void invoke_and_wait(GMainContext *ctx, const std::function<void()> &fn) {
  if (g_main_context_is_owner(ctx)) return fn();
  std::promise<void> done;
  struct Call {
    const std::function<void()> *fn;
    std::promise<void> *done;
  } call{&fn, &done};
  g_main_context_invoke(
      ctx,
      [](gpointer data) -> gboolean {
        auto *c = static_cast<Call *>(data);
        (*c->fn)();
        c->done->set_value();
        return G_SOURCE_REMOVE;
      },
      &call);
  done.get_future().wait();
}

void quit_server(Origin::Server &srv) {
  if (!srv.thread.joinable()) return;
  // Quit from inside the server's context, so the loop is running when it is told to stop.
  g_main_context_invoke(
      srv.context,
      [](gpointer data) -> gboolean {
        auto *s = static_cast<Origin::Server *>(data);
        if (s->loop) g_main_loop_quit(s->loop);
        return G_SOURCE_REMOVE;
      },
      &srv);
  srv.thread.join();
}

}  // namespace

void Origin::stop() {
  if (!control_) return;
  // No more connections for the serving threads, then they stop, then the control thread.
  if (control_->thread.joinable())
    invoke_and_wait(control_->context, [this] {
      if (control_->acceptor) control_->acceptor->stop_accepting();
    });
  for (auto &w : workers_) quit_server(*w);
  quit_server(*control_);
  workers_.clear();
  control_.reset();
  control_context_ = nullptr;
}

void Origin::with_server(const std::function<void(SoupServer *)> &fn) {
  if (!control_ || !control_->thread.joinable()) return;
  invoke_and_wait(control_->context, [&] { fn(control_->server); });
}

void Origin::with_media_servers(const std::function<void(SoupServer *)> &fn) {
  for (auto &w : workers_)
    if (w->thread.joinable()) invoke_and_wait(w->context, [&] { fn(w->server); });
}

void Origin::run_on_control(const std::function<void()> &fn) {
  if (!control_) return fn();
  invoke_and_wait(control_->context, fn);
}

void Origin::add_channel(const std::string &id, const std::string &root) {
  char resolved[PATH_MAX];
  std::string r = realpath(root.c_str(), resolved) ? std::string(resolved) : root;
  std::unique_lock lock(mu_);
  channels_[id] = r;
}

void Origin::remove_channel(const std::string &id) {
  std::unique_lock lock(mu_);
  channels_.erase(id);
}

void Origin::purge_channel(const std::string &id, int seconds) {
  std::unique_lock lock(mu_);
  auto &p = purges_[id];
  p.generation++;
  p.until_us = g_get_monotonic_time() + (gint64)seconds * 1000000;
}

void Origin::set_observer(std::shared_ptr<RequestObserver> observer) {
  std::unique_lock lock(mu_);
  observer_ = std::move(observer);
}

void Origin::revoke_session(const std::string &session) {
  std::unique_lock lock(mu_);
  revoked_.insert(session);
}

bool Origin::session_revoked(const std::string &session) const {
  std::shared_lock lock(mu_);
  return revoked_.count(session) > 0;
}

OriginStats Origin::stats() const {
  OriginStats out;
  std::vector<Server *> all;
  if (control_) all.push_back(control_.get());
  for (auto &w : workers_) all.push_back(w.get());
  for (Server *s : all) {
    {
      std::lock_guard<std::mutex> lock(s->stats_mu);
      const OriginStats &x = s->stats;
      out.requests += x.requests;
      out.bytes += x.bytes;
      for (auto &[k, v] : x.denials) out.denials[k] += v;
      for (auto &[k, v] : x.statuses) out.statuses[k] += v;
      for (auto &[k, v] : x.edge_auth) out.edge_auth[k] += v;
      out.parked_answered += x.parked_answered;
      out.parked_timeouts += x.parked_timeouts;
      out.parked_gone += x.parked_gone;
      out.token_cache_hits += x.token_cache_hits;
      for (auto &[k, v] : s->parked_channels) out.parked_by_channel[k] += v;
      for (auto &[k, v] : x.channels) {
        out.channels[k].requests += v.requests;
        out.channels[k].errors += v.errors;
      }
    }
    out.parked += s->parked_now;
    std::lock_guard<std::mutex> lock(s->conns_mu);
    for (ConnectionManager *m : {s->conns.get(), s->acceptor.get()}) {
      if (!m) continue;
      ConnectionStats c = m->stats();
      out.connections.open += c.open;
      out.connections.accepted += c.accepted;
      out.connections.peer_closed += c.peer_closed;
      out.connections.idle_timeouts += c.idle_timeouts;
      out.connections.header_timeouts += c.header_timeouts;
      out.connections.shed += c.shed;
      out.connections.accept_errors += c.accept_errors;
    }
  }
  return out;
}

// ---- parked requests ---------------------------------------------------------------------------

void Origin::watch_dir(const std::string &dir) {
  if (inotify_fd_ < 0) return;
  std::lock_guard<std::mutex> lock(watch_mu_);
  int wd = inotify_add_watch(inotify_fd_, dir.c_str(), IN_MOVED_TO | IN_CLOSE_WRITE);
  if (wd >= 0) watches_[wd] = dir;
}

void Origin::on_inotify() {
  alignas(struct inotify_event) char buf[16384];
  for (;;) {
    ssize_t n = read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) return;
    std::set<std::string> paths;
    for (char *p = buf; p < buf + n;) {
      auto *ev = reinterpret_cast<struct inotify_event *>(p);
      p += sizeof(struct inotify_event) + ev->len;
      std::lock_guard<std::mutex> lock(watch_mu_);
      auto it = watches_.find(ev->wd);
      if (it == watches_.end()) continue;
      if (ev->mask & IN_IGNORED) {
        watches_.erase(it);
        continue;
      }
      if (ev->len) paths.insert(it->second + "/" + ev->name);
    }
    for (const auto &path : paths) published(path);
  }
}

// A new version of `path` is there: each thread with requests parked on it looks again.
void Origin::published(const std::string &path) {
  std::vector<Server *> all{control_.get()};
  for (auto &w : workers_) all.push_back(w.get());
  for (Server *s : all) {
    if (s->parked_now == 0) continue;
    struct Wake {
      Server *srv;
      std::string path;
    };
    g_main_context_invoke_full(
        s->context, G_PRIORITY_DEFAULT,
        [](gpointer d) -> gboolean {
          auto *w = static_cast<Wake *>(d);
          Server &srv = *w->srv;
          auto it = srv.parked.find(w->path);
          if (it == srv.parked.end()) return G_SOURCE_REMOVE;
          std::vector<Parked *> ready;
          for (Parked *p : it->second) {
            FileEntry *fe = nullptr;
            Lookup l = lookup_file(srv, p->root, p->file, !p->file_wait, &fe);
            if (p->file_wait && l == Lookup::kNotFound) continue;  // the part is not there yet
            if (!p->file_wait && l == Lookup::kFound && fe->info &&
                block_verdict(*fe->info, p->cond.msn, p->cond.part) == BlockVerdict::kWait)
              continue;  // still waiting
            ready.push_back(p);
          }
          for (Parked *p : ready) {
            unpark(p);
            // Answered like a new request (token and revocation checked again), with the
            // version now there.
            p->req.hls_msn = -1;
            p->req.hls_part = -1;
            srv.origin->handle(srv, p->req);
            srv.stats_mu.lock();
            srv.stats.parked_answered++;
            srv.stats_mu.unlock();
            soup_server_message_unpause(p->req.msg);
            free_parked(p);
          }
          return G_SOURCE_REMOVE;
        },
        new Wake{s, path}, [](gpointer d) { delete static_cast<Wake *>(d); });
  }
}

TokenError Origin::check_token(Server *srv, const std::string &channel,
                               const std::string &token_segment, const std::string &rel,
                               const std::string &client_ip, int64_t *expiry) const {
  int64_t now = g_get_real_time() / 1000000;
  if (config_.mode == TokenMode::kEdgeAuth) {
    TokenClaims claims;
    TokenError e;
    std::string path = "/hls/" + channel + rel;
    auto it = srv ? srv->tokens.find(token_segment) : decltype(srv->tokens)::iterator();
    if (srv && it != srv->tokens.end()) {
      // Verified before (signature and layout): what depends on the request or the time is
      // checked again, in verify_token's order.
      claims = it->second;
      std::string_view acl = claims.acl;
      if (now < claims.start)
        e = TokenError::kNotYetValid;
      else if (now >= claims.expiry)
        e = TokenError::kExpired;
      else if (acl.empty() || acl.back() != '*' ||
               !starts_with(path, acl.substr(0, acl.size() - 1)))
        e = TokenError::kScope;
      else if (!claims.ip.empty() && claims.ip != client_ip)
        e = TokenError::kIp;
      else
        e = TokenError::kOk;
      if (e == TokenError::kExpired) srv->tokens.erase(it);
      std::lock_guard<std::mutex> lock(srv->stats_mu);
      srv->stats.token_cache_hits++;
    } else {
      e = verify_token(token_from_path_segment(token_segment), config_.keys, path, now, client_ip,
                       &claims);
      if (srv && (e == TokenError::kOk || e == TokenError::kScope || e == TokenError::kIp)) {
        // Remembered until it expires (only tokens whose signature checked out).
        if (srv->tokens.size() >= kMaxTokens) {
          for (auto i = srv->tokens.begin(); i != srv->tokens.end();)
            i = i->second.expiry <= now ? srv->tokens.erase(i) : std::next(i);
          if (srv->tokens.size() >= kMaxTokens) srv->tokens.clear();
        }
        srv->tokens.emplace(token_segment, claims);
      }
    }
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
void Origin::handle_auth(Server &srv, Request &req) {
  SoupServerMessage *msg = req.msg;
  auto count = [&](const char *reason) {
    std::lock_guard<std::mutex> lock(srv.stats_mu);
    srv.stats.edge_auth[reason ? reason : "ok"]++;
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
    std::shared_lock lock(mu_);
    known = channels_.count(channel) > 0;
  }
  int max_age = std::max(0, config_.edge_auth_max_age);
  // Token first, as for media: an unknown channel answers like a known one with the same token.
  int64_t expiry = 0;
  TokenError e = check_token(&srv, channel, parts[3], "/", req.client_ip, &expiry);
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

void Origin::handle(Server &srv, Request &req) {
  if (starts_with(req.path, "/hls-auth/") || req.path == "/hls-auth") return handle_auth(srv, req);
  if (starts_with(req.path, "/keys/") || req.path == "/keys") return handle_key(srv, req);
  SoupServerMessage *msg = req.msg;
  const MediaPath *observed = nullptr;  // set once the path parsed: the observer hears of it
  bool known_channel = false;
  std::string traffic_channel;  // set once the request is known to be for a served channel
  auto count = [&](int status, uint64_t bytes = 0, const char *reason = nullptr) {
    count_into(srv, status, bytes, reason);
    if (!traffic_channel.empty()) {
      std::lock_guard<std::mutex> lock(srv.stats_mu);
      ChannelTraffic &t = srv.stats.channels[traffic_channel];
      t.requests++;
      if (status >= 400) t.errors++;
    }
    std::shared_ptr<RequestObserver> obs;
    if (observed) {
      std::shared_lock lock(mu_);
      obs = observer_;
    }
    if (obs) notify(*obs, req, *observed, known_channel, status, bytes);
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
  observed = &mp;
  req.token_segment = mp.token_segment;
  const std::string &channel = mp.channel;
  const std::string &rel = mp.rel;
  // The token is checked before the channel is looked up: an unknown channel answers exactly
  // like a known one with the same token, so channel ids cannot be enumerated.
  if (config_.mode != TokenMode::kNone) {
    TokenError e = check_token(&srv, channel, mp.token_segment, rel, req.client_ip, nullptr);
    if (e != TokenError::kOk) {
      {
        std::shared_lock lock(mu_);
        if (channels_.count(channel)) traffic_channel = channel;
      }
      return deny(to_string(e), e == TokenError::kExpired ? 410 : 403);
    }
  }
  std::string root;
  {
    std::shared_lock lock(mu_);
    auto it = channels_.find(channel);
    if (it != channels_.end()) root = it->second;
  }
  known_channel = !root.empty();
  // A valid token for a channel not served (here, or not yet): like a file not there (yet).
  if (root.empty()) return not_found();
  traffic_channel = channel;
  // The time route: the MPD's UTCTiming (urn:mpeg:dash:utc:http-iso:2014, value "time",
  // relative to the MPD, so it carries the token): the server's UTC, never cached.
  if (rel == "/time") {
    GDateTime *now = g_date_time_new_now_utc();
    gchar *iso = g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
    std::string body(iso);
    g_free(iso);
    g_date_time_unref(now);
    body.erase(body.size() - 4, 3);  // microseconds -> milliseconds
    respond_status(msg, 200);
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
    soup_message_headers_set_content_type(h, "text/plain", nullptr);
    if (req.method == "GET")
      soup_message_body_append(soup_server_message_get_response_body(msg), SOUP_MEMORY_COPY,
                               body.data(), body.size());
    return count(200, req.method == "HEAD" ? 0 : body.size());
  }
  std::optional<RoutedAnswer> routed;
  if (!req.query.empty() || rel.find("/archive/") != std::string::npos) {
    std::shared_ptr<const TimeShiftRoute> route;
    {
      std::shared_lock lock(mu_);
      route = timeshift_;
    }
    if (route && *route) routed = (*route)(channel, rel, req.query);
  }
  if (routed && routed->status != 200) {
    respond_status(msg, routed->status, routed->reason.c_str(), routed->max_age);
    soup_server_message_set_response(msg, "text/plain", SOUP_MEMORY_COPY, routed->body.data(),
                                     routed->body.size());
    return count(routed->status, 0, routed->reason.c_str());
  } else if (routed && routed->file.empty()) {
    // A generated answer (a catch-up playlist): its validator is its content's hash.
    SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
    // A playlist with the viewer's token in its key URIs is that viewer's alone: `private`, so
    // a shared cache (an edge keyed without the token) never hands it to another viewer.
    bool personal = routed->body.find(kTokenPlaceholder) != std::string::npos;
    fill_token(routed->body, token_fill(mp.token_segment));
    gchar *sum =
        g_compute_checksum_for_string(G_CHECKSUM_SHA256, routed->body.c_str(), routed->body.size());
    std::string etag = "\"" + std::string(sum, 32) + "\"";
    g_free(sum);
    soup_message_headers_replace(h, "ETag", etag.c_str());
    soup_message_headers_replace(
        h, "Cache-Control",
        ((personal ? "private, max-age=" : "max-age=") + std::to_string(routed->max_age)).c_str());
    soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
    const char *inm = soup_message_headers_get_one(rq, "If-None-Match");
    if (inm && (std::string(inm) == etag || std::string(inm) == "*")) {
      soup_server_message_set_status(msg, 304, nullptr);
      return count(304);
    }
    // HEAD: libsoup sends the headers (Content-Length included) without the body.
    soup_server_message_set_status(msg, 200, nullptr);
    soup_server_message_set_response(msg, routed->content_type.c_str(), SOUP_MEMORY_COPY,
                                     routed->body.data(), routed->body.size());
    return count(200, req.method == "HEAD" ? 0 : routed->body.size());
  }
  bool mpd = !routed && ends_with(rel, ".mpd");
  bool playlist = !routed && (ends_with(rel, ".m3u8") || mpd);
  // fMP4 init segments are rewritten when a restart brings other parameter sets (init.mp4 of a
  // run whose segments left the window): cached briefly and revalidated by ETag.
  bool init = !routed && ends_with(rel, ".mp4");
  std::string full = root + rel;
  std::string file_root = root;
  if (routed) {
    // An archived file: the route looked it up (it is not under the live tree).
    full = routed->file;
    file_root = full.substr(0, full.rfind('/'));
  }
  FileEntry *fe = nullptr;
  const bool media_playlist = playlist && !mpd;
  // The LL-HLS directives are for media playlists only; elsewhere they are ignored.
  if (req.bad_query && media_playlist) return deny(req.bad_query, 400);
  int hold_target = 0;  // > 0: a preload-hinted part not there yet (its playlist's target)
  switch (lookup_file(srv, file_root, full, playlist, &fe)) {
    case Lookup::kFound:
      break;
    case Lookup::kNotFound:
      if (!routed && !playlist && (hold_target = preload_hinted(srv, root, full)) > 0) {
        // Held until the packager renames it into place (watched first, then looked for again:
        // a rename in between is not missed).
        watch_dir(full.substr(0, full.rfind('/')));
        if (lookup_file(srv, file_root, full, false, &fe) == Lookup::kFound) break;
        park(srv, req, channel, root, full, ParkCondition{}, hold_target, true);
        return;
      }
      if (!routed && !playlist && looks_like_part(rel)) {
        // A part not published (yet) is never cached: it will be there within a part target.
        respond_status(msg, 404);
        return count(404);
      }
      return not_found();
    case Lookup::kOutside:
      return deny("path");
  }
  // Blocking playlist reload: wait (parked, no thread held) for the version asked for.
  auto verdict = [&]() {
    if (!media_playlist || req.hls_msn < 0 || !fe->info || fe->last_msn < 0)
      return BlockVerdict::kReady;
    return block_verdict(*fe->info, req.hls_msn, req.hls_part);
  };
  BlockVerdict v = verdict();
  if (v == BlockVerdict::kTooFar)
    return deny(req.hls_part >= 0 && req.hls_msn <= fe->last_msn + 2 ? "hls-part" : "hls-msn", 400);
  if (v == BlockVerdict::kWait) {
    // The directory is watched first, then the file looked at again: a publish in between is
    // not missed.
    watch_dir(full.substr(0, full.rfind('/')));
    FileEntry *again = nullptr;
    Lookup l = lookup_file(srv, root, full, true, &again);
    if (l != Lookup::kFound) return l == Lookup::kOutside ? deny("path") : not_found();
    fe = again;
    v = verdict();
    if (v == BlockVerdict::kTooFar) return deny("hls-msn", 400);
  }
  if (v == BlockVerdict::kWait) {
    park(srv, req, channel, root, full, ParkCondition{req.hls_msn, req.hls_part},
         fe->target_duration, false);
    return;
  }
  std::string etag = fe->etag;
  // A Playlist Delta Update (_HLS_skip): generated from this version, validated with its ETag.
  std::string delta;
  if (media_playlist && req.hls_skip && fe->info && fe->info->can_skip_until > 0) {
    gsize plen = 0;
    const char *pdata = static_cast<const char *>(g_bytes_get_data(fe->bytes, &plen));
    std::vector<std::string> removed;
    if (req.hls_skip == 2 && fe->info->can_skip_dateranges)
      removed = removed_dateranges(full, *fe->info);
    if (auto d =
            delta_update(std::string_view(pdata, plen), *fe->info, req.hls_skip == 2, removed)) {
      delta = std::move(*d);
      etag.insert(etag.size() - 1, req.hls_skip == 2 ? "-skip2" : "-skip");
    }
  }
  respond_file(srv, req, channel, rel, fe, etag, playlist, init, routed ? &*routed : nullptr, delta,
               count);
}

// A file not there yet that a media playlist beside it names as its EXT-X-PRELOAD-HINT
// TYPE=PART: the target duration of that playlist (how long to hold the request), 0 if none.
int Origin::preload_hinted(Server &srv, const std::string &root, const std::string &full) {
  std::string dir = full.substr(0, full.rfind('/'));
  auto matches = [&](const FileEntry &fe) {
    return fe.info && !fe.info->preload_part.empty() && dir + "/" + fe.info->preload_part == full;
  };
  bool seen = false;
  std::vector<std::string> playlists;
  for (const auto &[path, fe] : srv.files)
    if (fe.info && path.size() > dir.size() && path.compare(0, dir.size() + 1, dir + "/") == 0 &&
        path.find('/', dir.size() + 1) == std::string::npos) {
      seen = true;
      playlists.push_back(path);
    }
  if (!seen) {
    // This thread has not served the folder's playlist yet: look for it.
    if (GDir *d = g_dir_open(dir.c_str(), 0, nullptr)) {
      while (const char *name = g_dir_read_name(d))
        if (g_str_has_suffix(name, ".m3u8")) playlists.push_back(dir + "/" + name);
      g_dir_close(d);
    }
  }
  for (const std::string &path : playlists) {
    FileEntry *fe = nullptr;
    // Looked at again (one stat): the hint is the current version's.
    if (lookup_file(srv, root, path, true, &fe) == Lookup::kFound && matches(*fe))
      return std::max(1, fe->target_duration);
  }
  return 0;
}

// Parks a request (no thread held) until `cond` holds for `full` (or, with `file_wait`, until
// `full` exists), or 3 x `target` seconds have passed.
void Origin::park(Server &srv, Request &req, const std::string &channel, const std::string &root,
                  const std::string &full, ParkCondition cond, int target, bool file_wait) {
  SoupServerMessage *msg = req.msg;
  {
    auto *p = new Parked();
    p->srv = &srv;
    p->req = req;
    g_object_ref(msg);
    p->root = root;
    p->file = full;
    p->channel = channel;
    p->cond = cond;
    p->file_wait = file_wait;
    p->deadline =
        g_get_monotonic_time() + static_cast<gint64>(3 * std::max(1, target)) * G_USEC_PER_SEC;
    if (GSocket *sock = srv.conns ? srv.conns->socket_of(msg) : nullptr)
      p->socket = G_SOCKET(g_object_ref(sock));
    // libsoup ends the message itself if the connection goes (server stopping, I/O error).
    p->disconnected_id =
        g_signal_connect(msg, "disconnected", G_CALLBACK(+[](SoupServerMessage *, gpointer d) {
                           auto *p = static_cast<Parked *>(d);
                           unpark(p);
                           {
                             std::lock_guard<std::mutex> lock(p->srv->stats_mu);
                             p->srv->stats.parked_gone++;
                           }
                           free_parked(p);
                         }),
                         p);
    auto &list = srv.parked[full];
    p->pos = list.insert(list.end(), p);
    srv.parked_now++;
    {
      std::lock_guard<std::mutex> lock(srv.stats_mu);
      srv.parked_channels[channel]++;
    }
    soup_server_message_pause(msg);
  }
}

// Removed EXT-X-DATERANGE IDs of a playlist (for RECENTLY-REMOVED-DATERANGES): those seen in an
// earlier version and gone from this one, kept for CAN-SKIP-UNTIL seconds after they went.
std::vector<std::string> Origin::removed_dateranges(const std::string &path,
                                                    const MediaPlaylistInfo &info) {
  std::lock_guard<std::mutex> lock(dateranges_mu_);
  gint64 now = g_get_monotonic_time();
  auto &h = dateranges_[path];
  std::set<std::string> present(info.daterange_ids.begin(), info.daterange_ids.end());
  for (const std::string &id : h.present)
    if (!present.count(id)) h.removed.emplace(id, now);
  h.present = present;
  std::vector<std::string> out;
  gint64 keep = static_cast<gint64>(info.can_skip_until * G_USEC_PER_SEC);
  for (auto it = h.removed.begin(); it != h.removed.end();) {
    if (present.count(it->first) || now - it->second > keep) {
      it = h.removed.erase(it);
      continue;
    }
    out.push_back(it->first);
    ++it;
  }
  return out;
}

void Origin::respond_file(Server &srv, Request &req, const std::string &channel,
                          const std::string &rel, FileEntry *fe, std::string etag, bool playlist,
                          bool init, const RoutedAnswer *routed, const std::string &delta,
                          const std::function<void(int, uint64_t, const char *)> &count) {
  SoupServerMessage *msg = req.msg;
  SoupMessageHeaders *rq = soup_server_message_get_request_headers(msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  auto done = [&](int status, uint64_t bytes = 0) { count(status, bytes, nullptr); };
  bool purging = false;
  if (playlist) {
    std::shared_lock lock(mu_);
    auto it = purges_.find(channel);
    if (it != purges_.end()) {
      // A purge changes every manifest's validator (caches holding the old copy refetch it) and
      // asks caches to revalidate every request for a while.
      etag.insert(etag.size() - 1, "-p" + std::to_string(it->second.generation));
      purging = g_get_monotonic_time() < it->second.until_us;
    }
  }
  Validators validators{etag, fe->mtim.tv_sec};
  soup_message_headers_replace(h, "ETag", etag.c_str());
  soup_message_headers_replace(h, "Last-Modified", fe->last_modified.c_str());
  soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace(h, "Accept-Ranges", "bytes");
  GBytes *bytes = delta.empty() ? g_bytes_ref(fe->bytes) : g_bytes_new(delta.data(), delta.size());
  bool personal = false;
  if (playlist && ends_with(rel, ".m3u8")) {
    // Encrypted channels: EXT-X-KEY URIs carry the viewer's own token (see KeyRoute).
    gsize n = 0;
    const char *d = static_cast<const char *>(g_bytes_get_data(bytes, &n));
    if (d && memmem(d, n, kTokenPlaceholder, sizeof kTokenPlaceholder - 1)) {
      personal = true;  // the viewer's own (Cache-Control: private, below)
      std::string text(d, n);
      fill_token(text, token_fill(req.token_segment));
      g_bytes_unref(bytes);
      bytes = g_bytes_new(text.data(), text.size());
    }
  }
  gsize len = g_bytes_get_size(bytes);
  // A blocking reload's answer holds at least what its URL asked for, whenever it is served:
  // edges may share it a target duration (identical blocking requests collapse into one).
  int playlist_age = req.blocking ? std::max(1, fe->target_duration) : fe->max_age;
  std::string cc = purging    ? std::string("no-cache")
                   : playlist ? "max-age=" + std::to_string(playlist_age)
                   : init     ? std::string("max-age=2")
                              : std::string("max-age=31536000, immutable");
  if (routed && routed->max_age < 31536000) cc = "max-age=" + std::to_string(routed->max_age);
  if (personal) cc = "private, " + cc;
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
    return done(status);
  }
  soup_message_headers_set_content_type(h, routed ? routed->content_type.c_str() : media_type(rel),
                                        nullptr);
  ByteRange range;
  RangeDecision rd = req.range.empty() || !if_range_allows(cond.if_range, validators)
                         ? RangeDecision::kWhole
                         : decide_range(req.range, len, &range);
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
  GSocket *sock = nullptr;
  if (status == 200 && body == bytes && !playlist && len >= kSendfileMin && req.method == "GET" &&
      srv.conns && (sock = srv.conns->socket_of(msg))) {
    int file = ::open(fe->resolved.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat fst;
    if (file >= 0 && fstat(file, &fst) == 0 && fst.st_ino == fe->ino && fst.st_dev == fe->dev &&
        fst.st_size == static_cast<off_t>(len)) {
      auto *f = new FileSend{static_cast<SoupServerMessage *>(g_object_ref(msg)),
                             G_SOCKET(g_object_ref(sock)), file, 0, static_cast<off_t>(len)};
      soup_message_headers_set_content_length(h, static_cast<goffset>(len));
      f->headers_id =
          g_signal_connect(msg, "wrote-headers", G_CALLBACK(+[](SoupServerMessage *, gpointer d) {
                             file_send_start(static_cast<FileSend *>(d));
                           }),
                           f);
      // The connection went (or the message ended) before the file was sent: nothing to send.
      auto gone =
          +[](SoupServerMessage *, gpointer d) { file_send_free(static_cast<FileSend *>(d)); };
      f->disconnected_id = g_signal_connect(msg, "disconnected", G_CALLBACK(gone), f);
      f->finished_id = g_signal_connect(msg, "finished", G_CALLBACK(gone), f);
      g_bytes_unref(bytes);
      return done(status, len);
    }
    if (file >= 0) ::close(file);
  }
  if (body) {
    sent = g_bytes_get_size(body);
    // A small answer (a playlist, a part) leaves in one TCP segment: libsoup writes the headers
    // and the body with two send(2) calls on a TCP_NODELAY socket, and on loopback each send costs
    // a full transmit and receive pass. The socket is corked until the body is written.
    if (sent > 0 && sent < kSendfileMin && req.method == "GET" && srv.conns)
      if (GSocket *s = srv.conns->socket_of(msg)) cork_until_body_written(msg, s);
    soup_message_body_append_bytes(soup_server_message_get_response_body(msg), body);
    if (body != bytes) g_bytes_unref(body);
  }
  g_bytes_unref(bytes);
  done(status, req.method == "HEAD" ? 0 : sent);
}

void Origin::set_key_route(KeyRoute route) {
  auto r = route ? std::make_shared<const KeyRoute>(std::move(route)) : nullptr;
  std::unique_lock lock(mu_);
  key_route_ = std::move(r);
}

// GET /keys/<channel>/<token>/<key-id> (see KeyRoute in origin.h).
void Origin::handle_key(Server &srv, Request &req) {
  SoupServerMessage *msg = req.msg;
  auto deny = [&](const char *reason, int status = 403) {
    respond_status(msg, status, reason);
    count_into(srv, status, 0, reason);
  };
  if (req.method != "GET" && req.method != "HEAD") {
    respond_status(msg, 405);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    count_into(srv, 405, 0, nullptr);
    return;
  }
  auto parts = split(req.path, '/');  // "keys", channel, token, key id
  auto plain = [](const std::string &s) {
    if (s.empty() || s.size() > 128 || s[0] == '.') return false;
    for (char c : s)
      if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') return false;
    return true;
  };
  if (parts.size() != 4 || parts[0] != "keys" || !plain(parts[1]) || parts[2].empty() ||
      !plain(parts[3]))
    return deny("path", 404);
  const std::string &channel = parts[1], &token = parts[2], &id = parts[3];
  if (config_.mode != TokenMode::kNone) {
    TokenError e = check_token(&srv, channel, token, "/keys/" + id, req.client_ip, nullptr);
    if (e != TokenError::kOk) return deny(to_string(e), e == TokenError::kExpired ? 410 : 403);
  }
  std::shared_ptr<const KeyRoute> route;
  {
    std::shared_lock lock(mu_);
    route = key_route_;
  }
  std::optional<std::string> key;
  if (route && *route) key = (*route)(channel, id);
  if (!key) {
    respond_status(msg, 404);  // no-store: a key made later is not hidden by a cached 404
    count_into(srv, 404, 0, nullptr);
    return;
  }
  respond_status(msg, 200);  // Cache-Control: no-store
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
  soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_set_content_type(h, "application/octet-stream", nullptr);
  soup_message_headers_set_content_length(h, static_cast<goffset>(key->size()));
  if (req.method == "GET")
    soup_message_body_append(soup_server_message_get_response_body(msg), SOUP_MEMORY_COPY,
                             key->data(), key->size());
  count_into(srv, 200, req.method == "HEAD" ? 0 : key->size(), nullptr);
}

void Origin::set_timeshift_route(TimeShiftRoute route) {
  auto r = route ? std::make_shared<const TimeShiftRoute>(std::move(route)) : nullptr;
  std::unique_lock lock(mu_);
  timeshift_ = std::move(r);
}

}  // namespace iptv
