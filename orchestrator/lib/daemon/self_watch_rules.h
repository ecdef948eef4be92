// The self-watch's conditions on what the origin served (self_watch.h fetches, these judge):
//   stale       a rendition's playlist unchanged for longer than max(3 x target duration, 6 s)
//   continuity  its media sequence went backwards, or its newest segment's discontinuity
//               sequence went backwards
//   misaligned  the renditions' newest sequence numbers more than 2 apart
//   no-audio    a segment (the first rendition's newest) with no audio stream
// No I/O: tested with playlist texts and segment bytes (tests/diagnose/test_self_watch_rules.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "hlsparse/parser.h"

namespace iptv::daemon::watch {

using Problems = std::map<std::string, std::string>;  // condition -> what was seen

// What the watch remembers of one rendition between two looks.
struct RenditionMemory {
  std::string last_text;
  double changed_at = -1;  // monotonic seconds of the last change; -1 never seen
  bool have_seq = false;
  uint64_t last_seq = 0, last_dsn = 0;
};

// One rendition's media playlist `text` (parsed: `mp`), fetched at `now`: stale, continuity.
void check_rendition(const std::string &name, const std::string &text, const hlsparse::Playlist &mp,
                     double now, RenditionMemory &m, Problems &problems);
// The newest sequence number of each rendition: misaligned.
void check_alignment(const std::map<std::string, uint64_t> &newest, Problems &problems);
// A segment's bytes (TS or fMP4): true when it was read and holds no audio stream.
bool lacks_audio(const std::string &segment);

}  // namespace iptv::daemon::watch
