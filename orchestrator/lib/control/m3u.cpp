#include "control/m3u.h"

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
    out += " group-title=\"" + attr(e.group) + "\"," + attr(e.name) + "\n";
    out += attr(e.url) + "\n";
  }
  return out;
}

}  // namespace iptv::control
