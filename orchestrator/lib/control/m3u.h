// M3U playlists for IPTV players (VLC, Kodi PVR IPTV Simple): an #EXTM3U header with url-tvg and
// one #EXTINF line per channel with tvg-id, tvg-name, tvg-logo and group-title; a channel with
// catch-up also gets the attributes Kodi's IPTV Simple and TiviMate read:
//   catchup="append" catchup-days="3" catchup-source="?start={utc}&end={utcend}"
// (the player appends the source to the channel's URL, with the programme's unix times filled in:
// the time-addressed URL of docs/timeshift.md).
#pragma once

#include <string>
#include <vector>

namespace iptv::control {

struct M3uEntry {
  std::string tvg_id, name, logo, group, url;
  double catchup_days = 0;  // > 0: the catch-up attributes
};

// Attribute values lose '"' and line breaks (players do not unescape them).
std::string render_m3u(const std::vector<M3uEntry> &entries, const std::string &epg_url);

}  // namespace iptv::control
