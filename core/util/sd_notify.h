// systemd's service notification protocol (sd_notify(3)), without libsystemd: datagrams of
// "KEY=value" lines to the AF_UNIX socket named by $NOTIFY_SOCKET ('@' = abstract namespace).
// A service started with Type=notify says READY=1 once it serves, WATCHDOG=1 at least every
// $WATCHDOG_USEC / 2 (WatchdogSec=), STOPPING=1 when it begins to stop, STATUS=... for
// `systemctl status`. Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <cstdint>
#include <string>

namespace iptv {

class SdNotifier {
 public:
  // Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, then removes them from the
  // environment so that child processes (workers) neither inherit nor use them.
  static SdNotifier from_environment();
  SdNotifier() = default;
  SdNotifier(std::string socket_path, int64_t watchdog_usec)
      : socket_(std::move(socket_path)), watchdog_usec_(watchdog_usec) {}

  bool enabled() const { return !socket_.empty(); }
  // The watchdog interval systemd expects pings within (0: no watchdog).
  int64_t watchdog_usec() const { return watchdog_usec_; }
  // Sends one datagram ("READY=1\nSTATUS=..."); false when disabled or the send failed.
  bool notify(const std::string &state) const;

 private:
  std::string socket_;
  int64_t watchdog_usec_ = 0;
};

}  // namespace iptv
