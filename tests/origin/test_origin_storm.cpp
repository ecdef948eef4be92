// The HTTP server under hostile connection patterns, against the real `iptvctl serve` and iptvd
// processes, with raw sockets for precise control: storms of short-lived connections (the
// client closes first), idle keep-alive and slowloris connections, and 1,000 hostile
// connections against a server limited to 256 descriptors. See docs/reliability.md.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int fd_count(pid_t pid) {
  DIR *d = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  int n = 0;
  while (struct dirent *e = readdir(d))
    if (e->d_name[0] != '.') ++n;
  closedir(d);
  return n;
}

// A daemon goes on opening descriptors for a moment after it answers /healthz (its database,
// watchers): the count is taken as "before" only once it has held still for half a second.
void wait_fds_steady(pid_t pid) {
  int last = fd_count(pid), same = 0;
  for (int i = 0; i < 100 && same < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    int now = fd_count(pid);
    same = now == last ? same + 1 : 0;
    last = now;
  }
}

int connect_to(int port, double timeout_s = 5) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct timeval tv {
    static_cast<time_t>(timeout_s), static_cast<suseconds_t>((timeout_s - (int)timeout_s) * 1e6)
  };
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(s, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) {
    close(s);
    return -1;
  }
  return s;
}

bool send_all(int s, const std::string &data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(s, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one response (headers and a Content-Length body); the status, or -1.
int read_response(int s, std::string *body = nullptr) {
  std::string buf;
  char tmp[16384];
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    ssize_t n = recv(s, tmp, sizeof tmp, 0);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
    head_end = buf.find("\r\n\r\n");
  }
  int status = std::atoi(buf.c_str() + 9);
  size_t len = 0;
  std::string head = buf.substr(0, head_end);
  for (auto &c : head) c = static_cast<char>(tolower(c));
  size_t cl = head.find("content-length:");
  if (cl != std::string::npos) len = std::strtoul(head.c_str() + cl + 15, nullptr, 10);
  while (buf.size() < head_end + 4 + len) {
    ssize_t n = recv(s, tmp, sizeof tmp, 0);
    if (n <= 0) return -1;
    buf.append(tmp, static_cast<size_t>(n));
  }
  if (body) *body = buf.substr(head_end + 4, len);
  return status;
}

// One request on a fresh keep-alive connection that the client closes first.
int request_once(int port, const std::string &path, double timeout_s = 5) {
  int s = connect_to(port, timeout_s);
  if (s < 0) return -1;
  int st = -1;
  if (send_all(s, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) st = read_response(s);
  close(s);
  return st;
}

// Seconds until the server closes `s` (recv returns 0 or an error), or -1 after `limit_s`.
double seconds_until_closed(int s, double limit_s) {
  auto t0 = Clock::now();
  char b[4096];
  while (since(t0) < limit_s) {
    ssize_t n = recv(s, b, sizeof b, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
      return since(t0);
  }
  return -1;
}

void raise_own_fd_limit(rlim_t want) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = std::min(std::max(rl.rlim_cur, want), rl.rlim_max);
  setrlimit(RLIMIT_NOFILE, &rl);
}

// A server process (`sh -c`), killed when the object dies.
class Server {
 public:
  Server(const std::string &shell_cmd, int port) : port_(port) {
    log_ = dir_.path() + "/log";
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", (shell_cmd + " > " + log_ + " 2>&1").c_str(), nullptr);
      _exit(127);
    }
  }
  ~Server() {
    if (pid_ > 0) {
      kill(-pid_, SIGTERM);
      int st;
      waitpid(pid_, &st, 0);
    }
  }
  // Waits until the port answers a request for `path`.
  bool ready(const std::string &path, double seconds = 30) {
    auto t0 = Clock::now();
    while (since(t0) < seconds) {
      if (request_once(port_, path, 2) > 0) return true;
      usleep(100 * 1000);
    }
    return false;
  }
  pid_t pid() const { return pid_; }  // sh execs the server: the same process
  std::string log() const {
    std::string t;
    iptv::read_file(log_, t);
    return t;
  }

 private:
  iptv_test::TempDir dir_;
  std::string log_;
  pid_t pid_ = -1;
  int port_;
};

// A viewer fetching the playlist every 20 ms on its own connection each time; max latency.
class Viewer {
 public:
  Viewer(int port, std::string path) : port_(port), path_(std::move(path)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        auto t0 = Clock::now();
        int st = request_once(port_, path_, 5);
        double dt = since(t0);
        max_s_ = std::max(max_s_.load(), dt);
        ++count_;
        if (st != 200) ++failures_;
        if (dt > 0.050) ++over_50ms_;
        usleep(20 * 1000);
      }
    });
  }
  ~Viewer() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<double> max_s_{0};
  std::atomic<int> count_{0}, failures_{0}, over_50ms_{0};

 private:
  int port_;
  std::string path_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

std::string iptvctl() {
  const char *p = std::getenv("IPTVCTL");
  return p ? p : iptv_test::build_root() + "/orchestrator/iptvctl/iptvctl";
}

class StormTest : public ::testing::Test {
 protected:
  void SetUp() override {
    raise_own_fd_limit(4096);
    fs::create_directories(dir_.path() + "/news");
    std::string pl = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg-1.ts\n";
    ASSERT_EQ(iptv::write_file_atomic(dir_.path() + "/news/index.m3u8", pl), "");
    ASSERT_EQ(iptv::write_file_atomic(dir_.path() + "/news/seg-1.ts", std::string(115000, 'G')),
              "");
    port_ = iptv_test::free_port();
  }
  std::string serve(const std::string &extra = "", const std::string &prefix = "") {
    return prefix + "exec " + iptvctl() + " serve --channel news=" + dir_.path() +
           "/news --address 127.0.0.1 --port " + std::to_string(port_) + " " + extra;
  }
  iptv_test::TempDir dir_;
  int port_ = 0;
};

// One storm: `n` short-lived connections (open, one request, the client closes first), each
// path from `path_of(i)`, while `viewer` polls; the server's descriptors are sampled throughout
// and until closed connections are reclaimed (a main-loop iteration or two).
struct StormResult {
  int failures = 0, before = 0, peak = 0, after = -1;
  double seconds = 0;
};
template <typename PathOf>
StormResult run_storm(pid_t pid, int port, int n, PathOf path_of, Viewer &viewer) {
  StormResult r;
  r.before = r.peak = fd_count(pid);
  auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (request_once(port, path_of(i)) != 200) ++r.failures;
    if (i % 250 == 0) r.peak = std::max(r.peak, fd_count(pid));
  }
  r.seconds = since(t0);
  viewer.finish();
  for (int i = 0; i < 50; ++i) {
    r.after = fd_count(pid);
    if (r.after <= r.before + 2) break;
    usleep(100 * 1000);
  }
  return r;
}

int storm_connections(int fallback) {
  const char *n_env = std::getenv("IPTV_STORM_CONNECTIONS");
  return n_env ? std::atoi(n_env) : fallback;
}

// Item 1: every connection of a storm is closed by the server once the client closes it; the
// descriptor count stays flat and a viewer keeps being answered.
TEST_F(StormTest, ShortLivedConnectionsLeaveNoDescriptorBehind) {
  Server srv(serve(), port_);
  ASSERT_TRUE(srv.ready("/hls/news/index.m3u8")) << srv.log();
  int n = storm_connections(5000);
  Viewer viewer(port_, "/hls/news/index.m3u8");
  StormResult r = run_storm(
      srv.pid(), port_, n,
      [](int i) { return i % 2 ? "/hls/news/index.m3u8" : "/hls/news/seg-1.ts"; }, viewer);
  std::printf(
      "[storm] %d connections in %.1f s; fds before %d, peak %d, after %d; viewer: %d "
      "requests, max %.1f ms, %d over 50 ms, %d failed\n",
      n, r.seconds, r.before, r.peak, r.after, viewer.count_.load(), viewer.max_s_ * 1000,
      viewer.over_50ms_.load(), viewer.failures_.load());
  EXPECT_EQ(r.failures, 0);
  EXPECT_LE(r.after, r.before + 2) << "descriptors leaked";
  EXPECT_LE(r.peak, r.before + 32);
  EXPECT_EQ(viewer.failures_, 0);
  EXPECT_GT(viewer.count_, 0);
  // 50 ms is the goal (see docs/reliability.md for the quiet-machine figure); on a loaded CI box
  // only a gross stall fails the test.
  EXPECT_LT(viewer.max_s_, 1.0);
  std::string ss = iptv_test::sh("ss -tan state close-wait '( sport = :" + std::to_string(port_) +
                                 " )' | tail -n +2 | wc -l");
  EXPECT_EQ(std::atoi(ss.c_str()), 0) << "sockets left in CLOSE-WAIT";
}

// The same against the daemon (API routes share the server): /healthz storms leave no
// descriptor behind.
TEST_F(StormTest, IptvdHealthzStormLeavesNoDescriptorBehind) {
  std::string iptvd = iptv_test::build_root() + "/orchestrator/iptvd/iptvd";
  fs::create_directories(dir_.path() + "/channels");
  Server srv("exec " + iptvd + " --channels " + dir_.path() + "/channels --data " + dir_.path() +
                 "/data --listen 127.0.0.1:" + std::to_string(port_) + " --no-watch",
             port_);
  ASSERT_TRUE(srv.ready("/healthz")) << srv.log();
  wait_fds_steady(srv.pid());
  int n = storm_connections(2000);
  // A client polling throughout, a new connection per request (the daemon has no channel here,
  // so it polls /readyz: the same server thread answers viewers and the API).
  Viewer viewer(port_, "/readyz");
  StormResult r = run_storm(
      srv.pid(), port_, n, [](int) { return "/healthz"; }, viewer);
  std::printf(
      "[storm] iptvd: %d /healthz connections in %.1f s; fds before %d, peak %d, after %d; "
      "client: %d requests, max %.1f ms, %d over 50 ms, %d failed\n",
      n, r.seconds, r.before, r.peak, r.after, viewer.count_.load(), viewer.max_s_ * 1000,
      viewer.over_50ms_.load(), viewer.failures_.load());
  EXPECT_EQ(r.failures, 0);
  EXPECT_LE(r.after, r.before + 2) << "descriptors leaked";
  // Bounded whatever the count (100,000 connections peaked at 56 above the start): the daemon's
  // API answers are finished a main-loop iteration later than the origin's files.
  EXPECT_LE(r.peak, r.before + 128);
  EXPECT_EQ(viewer.failures_, 0);
  EXPECT_LT(viewer.max_s_, 1.0);
  // Only the origin answers ranges: elsewhere the header is dropped (no multipart, no 206).
  std::string out = iptv_test::sh(
      "curl -s -o /dev/null -w '%{http_code} %{content_type}' -H "
      "'Range: bytes=0-0,2-2,4-4' http://127.0.0.1:" +
      std::to_string(port_) + "/healthz");
  EXPECT_EQ(out.substr(0, 3), "200") << out;
  EXPECT_EQ(out.find("multipart"), std::string::npos) << out;
  // The descriptor and connection gauges, promtool-clean.
  std::string key;
  iptv::read_file(dir_.path() + "/data/admin.key", key);
  key = key.substr(0, key.find('\n'));
  std::string metrics = dir_.path() + "/metrics.txt";
  iptv_test::sh("curl -s -H 'Authorization: Bearer " + key + "' -o " + metrics +
                " http://127.0.0.1:" + std::to_string(port_) + "/metrics");
  std::string text;
  iptv::read_file(metrics, text);
  EXPECT_NE(text.find("\niptv_open_fds "), std::string::npos) << text;
  EXPECT_NE(text.find("\niptv_http_connections 1\n"), std::string::npos) << text;  // this one
  EXPECT_NE(text.find("iptv_http_connections_closed_total{reason=\"peer_closed\"}"),
            std::string::npos);
  int st = -1;
  std::string pc = iptv_test::sh("promtool check metrics < " + metrics + " 2>&1", &st);
  EXPECT_EQ(st, 0) << pc;
}

// Both servers raise their open-file soft limit to the hard limit at start.
TEST_F(StormTest, OpenFileSoftLimitRaisedToTheHardLimit) {
  std::string iptvd = iptv_test::build_root() + "/orchestrator/iptvd/iptvd";
  fs::create_directories(dir_.path() + "/channels");
  auto limits = [](pid_t pid) {
    std::string text;
    iptv::read_file("/proc/" + std::to_string(pid) + "/limits", text);
    for (const auto &line : iptv::split(text, '\n'))
      if (iptv::starts_with(line, "Max open files")) return line;
    return std::string();
  };
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max <= 300) GTEST_SKIP() << "hard limit too low";
  std::string hard = std::to_string(rl.rlim_max);
  for (const std::string &cmd :
       {serve("", "ulimit -Sn 300 && "),
        "ulimit -Sn 300 && exec " + iptvd + " --channels " + dir_.path() + "/channels --data " +
            dir_.path() + "/data --listen 127.0.0.1:" + std::to_string(port_) + " --no-watch"}) {
    Server srv(cmd, port_);
    ASSERT_TRUE(
        srv.ready(cmd.find("iptvd ") != std::string::npos ? "/healthz" : "/hls/news/index.m3u8"))
        << srv.log();
    auto f = iptv::split(limits(srv.pid()), ' ');
    std::vector<std::string> nums;
    for (const auto &x : f)
      if (!x.empty() && isdigit(static_cast<unsigned char>(x[0]))) nums.push_back(x);
    ASSERT_EQ(nums.size(), 2u) << limits(srv.pid());
    EXPECT_EQ(nums[0], hard) << cmd;  // soft
    EXPECT_EQ(nums[1], hard) << cmd;
  }
}

// Item 8: idle keep-alive connections and slowloris requests are closed after the configured
// timeouts (1 s here).
TEST_F(StormTest, IdleAndSlowlorisConnectionsClosedAfterTimeouts) {
  Server srv(serve("--idle-timeout 1 --header-timeout 1"), port_);
  ASSERT_TRUE(srv.ready("/hls/news/index.m3u8")) << srv.log();
  // Idle keep-alive: one request, then nothing.
  int idle = connect_to(port_, 0.2);
  ASSERT_GE(idle, 0);
  ASSERT_TRUE(send_all(idle, "GET /hls/news/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_EQ(read_response(idle), 200);
  // Silent: connects and never sends a byte.
  int silent = connect_to(port_, 0.2);
  ASSERT_GE(silent, 0);
  // Slowloris: a header line every 300 ms, never the end of the head.
  int loris = connect_to(port_, 0.2);
  ASSERT_GE(loris, 0);
  ASSERT_TRUE(send_all(loris, "GET /hls/news/index.m3u8 HTTP/1.1\r\nHost: x\r\n"));
  std::atomic<bool> loris_closed{false};
  std::thread drip([&] {
    for (int i = 0; i < 40 && !loris_closed; ++i) {
      usleep(300 * 1000);
      if (!send_all(loris, "X-Slow-" + std::to_string(i) + ": y\r\n")) break;
    }
  });
  // Each measured from now, in parallel.
  double t_idle = -1, t_silent = -1, t_loris = -1;
  std::thread w1([&] { t_idle = seconds_until_closed(idle, 8); });
  std::thread w2([&] { t_silent = seconds_until_closed(silent, 8); });
  t_loris = seconds_until_closed(loris, 8);
  loris_closed = true;
  w1.join();
  w2.join();
  drip.join();
  close(idle);
  close(silent);
  close(loris);
  std::printf("[timeouts] idle closed after %.2f s, silent %.2f s, slowloris %.2f s\n", t_idle,
              t_silent, t_loris);
  EXPECT_GT(t_idle, 0) << "idle keep-alive connection never closed";
  EXPECT_GT(t_silent, 0) << "silent connection never closed";
  EXPECT_GT(t_loris, 0) << "slowloris connection never closed";
  // Each waited about the timeout (none was closed at once); the slowloris kept sending.
  EXPECT_GT(t_idle, 0.5);
  EXPECT_GT(t_silent, 0.5);
  EXPECT_GT(t_loris, 0.5);
  EXPECT_EQ(request_once(port_, "/hls/news/index.m3u8"), 200);
}

// Item 8: 1,000 hostile connections (silent, slowloris, idle keep-alive) against a server
// limited to 256 descriptors, with the default (long) timeouts: a viewer is still served, at
// once, every time.
TEST_F(StormTest, LowDescriptorLimitAndThousandHostileConnectionsStillServeViewers) {
  Server srv(serve("", "ulimit -n 256 && "), port_);
  ASSERT_TRUE(srv.ready("/hls/news/index.m3u8")) << srv.log();
  std::vector<int> hostile;
  auto t_open = Clock::now();
  for (int i = 0; i < 1000 && since(t_open) < 20; ++i) {  // bounded if the server stalls
    int s = connect_to(port_, 1);
    if (s < 0) continue;  // the kernel's queue may refuse some: fine
    if (i % 3 == 1) send_all(s, "GET /hls/news/index.m3u8 HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    if (i % 3 == 2) {
      send_all(s, "GET /hls/news/index.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n");
      // Not read: it is answered and then idles.
    }
    hostile.push_back(s);
  }
  EXPECT_GT(hostile.size(), 900u);
  double worst = 0;
  int failures = 0;
  for (int i = 0; i < 20; ++i) {
    auto t0 = Clock::now();
    if (request_once(port_, "/hls/news/index.m3u8", 2) != 200) ++failures;
    worst = std::max(worst, since(t0));
  }
  int fds = fd_count(srv.pid());
  std::printf(
      "[hostile] %zu hostile connections, ulimit -n 256: viewer worst %.1f ms, %d "
      "failed, server fds %d\n",
      hostile.size(), worst * 1000, failures, fds);
  for (int s : hostile) close(s);
  EXPECT_EQ(failures, 0) << srv.log();
  EXPECT_LT(worst, 2.0);
  EXPECT_LE(fds, 256);
  EXPECT_EQ(kill(srv.pid(), 0), 0) << "the server died";
}

}  // namespace
