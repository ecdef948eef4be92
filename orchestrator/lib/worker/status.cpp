#include "worker/status.h"

#include <errno.h>
#include <unistd.h>

namespace iptv::worker {

bool StatusWriter::write(const nlohmann::json &j) {
  std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> g(lock_);
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

Command parse_command(const std::string &line) {
  Command c;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::exception &e) {
    c.error = std::string("not JSON: ") + e.what();
    return c;
  }
  if (!j.is_object() || !j.contains("cmd") || !j["cmd"].is_string()) {
    c.error = "expected {\"cmd\": ...}";
    return c;
  }
  std::string cmd = j["cmd"];
  if (cmd == "failover" || cmd == "return" || cmd == "stop") {
    c.cmd = cmd;
  } else if (cmd == "rendition") {
    if (!j.contains("name") || !j["name"].is_string() || !j.contains("enabled") ||
        !j["enabled"].is_boolean()) {
      c.error = "rendition needs name (string) and enabled (boolean)";
      return c;
    }
    c.cmd = cmd;
    c.name = j["name"];
    c.enabled = j["enabled"];
  } else {
    c.error = "unknown command '" + cmd + "'";
  }
  return c;
}

}  // namespace iptv::worker
