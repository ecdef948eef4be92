#include "daemon/self_watch_rules.h"

#include <algorithm>
#include <cstdio>

#include "probe/segment_inspect.h"

namespace iptv::daemon::watch {

void check_rendition(const std::string &name, const std::string &text, const hlsparse::Playlist &mp,
                     double now, RenditionMemory &m, Problems &problems) {
  if (mp.segments.empty()) return;
  if (m.last_text != text || m.changed_at < 0) {
    m.last_text = text;
    m.changed_at = now;
  }
  double limit = std::max(6.0, 3.0 * mp.target_duration.value_or(2));
  if (now - m.changed_at > limit) {
    char b[128];
    std::snprintf(b, sizeof b, "%s: playlist unchanged for %.0f s", name.c_str(),
                  now - m.changed_at);
    problems["stale"] = b;
  }
  uint64_t dsn = mp.segments.back().discontinuity_sequence;
  if (m.have_seq && mp.media_sequence < m.last_seq)
    problems["continuity"] = name + ": media sequence went back from " +
                             std::to_string(m.last_seq) + " to " +
                             std::to_string(mp.media_sequence);
  if (m.have_seq && dsn < m.last_dsn)
    problems["continuity"] = name + ": discontinuity sequence went back";
  m.have_seq = true;
  m.last_seq = mp.media_sequence;
  m.last_dsn = dsn;
}

void check_alignment(const std::map<std::string, uint64_t> &newest, Problems &problems) {
  if (newest.size() < 2) return;
  auto [lo, hi] =
      std::minmax_element(newest.begin(), newest.end(),
                          [](const auto &a, const auto &b) { return a.second < b.second; });
  if (hi->second - lo->second > 2)
    problems["misaligned"] = lo->first + " is " + std::to_string(hi->second - lo->second) +
                             " segments behind " + hi->first;
}

bool lacks_audio(const std::string &segment) {
  hlsparse::SegmentProbe p;
  probe::inspect_segment(segment, p);
  return p.inspected && !p.has_audio;
}

}  // namespace iptv::daemon::watch
