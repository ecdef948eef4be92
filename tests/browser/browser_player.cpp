#include "browser_player.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "test_support.h"

namespace iptv_test {

std::string browser_dir() {
  const char *src = std::getenv("IPTV_SOURCE_ROOT");
  return std::string(src ? src : ".") + "/tests/browser";
}

std::string browser_missing() {
  namespace fs = std::filesystem;
  if (access("/usr/bin/chromium", X_OK) != 0 && !std::getenv("CHROMIUM"))
    return "chromium (Debian package chromium; scripts/setup installs it)";
  if (access("/usr/bin/node", X_OK) != 0) return "node (Debian package nodejs)";
  for (const char *m : {"hls.js", "dashjs", "playwright-core"}) {
    if (!fs::exists(browser_dir() + "/node_modules/" + m))
      return std::string("npm module ") + m + " (scripts/setup runs npm ci in tests/browser)";
  }
  return "";
}

static std::string quote(const std::string &s) {
  std::string q = "'";
  for (char c : s) q += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

nlohmann::json browser_play(const std::string &url, const PlayOptions &o, std::string *log) {
  std::string cmd = "node " + quote(browser_dir() + "/play.mjs") + " --url " + quote(url) +
                    " --player " + o.player + " --seconds " + std::to_string(o.seconds);
  if (o.force_switch) cmd += " --switch";
  if (o.low_latency) cmd += " --low-latency";
  if (o.cmcd) cmd += " --cmcd";
  if (o.seek_back > 0) cmd += " --seek-back " + std::to_string(o.seek_back);
  for (auto &a : o.extra_args) cmd += " " + quote(a);
  std::string out = sh(cmd + " 2>&1");
  if (log) *log = out;
  // The report is the last line that parses as a JSON object (node may print warnings first).
  size_t end = out.size();
  while (end > 0) {
    size_t start = out.rfind('\n', end - 1);
    start = (start == std::string::npos) ? 0 : start + 1;
    std::string line = out.substr(start, end - start);
    if (!line.empty() && line[0] == '{') {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_discarded()) return j;
    }
    if (start == 0) break;
    end = start - 1;
  }
  return {{"ok", false}, {"errors", {{{"fatal", true}, {"type", "driver"}, {"details", out}}}}};
}

}  // namespace iptv_test
