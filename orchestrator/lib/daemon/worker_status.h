// Worker status lines (iptvd-worker -> iptvd), one JSON object per line; see docs/worker.md.
// GStreamer-free: parsed on the daemon's main loop, unit-tested on their own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>

namespace iptv::daemon {

struct StHello {
  int64_t pid = 0;
  std::string channel_id;
};
struct StHeartbeat {
  int64_t media_age_ms = -1;  // -1: no media yet
};
struct StState {
  std::string state;  // starting | live | degraded | failover | slate
  std::string reason;
  std::string active_source;  // primary | backup | slate
};
struct StSegment {
  std::string rendition;
  uint64_t sequence = 0;
  uint64_t discontinuity_sequence = 0;
  double duration = 0;
  uint64_t bytes = 0;
  std::string uri;
  std::string pdt;
};
struct StEncoder {
  std::string rendition;
  std::string factory;
};
struct StProbe {
  std::string condition;  // gap | silence | black | freeze | timestamp | rung-dropped
  bool active = false;
  std::string stream;
  std::string detail;
  std::string source;  // primary | backup: which input the probe watched ("" = the output)
};
// The worker's answer to a command line.
struct StAck {
  std::string cmd;
  bool ok = false;
  std::string detail;
};
// An input's health on every change (the failover machine's view): a backup that receives
// data is a healthy standby even while it is not on air.
struct StSource {
  std::string source;  // primary | backup
  bool healthy = false;
  std::string detail;
};
struct StEvent {
  std::string event_type;
  std::string reason;
  std::string source;
};
struct StRenditionStats {
  double fps = 0;
  double bitrate = 0;
};
struct StStats {
  std::map<std::string, StRenditionStats> renditions;
};
struct StError {
  std::string message;
};

using StatusLine = std::variant<StHello, StHeartbeat, StState, StSegment, StEncoder, StProbe,
                                StEvent, StStats, StError, StAck, StSource>;

// Parses one line. nullopt (with `error` set) for malformed JSON or an unknown "t"; unknown
// fields are ignored so workers and daemons of neighbouring versions interoperate.
std::optional<StatusLine> parse_status_line(const std::string &line, std::string *error);

}  // namespace iptv::daemon
