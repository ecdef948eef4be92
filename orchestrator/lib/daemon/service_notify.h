// iptvd under systemd (Type=notify, WatchdogSec=): READY=1 once the channels are started and
// the API is mounted, WATCHDOG=1 from the main loop every half watchdog interval (a hung main
// loop stops the pings, and systemd restarts the service), STATUS= with the channels' states
// for `systemctl status`, STOPPING=1 when SIGTERM begins the graceful stop. See
// deploy/systemd/iptvd.service and docs/deploy.md. Nothing happens outside systemd.
#pragma once

#include <glib.h>

#include <functional>
#include <string>

#include "util/sd_notify.h"

namespace iptv::daemon {

class ServiceNotifier {
 public:
  // `status` gives the STATUS= text ("3 channels: 2 live, 1 failover").
  ServiceNotifier(SdNotifier notifier, std::function<std::string()> status);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier &) = delete;
  ServiceNotifier &operator=(const ServiceNotifier &) = delete;

  // READY=1 and the watchdog/status timer on the thread-default main context.
  void ready();
  void stopping();

 private:
  static gboolean on_tick(gpointer self);
  SdNotifier notifier_;
  std::function<std::string()> status_;
  guint timer_ = 0;
  std::string last_status_;
};

}  // namespace iptv::daemon
