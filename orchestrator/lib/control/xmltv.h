// EPG for IPTV players: XMLTV (/iptv/epg.xml) built from the channel records' `epg.schedule`
// files. A schedule file is either
//   - an upstream XMLTV file (it starts with '<'): its programmes are normalised: times to UTC
//     ("YYYYMMDDhhmmss +0000"), overlapping programmes trimmed (a programme ends where the next
//     one starts), programmes of channels no record knows dropped with a warning; or
//   - a YAML schedule for the record's own channel:
//       timezone: "+01:00"            # optional, for times without an offset (default UTC)
//       programmes:
//         - {start: "2026-11-29T18:00:00+01:00", stop: "2026-11-29T18:30:00+01:00",
//            title: "News", desc: "...", category: "News"}
//         - {start: "2026-11-29T18:30:00", duration_minutes: 30, title: "Weather"}
// Channels are matched by tvg-id (epg.tvg_id, default channel_id). GLib only (GMarkup).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "records/channel.h"

namespace iptv::control {

struct Programme {
  std::string channel;  // tvg-id
  int64_t start = 0;    // unix seconds (UTC)
  int64_t stop = 0;     // 0 = unknown (then the next programme's start)
  std::string title, sub_title, desc, category, lang;
};

struct EpgChannel {
  std::string id;  // tvg-id
  std::string display_name;
  std::string icon;
};

// "20261129180000 +0100", "20261129180000" (UTC), "202611291800 -0500" -> unix seconds.
// Returns false on anything else.
bool parse_xmltv_time(std::string_view s, int64_t *out);
// unix seconds -> "20261129170000 +0000".
std::string format_xmltv_time(int64_t unix_s);

// Parses an XMLTV document's <programme> elements. False with an error on malformed XML.
bool parse_xmltv(std::string_view text, std::vector<Programme> &out, std::string *error);
// Parses a YAML schedule for `channel` (its tvg-id).
bool parse_schedule(std::string_view text, const std::string &channel, std::vector<Programme> &out,
                    std::string *error);

// Sorts by (channel, start), fills unknown stops from the next start, trims overlaps and drops
// programmes left with no duration or without a start.
void normalise_programmes(std::vector<Programme> &programmes);

// Drops programmes whose channel is not in `known`; adds one warning per dropped channel.
void drop_unknown_channels(std::vector<Programme> &programmes,
                           const std::vector<std::string> &known,
                           std::vector<std::string> &warnings, const std::string &source);

std::string render_xmltv(const std::vector<EpgChannel> &channels,
                         const std::vector<Programme> &programmes);

struct EpgBuild {
  std::vector<EpgChannel> channels;
  std::vector<Programme> programmes;
  std::vector<std::string> warnings;  // unreadable files, unknown channels
};
// Builds the guide of the given records (retired and disabled ones are left out). Each schedule
// file is read once even when several records name it; relative paths resolve against the
// record file's folder.
EpgBuild build_epg(const std::vector<ChannelRecord> &records, const std::string &base_url = "");

std::string xml_escape(std::string_view s);

}  // namespace iptv::control
