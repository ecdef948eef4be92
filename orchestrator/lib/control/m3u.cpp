#include "control/m3u.h"

#include <algorithm>
#include <cmath>

namespace iptv::control {

namespace {
std::string attr(const std::string &v) {
  std::string o;
  for (char c : v) {
    if (c == '"')
      o += '\'';
    else if (c == '\n' || c == '\r')
      o += ' ';
    else
      o += c;
  }
  return o;
}
}  // namespace

std::string render_m3u(const std::vector<M3uEntry> &entries, const std::string &epg_url) {
  std::string out = "#EXTM3U";
  if (!epg_url.empty())
    out += " url-tvg=\"" + attr(epg_url) + "\" x-tvg-url=\"" + attr(epg_url) + "\"";
  out += "\n";
  for (const auto &e : entries) {
    out += "#EXTINF:-1 tvg-id=\"" + attr(e.tvg_id) + "\" tvg-name=\"" + attr(e.name) + "\"";
    if (!e.logo.empty()) out += " tvg-logo=\"" + attr(e.logo) + "\"";
    if (e.catchup_days > 0)
      out += " catchup=\"append\" catchup-days=\"" +
             std::to_string(std::max(1, (int)std::floor(e.catchup_days))) +
             "\" catchup-source=\"?start={utc}&end={utcend}\"";
    out += " group-title=\"" + attr(e.group) + "\"," + attr(e.name) + "\n";
    out += attr(e.url) + "\n";
  }
  return out;
}

}  // namespace iptv::control
