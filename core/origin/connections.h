// ConnectionManager: the origin's listening socket and the life of every client connection.
//
// Why it exists (libsoup 3.2.3, Debian 12): after a keep-alive response libsoup waits for the
// next request with a message that has no completion callback, so when the client closes an
// idle keep-alive connection libsoup reads the EOF, drops that message and never disconnects the
// connection: the socket stays in CLOSE-WAIT and its descriptor leaks, one per client connection
// (fixed upstream in 3.3.0 by "server: do not leak idle connections closed by the client").
// libsoup's own listener also stops accepting for good after one failed accept() (EMFILE), uses a
// backlog of 10, and has no idle or header timeouts.
//
// So the origin accepts connections itself (accept4 on its own socket, with a real backlog) and
// hands each one to libsoup with soup_server_accept_iostream(). It tracks every connection:
//   - busy (a request is being read or answered) or idle (between keep-alive requests);
//   - idle: a low-priority watch on the socket notices the client's EOF after libsoup has given
//     up on it, and the connection is closed and removed from the server;
//   - idle longer than idle_timeout_s, or a request not read within header_timeout_s (slowloris):
//     the socket is shut down, libsoup sees EOF and ends the connection;
//   - near the descriptor limit (the new socket's number within the reserve of RLIMIT_NOFILE),
//     the oldest idle connections, then the oldest ones still sending their request, are shed
//     first, so a viewer's new connection is always accepted and answered.
// The libsoup connection object of each socket is learnt from its "request-started" signal (an
// emission hook), because libsoup 3.2 has no public call to close one connection.
//
// libsoup only keeps connections alive when the server has a listener, so the same listening
// socket is also registered with soup_server_listen_socket(), with an inert main context as the
// thread default: libsoup's accept source then never runs.
//
// Several serving threads (see origin.h): one manager per SoupServer, each on its server's
// thread. One of them owns the listening socket (listen()) and hands every accepted socket to a
// router (set_router()) instead of adopting it; the others register a duplicate of the listening
// descriptor with their SoupServer (share_listener(), for keep-alive as above) and adopt the
// sockets the router gives them (adopt(), on their own thread). With `classify`, the router waits
// (without a thread, up to header_timeout_s) for the first bytes of the request and peeks at them
// (MSG_PEEK: nothing is consumed), so media requests (`GET /hls...`, `HEAD /hls...`) and the
// rest (API, /metrics) can go to different servers.
//
// Threads: everything runs on the server's thread except stats(), which is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>

typedef struct _SoupServer SoupServer;
typedef struct _SoupServerMessage SoupServerMessage;
typedef struct _GSocket GSocket;
typedef struct _GSource GSource;
typedef struct _GMainContext GMainContext;
typedef struct _GObject GObject;

namespace iptv {

struct ConnectionLimits {
  int idle_timeout_s = 30;    // an idle keep-alive connection is closed after this
  int header_timeout_s = 10;  // a request (head and body) must arrive within this
  int backlog = 4096;         // listen(2) backlog (the kernel caps it at net.core.somaxconn)
};

struct ConnectionStats {
  uint64_t open = 0;             // live client connections
  uint64_t accepted = 0;         // since start
  uint64_t peer_closed = 0;      // idle connections the client closed
  uint64_t idle_timeouts = 0;    // idle connections closed after idle_timeout_s
  uint64_t header_timeouts = 0;  // requests not read within header_timeout_s
  uint64_t shed = 0;             // closed early because descriptors ran short
  uint64_t accept_errors = 0;    // accept() failures (EMFILE and the like)
};

// Where accepted sockets go (see set_router()).
struct ConnectionRouter {
  // Takes the descriptor (called on the acceptor's thread). `media`: the request line starts
  // with GET /hls or HEAD /hls (always true without `classify`).
  std::function<void(int fd, bool media)> route;
  bool classify = false;
  // Descriptors run short: every server should shed `n` of its oldest idle connections.
  std::function<void(int n)> pressure;
};

class ConnectionManager {
 public:
  // Called on the server's thread, with its context as the thread default.
  ConnectionManager(SoupServer *server, ConnectionLimits limits);
  ~ConnectionManager();
  ConnectionManager(const ConnectionManager &) = delete;
  ConnectionManager &operator=(const ConnectionManager &) = delete;

  // Binds, listens and starts accepting. `*bound_port` gets the port actually bound.
  bool listen(const std::string &address, int port, int *bound_port, std::string *error);
  // Accepted sockets go to `router` instead of this manager (call before listen()).
  void set_router(ConnectionRouter router) { router_ = std::move(router); }
  // Registers a duplicate of another manager's listening descriptor with this server (libsoup
  // keeps connections alive only when its server has a listener); nothing is accepted from it.
  bool share_listener(int listen_fd, std::string *error);
  int listen_fd() const;
  // Serves an accepted socket (non-blocking, close-on-exec) on this server.
  void adopt(int fd);
  // Closes up to `n` of the oldest idle (then still silent) connections; returns how many.
  int shed(int n);
  // The socket of a request's connection (nullptr if unknown): to watch it while the request
  // is paused.
  GSocket *socket_of(SoupServerMessage *msg);
  // Stops accepting (before soup_server_disconnect()).
  void stop_accepting();
  ConnectionStats stats() const;

  // Internal (libsoup callbacks).
  struct Conn;
  void on_request_started(GObject *soup_conn, SoupServerMessage *msg);
  void on_request_read(SoupServerMessage *msg);
  void on_request_done(SoupServerMessage *msg);
  void on_disconnected(uint64_t id);
  bool on_accept_ready();
  bool on_eof_watch(uint64_t id);
  void sweep();

 private:
  Conn *find(uint64_t id);
  Conn *from_message(SoupServerMessage *msg);
  void route(int fd);
  void on_pending_ready(int fd);
  void drop_pending(int fd);
  void set_idle(Conn *c);
  void touch(Conn *c);
  void shutdown_conn(Conn *c);
  void abandon(Conn *c);
  void forget(Conn *c);
  bool shed_one();
  void pause_accepting(int ms);
  void refresh_fd_limit();

  SoupServer *server_;
  ConnectionLimits limits_;
  GMainContext *context_ = nullptr;
  GMainContext *inert_ = nullptr;  // libsoup's listener source lives here and never runs
  GSocket *listener_ = nullptr;
  GSource *accept_source_ = nullptr;
  GSource *resume_source_ = nullptr;
  GSource *sweep_source_ = nullptr;
  std::list<Conn *> order_;  // least recently active first
  std::unordered_map<uint64_t, Conn *> conns_;
  int fd_limit_ = 1024;
  int fd_reserve_ = 32;
  unsigned long signal_ids_[3] = {0, 0, 0};
  ConnectionRouter router_;
  struct Pending {
    GSource *watch = nullptr;
    int64_t since = 0;
  };
  std::unordered_map<int, Pending> pending_;  // accepted, waiting for their first bytes
  std::atomic<uint64_t> accepted_{0}, peer_closed_{0}, idle_timeouts_{0}, header_timeouts_{0},
      shed_{0}, accept_errors_{0}, open_{0};
};

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit; returns the new soft limit.
long raise_fd_limit();
// Descriptors open in this process (/proc/self/fd), -1 if unknown.
long count_open_fds();

}  // namespace iptv
