// RFC 8216 playlist parser for checking streams we did not write (iptvctl probe). Free of
// GStreamer. It reads multivariant and media playlists, keeps the line of every tag and URI, and
// never fails: whatever is malformed becomes a Finding and parsing goes on.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace iptv::hlsparse {

enum class Severity { kError, kWarning, kInfo };
const char *severity_name(Severity s);

// One broken rule: which rule, how bad, where (URL and 1-based line, 0 when no line applies).
struct Finding {
  Severity severity = Severity::kError;
  std::string rule;       // stable id, e.g. "targetduration-exceeded" (docs/probe.md)
  std::string url;        // playlist or segment concerned
  int line = 0;           // line in the playlist at `url`, 0 = none
  std::string rendition;  // rendition name, "" when not tied to one
  std::string message;    // what was seen, for a human
  int64_t sequence = -1;  // media sequence number of the segment concerned, -1 = none
  int count = 1;          // times seen (repeats of the same rule/url/line are merged)
};

using Attributes = std::map<std::string, std::string>;  // quoted values without quotes

struct ByteRange {
  uint64_t length = 0;
  uint64_t offset = 0;
};

struct Segment {
  uint64_t sequence = 0;                // EXT-X-MEDIA-SEQUENCE + index
  uint64_t discontinuity_sequence = 0;  // EXT-X-DISCONTINUITY-SEQUENCE + discontinuities so far
  double duration = 0;                  // EXTINF, seconds
  std::string title;
  std::string uri;
  int line = 0;      // line of the EXTINF tag
  int uri_line = 0;  // line of the URI
  bool discontinuity = false;
  bool gap = false;               // EXT-X-GAP
  std::optional<int64_t> pdt_ms;  // EXT-X-PROGRAM-DATE-TIME (this segment's own tag), UTC ms
  int pdt_line = 0;
  std::optional<ByteRange> byterange;
  std::string map_uri;  // EXT-X-MAP URI in effect (fMP4 init segment), "" when none
};

struct Variant {  // EXT-X-STREAM-INF + its URI
  Attributes attrs;
  std::string uri;
  int line = 0;
  uint64_t bandwidth = 0;
  std::string codecs;
  std::string audio_group;  // AUDIO attribute
};

struct Rendition {  // EXT-X-MEDIA
  Attributes attrs;
  std::string type;  // AUDIO, VIDEO, SUBTITLES, CLOSED-CAPTIONS
  std::string group_id;
  std::string name;
  std::string uri;  // may be empty (in the variant's own segments)
  int line = 0;
};

struct Playlist {
  std::string url;
  bool has_header = false;  // #EXTM3U on line 1
  bool multivariant = false;
  int version = 1;
  std::optional<int> target_duration;
  int target_duration_line = 0;
  uint64_t media_sequence = 0;
  int media_sequence_line = 0;
  uint64_t discontinuity_sequence = 0;
  int discontinuity_sequence_line = 0;
  bool endlist = false;
  std::string playlist_type;  // "", "EVENT", "VOD"
  bool independent_segments = false;
  std::vector<Segment> segments;
  std::vector<Variant> variants;
  std::vector<Rendition> renditions;

  bool live() const { return !endlist && playlist_type != "VOD"; }
};

// Parses `text` fetched from `url`. Every problem with the text itself is appended to findings
// (rules: playlist-header-missing, tag-malformed, attribute-malformed, tag-misplaced,
// tag-duplicated, tag-unknown, playlist-mixed, targetduration-missing, segment-uri-missing,
// variant-uri-missing, segment-extinf-missing, playlist-empty).
Playlist parse(std::string_view text, const std::string &url, std::vector<Finding> &findings);

// An attribute list (RFC 8216 4.2). False when malformed; `attrs` then holds what was readable.
bool parse_attributes(std::string_view s, Attributes &attrs);

// "2026-11-24T22:33:00.123Z" or with a +hh:mm / +hhmm offset, to UTC milliseconds.
std::optional<int64_t> parse_iso8601_ms(std::string_view s);

}  // namespace iptv::hlsparse
