#include "daemon/service_notify.h"

#include <unistd.h>

#include <algorithm>

namespace iptv::daemon {

ServiceNotifier::ServiceNotifier(SdNotifier notifier, std::function<std::string()> status)
    : notifier_(std::move(notifier)), status_(std::move(status)) {}

ServiceNotifier::~ServiceNotifier() {
  if (timer_) g_source_remove(timer_);
}

void ServiceNotifier::ready() {
  if (!notifier_.enabled()) return;
  last_status_ = status_ ? status_() : "";
  notifier_.notify("READY=1\nMAINPID=" + std::to_string(getpid()) + "\nSTATUS=" + last_status_);
  // Pings at half the interval systemd gives (sd_watchdog_enabled(3)); without a watchdog the
  // status is still refreshed every 10 s.
  int64_t wd = notifier_.watchdog_usec();
  guint ms = wd > 0 ? static_cast<guint>(std::max<int64_t>(wd / 2000, 1)) : 10000;
  timer_ = g_timeout_add(ms, &ServiceNotifier::on_tick, this);
}

gboolean ServiceNotifier::on_tick(gpointer p) {
  auto *self = static_cast<ServiceNotifier *>(p);
  std::string msg = self->notifier_.watchdog_usec() > 0 ? "WATCHDOG=1" : "";
  std::string status = self->status_ ? self->status_() : "";
  if (status != self->last_status_) {
    msg += (msg.empty() ? "" : "\n") + ("STATUS=" + status);
    self->last_status_ = status;
  }
  if (!msg.empty()) self->notifier_.notify(msg);
  return G_SOURCE_CONTINUE;
}

void ServiceNotifier::stopping() {
  if (timer_ && notifier_.watchdog_usec() == 0) {
    g_source_remove(timer_);
    timer_ = 0;
  }
  // The watchdog keeps pinging while the channels finish their segments.
  notifier_.notify("STOPPING=1\nSTATUS=stopping: finishing open segments");
}

}  // namespace iptv::daemon
