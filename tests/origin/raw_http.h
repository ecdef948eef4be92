// Raw-socket HTTP/1.1 clients for the origin's in-process tests (no client library between the
// test and the origin's bytes): connect, send a GET, read one Content-Length response.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

namespace origin_test {

using Clock = std::chrono::steady_clock;

inline double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

inline int connect_to(int port, double timeout_s = 10) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  struct timeval tv {
    static_cast<time_t>(timeout_s), 0
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

inline bool send_get(int s, const std::string &path) {
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  return send(s, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
}

struct Response {
  int status = -1;
  std::string head, body;
};

// One response with a Content-Length body; status -1 on error or timeout.
inline Response read_response(int s) {
  Response r;
  std::string buf;
  char tmp[65536];
  size_t head_end = std::string::npos;
  while (head_end == std::string::npos) {
    ssize_t n = recv(s, tmp, sizeof tmp, 0);
    if (n <= 0) return r;
    buf.append(tmp, static_cast<size_t>(n));
    head_end = buf.find("\r\n\r\n");
  }
  r.head = buf.substr(0, head_end);
  std::string lower = r.head;
  for (auto &c : lower) c = static_cast<char>(tolower(c));
  size_t len = 0, cl = lower.find("content-length:");
  if (cl != std::string::npos) len = std::strtoul(lower.c_str() + cl + 15, nullptr, 10);
  while (buf.size() < head_end + 4 + len) {
    ssize_t n = recv(s, tmp, sizeof tmp, 0);
    if (n <= 0) return r;
    buf.append(tmp, static_cast<size_t>(n));
  }
  r.body = buf.substr(head_end + 4, len);
  r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

inline Response get_once(int port, const std::string &path, double timeout_s = 10) {
  int s = connect_to(port, timeout_s);
  if (s < 0) return {};
  Response r;
  if (send_get(s, path)) r = read_response(s);
  close(s);
  return r;
}

template <typename F>
inline bool wait_until(F pred, double limit_s) {
  auto t0 = Clock::now();
  while (since(t0) < limit_s) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

}  // namespace origin_test
