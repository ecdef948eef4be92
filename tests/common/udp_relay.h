// A UDP relay on loopback for the tests: forwards the datagrams that reach `in_port` to
// `out_port` (and to every port of `more_out`) while on, and drops them while off, a feed cut in
// the network. Stopping a sender is not a clean cut (a live GStreamer sender that continues sends
// the frames it missed at once); dropping its datagrams on the way is. Used by the chaos test's
// flapping source and the worker's source-loss tests.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace iptv_test {

class UdpRelay {
 public:
  UdpRelay(int in_port, int out_port, std::vector<int> more_out = {})
      : out_ports_(std::move(more_out)) {
    out_ports_.insert(out_ports_.begin(), out_port);
    in_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    out_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(in_port);
    ok_ = in_ >= 0 && out_ >= 0 && ::bind(in_, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    timeval tv{0, 100000};
    ::setsockopt(in_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    thread_ = std::thread([this] { run(); });
  }
  ~UdpRelay() {
    stop_ = true;
    thread_.join();
    ::close(in_);
    ::close(out_);
  }
  UdpRelay(const UdpRelay &) = delete;
  UdpRelay &operator=(const UdpRelay &) = delete;
  bool ok() const { return ok_; }
  void set_on(bool on) {
    std::lock_guard<std::mutex> l(lock_);
    if (on && !on_) on_since_ = Clock::now();
    on_ = on;
  }
  // The silences of the sender longer than `seconds` seen while on (a datagram forwarded before
  // and after, within one "on" stretch): what a receiver saw as losses besides the cuts.
  int silences_over(double seconds) {
    std::lock_guard<std::mutex> l(lock_);
    int n = 0;
    for (double g : gaps_) n += g > seconds;
    return n;
  }

 private:
  void run() {
    std::vector<sockaddr_in> to(out_ports_.size());
    for (size_t i = 0; i < to.size(); ++i) {
      to[i].sin_family = AF_INET;
      to[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      to[i].sin_port = htons(out_ports_[i]);
    }
    char buf[65536];
    while (!stop_) {
      ssize_t n = ::recv(in_, buf, sizeof buf, 0);
      if (n <= 0 || !on_) continue;
      for (const auto &t : to)
        ::sendto(out_, buf, n, 0, reinterpret_cast<const sockaddr *>(&t), sizeof t);
      std::lock_guard<std::mutex> l(lock_);
      auto now = Clock::now();
      if (last_sent_ >= on_since_) {
        double g = std::chrono::duration<double>(now - last_sent_).count();
        if (g > 0.2) gaps_.push_back(g);
      }
      last_sent_ = now;
    }
  }
  using Clock = std::chrono::steady_clock;
  int in_ = -1, out_ = -1;
  std::vector<int> out_ports_;
  bool ok_ = false;
  std::atomic<bool> on_{true}, stop_{false};
  std::mutex lock_;
  Clock::time_point on_since_{}, last_sent_{};
  std::vector<double> gaps_;  // silences over 0.2 s while on
  std::thread thread_;
};

}  // namespace iptv_test
