#include "util/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace iptv {

SdNotifier SdNotifier::from_environment() {
  const char *sock = std::getenv("NOTIFY_SOCKET");
  const char *usec = std::getenv("WATCHDOG_USEC");
  const char *wpid = std::getenv("WATCHDOG_PID");
  std::string path = sock ? sock : "";
  int64_t wd = usec ? std::strtoll(usec, nullptr, 10) : 0;
  // The watchdog is meant for the process systemd started (WATCHDOG_PID), not for another.
  if (wpid && *wpid && std::strtol(wpid, nullptr, 10) != static_cast<long>(getpid())) wd = 0;
  if (wd < 0) wd = 0;
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  // Only an absolute path or an abstract name is a socket systemd gives.
  if (!path.empty() && path[0] != '/' && path[0] != '@') path.clear();
  return SdNotifier(path, wd);
}

bool SdNotifier::notify(const std::string &state) const {
  if (socket_.empty()) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, socket_.data(), socket_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ssize_t n = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                     reinterpret_cast<sockaddr *>(&addr), len);
  close(fd);
  return n == static_cast<ssize_t>(state.size());
}

}  // namespace iptv
