#include "origin/ll_playlist.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace iptv {

namespace {

bool has_prefix(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(0, p.size()) == p;
}

// Lines without their terminators ("\r\n" or "\n").
std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(at, end - at);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    at = end + 1;
  }
  return out;
}

double number_after(std::string_view line, size_t at) {
  return std::atof(std::string(line.substr(at, 32)).c_str());
}

bool is_uri(std::string_view line) {
  return !line.empty() && line[0] != '#';
}

// Tags of the playlist as a whole (never part of a segment's block).
bool playlist_tag(std::string_view line) {
  for (std::string_view t :
       {"#EXTM3U", "#EXT-X-VERSION:", "#EXT-X-TARGETDURATION:", "#EXT-X-MEDIA-SEQUENCE:",
        "#EXT-X-DISCONTINUITY-SEQUENCE:", "#EXT-X-PLAYLIST-TYPE:", "#EXT-X-SERVER-CONTROL:",
        "#EXT-X-PART-INF:", "#EXT-X-INDEPENDENT-SEGMENTS",
        "#EXT-X-START:", "#EXT-X-DEFINE:", "#EXT-X-ALLOW-CACHE:", "#EXT-X-I-FRAMES-ONLY"})
    if (has_prefix(line, t)) return true;
  return false;
}

}  // namespace

std::optional<std::string> hls_attribute(std::string_view line, std::string_view name) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  size_t at = colon + 1;
  while (at < line.size()) {
    size_t eq = line.find('=', at);
    if (eq == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(at, eq - at);
    size_t v = eq + 1, end;
    std::string value;
    if (v < line.size() && line[v] == '"') {
      size_t close = line.find('"', v + 1);
      if (close == std::string_view::npos) close = line.size();
      value = std::string(line.substr(v + 1, close - v - 1));
      end = line.find(',', close);
    } else {
      end = line.find(',', v);
      value = std::string(line.substr(v, (end == std::string_view::npos ? line.size() : end) - v));
    }
    if (key == name) return value;
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return std::nullopt;
}

MediaPlaylistInfo scan_media_playlist(std::string_view text) {
  MediaPlaylistInfo info;
  int64_t segments = 0;
  int parts_since_segment = 0;
  for (std::string_view line : lines_of(text)) {
    if (is_uri(line)) {  // a segment's URI ends its parts
      parts_since_segment = 0;
      continue;
    }
    if (has_prefix(line, "#EXTINF:")) {
      ++segments;
      continue;
    }
    if (has_prefix(line, "#EXT-X-TARGETDURATION:")) {
      info.target_duration = std::atoi(std::string(line.substr(22, 12)).c_str());
    } else if (has_prefix(line, "#EXT-X-MEDIA-SEQUENCE:")) {
      info.media_sequence = std::atoll(std::string(line.substr(22, 24)).c_str());
    } else if (has_prefix(line, "#EXT-X-VERSION:")) {
      info.version = std::atoi(std::string(line.substr(15, 8)).c_str());
    } else if (has_prefix(line, "#EXT-X-PART-INF:")) {
      if (auto v = hls_attribute(line, "PART-TARGET")) info.part_target = std::atof(v->c_str());
    } else if (has_prefix(line, "#EXT-X-SERVER-CONTROL:")) {
      if (auto v = hls_attribute(line, "CAN-SKIP-UNTIL"))
        info.can_skip_until = std::atof(v->c_str());
      info.can_skip_dateranges = hls_attribute(line, "CAN-SKIP-DATERANGES") == "YES";
      info.can_block_reload = hls_attribute(line, "CAN-BLOCK-RELOAD") == "YES";
    } else if (has_prefix(line, "#EXT-X-PART:")) {
      ++parts_since_segment;
      if (auto v = hls_attribute(line, "URI")) info.part_uris.push_back(*v);
    } else if (has_prefix(line, "#EXT-X-PRELOAD-HINT:")) {
      if (hls_attribute(line, "TYPE") == "PART")
        if (auto v = hls_attribute(line, "URI")) info.preload_part = *v;
    } else if (has_prefix(line, "#EXT-X-DATERANGE:")) {
      if (auto v = hls_attribute(line, "ID")) info.daterange_ids.push_back(*v);
    } else if (has_prefix(line, "#EXT-X-ENDLIST")) {
      info.endlist = true;
    }
  }
  // Parts and hints name their files in attributes: a URI line is always a segment's.
  info.last_msn = info.media_sequence + segments - 1;
  info.parts_pending = parts_since_segment;
  return info;
}

BlockVerdict block_verdict(const MediaPlaylistInfo &info, int64_t msn, int64_t part) {
  if (msn <= info.last_msn) return BlockVerdict::kReady;
  if (msn > info.last_msn + 2) return BlockVerdict::kTooFar;
  if (part < 0 || info.part_target <= 0) return BlockVerdict::kWait;
  if (msn == info.last_msn + 1 && part < info.parts_pending) return BlockVerdict::kReady;
  // Parts ahead of the last one published, counting a segment as TARGETDURATION/PART-TARGET
  // parts (the packager's parts per segment, near enough for a limit).
  int64_t per_segment =
      std::max<int64_t>(1, std::llround(std::max(1, info.target_duration) / info.part_target));
  int64_t head = (info.last_msn + 1) * per_segment + info.parts_pending - 1;
  int64_t want = msn * per_segment + part;
  int64_t limit =
      info.part_target < 1.0 ? static_cast<int64_t>(std::floor(3.0 / info.part_target)) : 3;
  return want - head > limit ? BlockVerdict::kTooFar : BlockVerdict::kWait;
}

std::optional<std::string> delta_update(std::string_view text, const MediaPlaylistInfo &info,
                                        bool v2,
                                        const std::vector<std::string> &removed_dateranges) {
  if (info.can_skip_until <= 0 || info.endlist) return std::nullopt;
  v2 = v2 && info.can_skip_dateranges;
  std::vector<std::string_view> lines = lines_of(text);
  // Header: the playlist tags before the first segment's lines.
  size_t first = 0;
  while (first < lines.size() && (lines[first].empty() || playlist_tag(lines[first]))) ++first;
  struct Block {
    size_t begin, end;  // [begin, end): its lines, the URI last
    double duration;
  };
  std::vector<Block> blocks;
  size_t begin = first;
  double duration = 0, total = 0;
  bool extinf = false;
  for (size_t i = first; i < lines.size(); ++i) {
    if (has_prefix(lines[i], "#EXTINF:")) {
      duration = number_after(lines[i], 8);
      extinf = true;
    } else if (is_uri(lines[i]) && extinf) {
      blocks.push_back({begin, i + 1, duration});
      total += duration;
      begin = i + 1;
      extinf = false;
    }
  }
  size_t skip = 0;
  double end = 0;
  for (const Block &b : blocks) {
    end += b.duration;
    // Wholly before the skip boundary (a millisecond of slack for rounded EXTINFs).
    if (total - end + 1e-3 < info.can_skip_until) break;
    ++skip;
  }
  // Never the last segment: a delta always lists at least one.
  skip = std::min(skip, blocks.empty() ? 0 : blocks.size() - 1);
  if (skip == 0) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  int version = std::max(info.version, v2 ? 10 : 9);
  for (size_t i = 0; i < first; ++i) {
    if (has_prefix(lines[i], "#EXT-X-VERSION:")) {
      out += "#EXT-X-VERSION:" + std::to_string(version) + "\n";
      continue;
    }
    out.append(lines[i]);
    out += '\n';
    if (has_prefix(lines[i], "#EXTM3U") && info.version == 0)
      out += "#EXT-X-VERSION:" + std::to_string(version) + "\n";
  }
  out += "#EXT-X-SKIP:SKIPPED-SEGMENTS=" + std::to_string(skip);
  if (v2) {
    out += ",RECENTLY-REMOVED-DATERANGES=\"";
    for (size_t i = 0; i < removed_dateranges.size(); ++i) {
      if (i) out += '\t';
      out += removed_dateranges[i];
    }
    out += '"';
  }
  out += '\n';
  // What the skipped segments carried that still applies after them.
  std::string_view map, key;
  std::vector<std::string_view> dateranges;
  for (size_t i = blocks[0].begin; i < blocks[skip - 1].end; ++i) {
    if (has_prefix(lines[i], "#EXT-X-MAP:")) map = lines[i];
    if (has_prefix(lines[i], "#EXT-X-KEY:")) key = lines[i];
    if (!v2 && has_prefix(lines[i], "#EXT-X-DATERANGE:")) dateranges.push_back(lines[i]);
  }
  bool own_map = false, own_key = false;
  for (size_t i = blocks[skip].begin; i < blocks[skip].end; ++i) {
    own_map = own_map || has_prefix(lines[i], "#EXT-X-MAP:");
    own_key = own_key || has_prefix(lines[i], "#EXT-X-KEY:");
  }
  for (std::string_view d : dateranges) {
    out.append(d);
    out += '\n';
  }
  if (!key.empty() && !own_key) {
    out.append(key);
    out += '\n';
  }
  if (!map.empty() && !own_map) {
    out.append(map);
    out += '\n';
  }
  for (size_t i = blocks[skip].begin; i < lines.size(); ++i) {
    if (i + 1 == lines.size() && lines[i].empty()) break;  // the text's final newline
    out.append(lines[i]);
    out += '\n';
  }
  return out;
}

}  // namespace iptv
