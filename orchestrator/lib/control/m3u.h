// M3U playlists for IPTV players (VLC, Kodi PVR IPTV Simple): an #EXTM3U header with url-tvg and
// one #EXTINF line per channel with tvg-id, tvg-name, tvg-logo and group-title.
#pragma once

#include <string>
#include <vector>

namespace iptv::control {

struct M3uEntry {
  std::string tvg_id, name, logo, group, url;
};

// Attribute values lose '"' and line breaks (players do not unescape them).
std::string render_m3u(const std::vector<M3uEntry> &entries, const std::string &epg_url);

}  // namespace iptv::control
