#include "origin/connections.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>
#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

namespace iptv {

struct ConnectionManager::Conn {
  uint64_t id = 0;
  GSocket *socket = nullptr;     // ours (a ref)
  GObject *soup_conn = nullptr;  // libsoup's SoupServerConnection (a ref), once known
  unsigned long disconnected_id = 0;
  bool busy = true;           // a request is being read or answered
  bool request_read = false;  // the current request has been read in full
  bool shutting_down = false;
  gint64 since = 0;              // monotonic time of the last state change
  GSource *eof_watch = nullptr;  // while idle
  std::list<Conn *>::iterator pos;
};

namespace {

constexpr const char *kTagKey = "iptv-origin-conn";

// Which manager and connection a libsoup object belongs to.
struct Tag {
  ConnectionManager *mgr;
  uint64_t id;
};

std::atomic<uint64_t> g_next_id{1};  // process-wide, so a stale tag never names another connection
std::mutex g_live_mu;
std::set<ConnectionManager *> g_live;  // managers alive (the emission hook is process-wide)

// The connection being handed to libsoup on this thread: its "request-started" (emitted inside
// soup_server_accept_iostream) names the libsoup connection object.
thread_local std::pair<ConnectionManager *, ConnectionManager::Conn *> t_accepting{nullptr,
                                                                                   nullptr};

bool live(ConnectionManager *m) {
  std::lock_guard<std::mutex> lock(g_live_mu);
  return g_live.count(m) > 0;
}

gboolean request_started_hook(GSignalInvocationHint *, guint n, const GValue *v, gpointer) {
  if (n < 2) return TRUE;
  GObject *conn = static_cast<GObject *>(g_value_get_object(&v[0]));
  auto *msg = static_cast<SoupServerMessage *>(g_value_get_object(&v[1]));
  if (!conn || !msg) return TRUE;
  if (t_accepting.first && !g_object_get_data(conn, kTagKey)) {
    t_accepting.first->on_request_started(conn, msg);
    return TRUE;
  }
  auto *tag = static_cast<Tag *>(g_object_get_data(conn, kTagKey));
  if (tag && live(tag->mgr)) tag->mgr->on_request_started(conn, msg);
  return TRUE;
}

// SoupServerConnection is private to libsoup and registered on first use: make one throwaway
// connection (over memory streams; it reads EOF at once and is disconnected), then hook its
// "request-started" signal for the whole process.
void install_hook_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    SoupServer *tmp = soup_server_new(nullptr, nullptr);
    GInputStream *in = g_memory_input_stream_new();
    GOutputStream *out = g_memory_output_stream_new_resizable();
    GIOStream *io = g_simple_io_stream_new(in, out);
    GSocketAddress *addr = g_inet_socket_address_new_from_string("127.0.0.1", 0);
    soup_server_accept_iostream(tmp, io, addr, addr, nullptr);
    g_object_unref(addr);
    g_object_unref(io);
    g_object_unref(in);
    g_object_unref(out);
    soup_server_disconnect(tmp);
    g_object_unref(tmp);
    GType type = g_type_from_name("SoupServerConnection");
    guint sig = type ? g_signal_lookup("request-started", type) : 0;
    if (sig)
      g_signal_add_emission_hook(sig, 0, request_started_hook, nullptr, nullptr);
    else
      g_warning(
          "origin: libsoup's SoupServerConnection::request-started not found; idle "
          "connections closed by clients will not be reclaimed");
  });
}

void on_request_read_cb(SoupServer *, SoupServerMessage *msg, gpointer self) {
  static_cast<ConnectionManager *>(self)->on_request_read(msg);
}

void on_request_done_cb(SoupServer *, SoupServerMessage *msg, gpointer self) {
  static_cast<ConnectionManager *>(self)->on_request_done(msg);
}

void on_disconnected_cb(GObject *conn, gpointer) {
  auto *tag = static_cast<Tag *>(g_object_get_data(conn, kTagKey));
  if (tag && live(tag->mgr)) tag->mgr->on_disconnected(tag->id);
}

}  // namespace

ConnectionManager::ConnectionManager(SoupServer *server, ConnectionLimits limits)
    : server_(server), limits_(limits) {
  context_ = g_main_context_ref_thread_default();
  install_hook_once();
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    g_live.insert(this);
  }
  if (server_) {
    signal_ids_[0] =
        g_signal_connect(server_, "request-read", G_CALLBACK(on_request_read_cb), this);
    signal_ids_[1] =
        g_signal_connect(server_, "request-finished", G_CALLBACK(on_request_done_cb), this);
    signal_ids_[2] =
        g_signal_connect(server_, "request-aborted", G_CALLBACK(on_request_done_cb), this);
  }
  refresh_fd_limit();
}

ConnectionManager::~ConnectionManager() {
  stop_accepting();
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    g_live.erase(this);
  }
  for (unsigned long id : signal_ids_)
    if (id) g_signal_handler_disconnect(server_, id);
  while (!pending_.empty()) {
    int fd = pending_.begin()->first;
    drop_pending(fd);
    ::close(fd);
  }
  while (!order_.empty()) forget(order_.front());
  if (listener_) {
    g_socket_close(listener_, nullptr);
    g_object_unref(listener_);
  }
  if (inert_) g_main_context_unref(inert_);
  g_main_context_unref(context_);
}

void ConnectionManager::refresh_fd_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
    fd_limit_ = rl.rlim_cur == RLIM_INFINITY
                    ? INT32_MAX
                    : static_cast<int>(std::min<rlim_t>(rl.rlim_cur, INT32_MAX));
  // Descriptors kept free for files, the database, pipes and the like.
  fd_reserve_ = std::clamp(fd_limit_ / 8, 16, 256);
}

bool ConnectionManager::listen(const std::string &address, int port, int *bound_port,
                               std::string *error) {
  GInetAddress *inet = g_inet_address_new_from_string(address.c_str());
  if (!inet) {
    *error = "invalid listen address '" + address + "'";
    return false;
  }
  GError *err = nullptr;
  GSocket *sock = g_socket_new(g_inet_address_get_family(inet), G_SOCKET_TYPE_STREAM,
                               G_SOCKET_PROTOCOL_TCP, &err);
  GSocketAddress *addr = g_inet_socket_address_new(inet, static_cast<guint16>(port));
  g_object_unref(inet);
  bool ok = sock != nullptr;
  if (ok) {
    g_socket_set_listen_backlog(sock, std::max(16, limits_.backlog));
    ok = g_socket_bind(sock, addr, TRUE, &err) && g_socket_listen(sock, &err);
  }
  g_object_unref(addr);
  if (!ok) {
    *error = "cannot listen on " + address + ":" + std::to_string(port) + ": " +
             (err ? err->message : "unknown error");
    g_clear_error(&err);
    if (sock) g_object_unref(sock);
    return false;
  }
  g_socket_set_blocking(sock, FALSE);
  // Registered with libsoup too (it keeps connections alive only when it has a listener), but
  // created with an inert context as the thread default, so libsoup's accept source never runs.
  if (server_) {
    inert_ = g_main_context_new();
    g_main_context_push_thread_default(inert_);
    ok = soup_server_listen_socket(server_, sock, static_cast<SoupServerListenOptions>(0), &err);
    g_main_context_pop_thread_default(inert_);
    if (!ok) {
      *error = "cannot listen on " + address + ":" + std::to_string(port) + ": " + err->message;
      g_clear_error(&err);
      g_object_unref(sock);
      return false;
    }
  }
  listener_ = sock;
  GSocketAddress *local = g_socket_get_local_address(sock, nullptr);
  if (local && G_IS_INET_SOCKET_ADDRESS(local))
    *bound_port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
  if (local) g_object_unref(local);
  pause_accepting(0);
  sweep_source_ = g_timeout_source_new(250);
  g_source_set_callback(
      sweep_source_,
      [](gpointer d) -> gboolean {
        static_cast<ConnectionManager *>(d)->sweep();
        return G_SOURCE_CONTINUE;
      },
      this, nullptr);
  g_source_attach(sweep_source_, context_);
  return true;
}

bool ConnectionManager::share_listener(int listen_fd, std::string *error) {
  int fd = fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
  GError *err = nullptr;
  GSocket *sock = fd >= 0 ? g_socket_new_from_fd(fd, &err) : nullptr;
  if (!sock) {
    *error = std::string("cannot share the listening socket: ") +
             (err ? err->message : g_strerror(errno));
    g_clear_error(&err);
    if (fd >= 0) ::close(fd);
    return false;
  }
  if (!inert_) inert_ = g_main_context_new();
  g_main_context_push_thread_default(inert_);
  bool ok = soup_server_listen_socket(server_, sock, static_cast<SoupServerListenOptions>(0), &err);
  g_main_context_pop_thread_default(inert_);
  g_object_unref(sock);  // libsoup holds its own reference (and closes the duplicate at the end)
  if (!ok) {
    *error = std::string("cannot share the listening socket: ") + err->message;
    g_clear_error(&err);
    return false;
  }
  if (!sweep_source_) {
    sweep_source_ = g_timeout_source_new(250);
    g_source_set_callback(
        sweep_source_,
        [](gpointer d) -> gboolean {
          static_cast<ConnectionManager *>(d)->sweep();
          return G_SOURCE_CONTINUE;
        },
        this, nullptr);
    g_source_attach(sweep_source_, context_);
  }
  return true;
}

int ConnectionManager::listen_fd() const {
  return listener_ ? g_socket_get_fd(listener_) : -1;
}

GSocket *ConnectionManager::socket_of(SoupServerMessage *msg) {
  Conn *c = from_message(msg);
  return c ? c->socket : nullptr;
}

int ConnectionManager::shed(int n) {
  int done = 0;
  while (done < n && shed_one()) ++done;
  return done;
}

// An accepted socket for the router: at once, or once its first bytes say what it asks for.
void ConnectionManager::route(int fd) {
  if (!router_.classify) {
    router_.route(fd, true);
    return;
  }
  Pending p;
  p.since = g_get_monotonic_time();
  p.watch = g_unix_fd_source_new(fd, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR));
  struct Ctx {
    ConnectionManager *self;
    int fd;
  };
  g_source_set_callback(
      p.watch, reinterpret_cast<GSourceFunc>(+[](int, GIOCondition, gpointer d) -> gboolean {
        auto *x = static_cast<Ctx *>(d);
        x->self->on_pending_ready(x->fd);
        return G_SOURCE_CONTINUE;  // on_pending_ready destroys it when done
      }),
      new Ctx{this, fd}, [](gpointer d) { delete static_cast<Ctx *>(d); });
  g_source_attach(p.watch, context_);
  pending_[fd] = p;
}

void ConnectionManager::drop_pending(int fd) {
  auto it = pending_.find(fd);
  if (it == pending_.end()) return;
  if (it->second.watch) {
    g_source_destroy(it->second.watch);
    g_source_unref(it->second.watch);
  }
  pending_.erase(it);
}

void ConnectionManager::on_pending_ready(int fd) {
  char b[16];
  ssize_t n = recv(fd, b, sizeof b, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {  // closed (or reset) before sending anything
    drop_pending(fd);
    ::close(fd);
    return;
  }
  std::string_view got(b, static_cast<size_t>(n));
  bool media = false, partial = false;
  for (std::string_view want : {std::string_view("GET /hls"), std::string_view("HEAD /hls"),
                                std::string_view("GET /keys/"), std::string_view("HEAD /keys/")}) {
    if (got.size() >= want.size() && got.substr(0, want.size()) == want) media = true;
    if (got.size() < want.size() && want.substr(0, got.size()) == got) partial = true;
  }
  if (!media && partial) {
    // The request line came in pieces: look again shortly (the watch would fire at once).
    Pending &p = pending_[fd];
    if (p.watch) {
      g_source_destroy(p.watch);
      g_source_unref(p.watch);
      p.watch = nullptr;
    }
    struct Ctx {
      ConnectionManager *self;
      int fd;
    };
    GSource *t = g_timeout_source_new(2);
    g_source_set_callback(
        t,
        [](gpointer d) -> gboolean {
          auto *x = static_cast<Ctx *>(d);
          auto it = x->self->pending_.find(x->fd);
          if (it != x->self->pending_.end() && !it->second.watch) {
            x->self->pending_.erase(it);
            x->self->route(x->fd);
          }
          return G_SOURCE_REMOVE;
        },
        new Ctx{this, fd}, [](gpointer d) { delete static_cast<Ctx *>(d); });
    g_source_attach(t, context_);
    g_source_unref(t);
    return;
  }
  drop_pending(fd);
  router_.route(fd, media);
}

void ConnectionManager::stop_accepting() {
  for (GSource **s : {&accept_source_, &resume_source_, &sweep_source_}) {
    if (*s) {
      g_source_destroy(*s);
      g_source_unref(*s);
      *s = nullptr;
    }
  }
}

// Stops the accept source for `ms` (0: (re)starts it now).
void ConnectionManager::pause_accepting(int ms) {
  if (accept_source_) {
    g_source_destroy(accept_source_);
    g_source_unref(accept_source_);
    accept_source_ = nullptr;
  }
  if (ms > 0) {
    if (resume_source_) return;
    resume_source_ = g_timeout_source_new(ms);
    g_source_set_callback(
        resume_source_,
        [](gpointer d) -> gboolean {
          auto *self = static_cast<ConnectionManager *>(d);
          g_source_unref(self->resume_source_);
          self->resume_source_ = nullptr;
          self->pause_accepting(0);
          return G_SOURCE_REMOVE;
        },
        this, nullptr);
    g_source_attach(resume_source_, context_);
    return;
  }
  accept_source_ = g_socket_create_source(listener_, G_IO_IN, nullptr);
  // Serve before accepting: requests on connections already open (a viewer's keep-alive
  // connection among them) run first, so a storm of new connections delays only itself.
  g_source_set_priority(accept_source_, G_PRIORITY_DEFAULT + 2);
  g_source_set_callback(
      accept_source_,
      reinterpret_cast<GSourceFunc>(+[](GSocket *, GIOCondition, gpointer d) -> gboolean {
        return static_cast<ConnectionManager *>(d)->on_accept_ready();
      }),
      this, nullptr);
  g_source_attach(accept_source_, context_);
}

bool ConnectionManager::on_accept_ready() {
  int lfd = g_socket_get_fd(listener_);
  // A bounded batch per wakeup, so requests in progress keep being served during a storm.
  for (int i = 0; i < 64; ++i) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      if (errno == ECONNABORTED || errno == EPROTO) continue;
      accept_errors_++;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: free some and try again shortly; never stop accepting for good.
        refresh_fd_limit();
        for (int k = 0; k < std::max(2, fd_reserve_ / 2) && shed_one(); ++k) {
        }
        if (router_.pressure) router_.pressure(std::max(2, fd_reserve_ / 2));
        pause_accepting(20);
        return G_SOURCE_REMOVE;
      }
      g_warning("origin: accept: %s", g_strerror(errno));
      pause_accepting(100);
      return G_SOURCE_REMOVE;
    }
    // Lowest free descriptor first: a number this high means the table is nearly full. Shed a
    // batch of the oldest idle or still-silent connections, then pause accepting for a moment
    // so the main loop can end them and free their descriptors (a viewer's new connection is
    // the newest: it is kept).
    if (fd >= fd_limit_ - fd_reserve_) {
      refresh_fd_limit();
      if (fd >= fd_limit_ - fd_reserve_) {
        int shed = 0;
        while (shed < std::max(1, fd_reserve_ / 2) && shed_one()) ++shed;
        if (router_.route) {
          // The connections are the serving threads': each sheds its share (asynchronously).
          if (router_.pressure) router_.pressure(std::max(1, fd_reserve_ / 2));
          route(fd);
          pause_accepting(5);
          return G_SOURCE_REMOVE;
        }
        adopt(fd);
        if (shed > 0) {
          pause_accepting(5);
          return G_SOURCE_REMOVE;
        }
        continue;
      }
    }
    if (router_.route)
      route(fd);
    else
      adopt(fd);
  }
  return G_SOURCE_CONTINUE;
}

void ConnectionManager::adopt(int fd) {
  GError *err = nullptr;
  GSocket *sock = g_socket_new_from_fd(fd, &err);
  if (!sock) {
    g_clear_error(&err);
    ::close(fd);
    return;
  }
  g_socket_set_option(sock, IPPROTO_TCP, TCP_NODELAY, TRUE, nullptr);
  auto *c = new Conn();
  c->id = g_next_id++;
  c->socket = sock;
  c->since = g_get_monotonic_time();
  c->pos = order_.insert(order_.end(), c);
  conns_[c->id] = c;
  accepted_++;
  open_ = conns_.size();
  uint64_t id = c->id;
  GSocketConnection *stream = g_socket_connection_factory_create_connection(sock);
  GSocketAddress *local = g_socket_get_local_address(sock, nullptr);
  GSocketAddress *remote = g_socket_get_remote_address(sock, nullptr);
  t_accepting = {this, c};
  // libsoup may read and answer a request, and even close the connection, inside this call.
  soup_server_accept_iostream(server_, G_IO_STREAM(stream), local, remote, nullptr);
  t_accepting = {nullptr, nullptr};
  if (local) g_object_unref(local);
  if (remote) g_object_unref(remote);
  g_object_unref(stream);
  Conn *still = find(id);
  if (still && !still->soup_conn) {
    // libsoup did not announce the connection (a libsoup this code does not know): it can
    // still be served, but not reclaimed on EOF; its descriptor is libsoup's to close.
    forget(still);
  }
}

ConnectionManager::Conn *ConnectionManager::find(uint64_t id) {
  auto it = conns_.find(id);
  return it == conns_.end() ? nullptr : it->second;
}

ConnectionManager::Conn *ConnectionManager::from_message(SoupServerMessage *msg) {
  auto *tag = static_cast<Tag *>(g_object_get_data(G_OBJECT(msg), kTagKey));
  return tag && tag->mgr == this ? find(tag->id) : nullptr;
}

void ConnectionManager::touch(Conn *c) {
  c->since = g_get_monotonic_time();
  order_.splice(order_.end(), order_, c->pos);
}

void ConnectionManager::on_request_started(GObject *soup_conn, SoupServerMessage *msg) {
  Conn *c = nullptr;
  if (t_accepting.first == this && !g_object_get_data(soup_conn, kTagKey)) {
    c = t_accepting.second;
    c->soup_conn = G_OBJECT(g_object_ref(soup_conn));
    g_object_set_data_full(soup_conn, kTagKey, new Tag{this, c->id},
                           [](gpointer p) { delete static_cast<Tag *>(p); });
    c->disconnected_id =
        g_signal_connect(soup_conn, "disconnected", G_CALLBACK(on_disconnected_cb), nullptr);
  } else {
    auto *tag = static_cast<Tag *>(g_object_get_data(soup_conn, kTagKey));
    if (!tag || tag->mgr != this) return;
    c = find(tag->id);
  }
  if (!c) return;
  g_object_set_data_full(G_OBJECT(msg), kTagKey, new Tag{this, c->id},
                         [](gpointer p) { delete static_cast<Tag *>(p); });
  if (c->eof_watch) {
    g_source_destroy(c->eof_watch);
    g_source_unref(c->eof_watch);
    c->eof_watch = nullptr;
  }
  c->busy = true;
  c->request_read = false;
  touch(c);
}

void ConnectionManager::on_request_read(SoupServerMessage *msg) {
  if (Conn *c = from_message(msg)) c->request_read = true;
}

void ConnectionManager::on_request_done(SoupServerMessage *msg) {
  Conn *c = from_message(msg);
  if (!c || !c->busy) return;
  // libsoup now waits for the next request on this connection (or closes it right after this,
  // which on_disconnected notices).
  set_idle(c);
}

void ConnectionManager::set_idle(Conn *c) {
  c->busy = false;
  touch(c);
  if (c->eof_watch) return;
  // Lower priority than libsoup's own read source, so libsoup always sees a new request first;
  // this watch only runs once libsoup has stopped reading: after the client's EOF.
  c->eof_watch = g_socket_create_source(
      c->socket, static_cast<GIOCondition>(G_IO_IN | G_IO_HUP | G_IO_ERR), nullptr);
  g_source_set_priority(c->eof_watch, G_PRIORITY_DEFAULT + 1);
  struct Ctx {
    ConnectionManager *self;
    uint64_t id;
  };
  g_source_set_callback(
      c->eof_watch,
      reinterpret_cast<GSourceFunc>(+[](GSocket *, GIOCondition, gpointer d) -> gboolean {
        auto *x = static_cast<Ctx *>(d);
        return x->self->on_eof_watch(x->id);
      }),
      new Ctx{this, c->id}, [](gpointer d) { delete static_cast<Ctx *>(d); });
  g_source_attach(c->eof_watch, context_);
}

bool ConnectionManager::on_eof_watch(uint64_t id) {
  Conn *c = find(id);
  if (!c || c->busy) return G_SOURCE_REMOVE;
  char b;
  ssize_t n = recv(g_socket_get_fd(c->socket), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) {
    // Bytes of a next request that libsoup has not read yet: not ours to touch. The idle
    // timeout still applies.
    g_source_unref(c->eof_watch);
    c->eof_watch = nullptr;
    return G_SOURCE_REMOVE;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return G_SOURCE_CONTINUE;
  // EOF (or a reset) on an idle connection: libsoup 3.2 has dropped it; close it for good.
  if (!c->shutting_down) peer_closed_++;
  g_source_unref(c->eof_watch);
  c->eof_watch = nullptr;
  abandon(c);
  return G_SOURCE_REMOVE;
}

// Makes libsoup see EOF: a request being read ends with an error and libsoup disconnects; an
// idle connection ends through the EOF watch.
void ConnectionManager::shutdown_conn(Conn *c) {
  if (c->shutting_down) return;
  c->shutting_down = true;
  c->since = g_get_monotonic_time();
  g_socket_shutdown(c->socket, TRUE, TRUE, nullptr);
  if (!c->busy && !c->eof_watch) set_idle(c);
}

// Closes the socket and removes the connection from the server (libsoup 3.2 has no call for
// this: its "disconnected" signal is what removes a connection from the server). Only once
// libsoup has stopped reading it (from the EOF watch): a message still waiting on the socket
// would be left without its I/O.
void ConnectionManager::abandon(Conn *c) {
  uint64_t id = c->id;
  g_socket_close(c->socket, nullptr);
  if (c->soup_conn) {
    GObject *conn = G_OBJECT(g_object_ref(c->soup_conn));
    g_signal_emit_by_name(conn, "disconnected");
    g_object_unref(conn);
  }
  if (Conn *still = find(id)) forget(still);
}

void ConnectionManager::on_disconnected(uint64_t id) {
  if (Conn *c = find(id)) forget(c);
}

void ConnectionManager::forget(Conn *c) {
  if (c->eof_watch) {
    g_source_destroy(c->eof_watch);
    g_source_unref(c->eof_watch);
  }
  if (c->soup_conn) {
    if (c->disconnected_id) g_signal_handler_disconnect(c->soup_conn, c->disconnected_id);
    g_object_set_data(c->soup_conn, kTagKey, nullptr);
    g_object_unref(c->soup_conn);
  }
  g_object_unref(c->socket);
  order_.erase(c->pos);
  conns_.erase(c->id);
  open_ = conns_.size();
  delete c;
}

// Closes the least recently active connection that is idle, else the oldest one still sending
// its request. Connections answering a request are never shed.
bool ConnectionManager::shed_one() {
  Conn *victim = nullptr;
  for (Conn *c : order_)
    if (!c->busy && !c->shutting_down) {
      victim = c;
      break;
    }
  if (!victim)
    for (Conn *c : order_)
      if (c->busy && !c->request_read && !c->shutting_down) {
        victim = c;
        break;
      }
  if (!victim && !pending_.empty()) {
    // Accepted, still silent and not handed to a server yet (the acceptor's own).
    auto oldest = pending_.begin();
    for (auto it = pending_.begin(); it != pending_.end(); ++it)
      if (it->second.since < oldest->second.since) oldest = it;
    int fd = oldest->first;
    drop_pending(fd);
    ::close(fd);
    shed_++;
    return true;
  }
  if (!victim) return false;
  shed_++;
  // libsoup sees EOF at once and lets go of it (see shutdown_conn); its descriptor is free
  // within a main-loop iteration or two.
  shutdown_conn(victim);
  return true;
}

void ConnectionManager::sweep() {
  gint64 now = g_get_monotonic_time();
  gint64 idle_us = static_cast<gint64>(std::max(1, limits_.idle_timeout_s)) * G_USEC_PER_SEC;
  gint64 head_us = static_cast<gint64>(std::max(1, limits_.header_timeout_s)) * G_USEC_PER_SEC;
  std::vector<uint64_t> idle, slow, stuck;
  for (Conn *c : order_) {
    gint64 age = now - c->since;
    if (c->shutting_down) {
      if (age > 2 * G_USEC_PER_SEC) stuck.push_back(c->id);
    } else if (!c->busy && age > idle_us) {
      idle.push_back(c->id);
    } else if (c->busy && !c->request_read && age > head_us) {
      slow.push_back(c->id);
    }
  }
  for (uint64_t id : idle)
    if (Conn *c = find(id)) {
      idle_timeouts_++;
      shutdown_conn(c);
    }
  for (uint64_t id : slow)
    if (Conn *c = find(id)) {
      header_timeouts_++;
      shutdown_conn(c);
    }
  std::vector<int> silent;
  for (const auto &[fd, p] : pending_)
    if (now - p.since > head_us) silent.push_back(fd);
  for (int fd : silent) {
    header_timeouts_++;
    drop_pending(fd);
    ::close(fd);
  }
  // Shut down, idle, and its EOF watch gone (bytes were pending): watch again.
  for (uint64_t id : stuck)
    if (Conn *c = find(id); c && !c->busy && !c->eof_watch) set_idle(c);
}

ConnectionStats ConnectionManager::stats() const {
  ConnectionStats s;
  s.open = open_;
  s.accepted = accepted_;
  s.peer_closed = peer_closed_;
  s.idle_timeouts = idle_timeouts_;
  s.header_timeouts = header_timeouts_;
  s.shed = shed_;
  s.accept_errors = accept_errors_;
  return s;
}

long raise_fd_limit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return -1;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? -1 : static_cast<long>(rl.rlim_cur);
}

long count_open_fds() {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  long n = 0;
  while (struct dirent *e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n - 1;  // the directory's own descriptor
}

}  // namespace iptv
