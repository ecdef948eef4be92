// Viewer-side signals: the origin's requests counted by channel, rendition, device class and
// region, and what players report through CMCD (buffer starvation, startup), turned into
// rebuffer ratios and startup times. GStreamer-free (GLib for the session-id HMAC), unit-tested.
//
// Cardinality is bounded whatever clients send: device classes are a fixed set
// (device_class.h); channels are the ones the origin serves; a channel's rendition names and
// the regions are capped (the rest is "other"); region values are upper-cased [A-Z0-9-]{1,16}
// ("unknown" when the trusted header is absent). CMCD values are never labels.
//
// Privacy: a CMCD session id is kept only as HMAC-SHA256(random per-process key, sid), truncated
// to 16 hex characters, in memory, for at most the window; it is never logged or stored.
//
// Rebuffer ratio: the share of the requests carrying CMCD (a rendition's playlist reloads and
// segments) that report buffer starvation (CMCD `bs`, which players set on the request after a
// stall). Startup time: from a CMCD session's first
// request to its first request no longer marked startup (`su`), capped at 60 s.
//
// Threads: every method is thread-safe (one mutex); record() is called on the origin's threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "viewers/cmcd.h"
#include "viewers/device_class.h"

namespace iptv::viewers {

struct ViewerRequest {
  std::string channel;    // a channel the origin serves
  std::string rendition;  // "" for the channel's multivariant playlist / root files
  bool media = false;     // a segment (not a playlist)
  bool dash = false;      // a DASH object (.mpd, .m4s) for device classification
  int status = 0;
  uint64_t bytes = 0;
  std::string user_agent;
  std::string region;  // the trusted region header's value ("" none)
  Cmcd cmcd;
  int64_t now_ms = 0;  // unix ms
};

struct ViewerStatsConfig {
  size_t max_channels = 512;
  size_t max_renditions_per_channel = 16;
  size_t max_regions = 32;
  size_t max_sessions = 50000;
  int window_minutes = 15;
};

// One (channel, rendition, device, region) series over the window, or cumulated.
struct ViewerRow {
  std::string channel, rendition, device, region;
  uint64_t requests = 0, errors = 0, bytes = 0;
  uint64_t cmcd_requests = 0, starved = 0;  // requests with CMCD / reporting starvation
  uint64_t startups = 0;
  double startup_s_sum = 0, startup_s_max = 0;
  double rebuffer_ratio() const { return cmcd_requests ? (double)starved / cmcd_requests : 0; }
  double error_ratio() const { return requests ? (double)errors / requests : 0; }
};

class ViewerStats {
 public:
  explicit ViewerStats(ViewerStatsConfig config = {});

  void record(const ViewerRequest &r);

  // The last `window_minutes` of one channel ("" every channel), one row per series.
  std::vector<ViewerRow> window(const std::string &channel, int64_t now_ms) const;
  // Prometheus text (families iptv_viewer_*), cumulative since start, plus the window's
  // rebuffer ratio gauge.
  std::string prometheus(int64_t now_ms) const;
  size_t sessions() const;
  // The stored form of a session id (for tests: the raw id must never appear).
  std::string session_hash(const std::string &sid) const;

  // Label normalisation (public for tests).
  static std::string region_label(const std::string &raw);

 private:
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  struct Bucket {
    int64_t minute = -1;
    ViewerRow row;
  };
  struct Series {
    ViewerRow total;
    std::vector<Bucket> buckets;  // window_minutes ring
  };
  struct SessionState {
    int64_t first_ms = 0, last_ms = 0;
    bool saw_startup = false, started = false;
  };
  std::string channel_label(const std::string &c);
  std::string rendition_label(const std::string &channel, const std::string &r);
  std::string region_capped(const std::string &raw);
  void prune_sessions(int64_t now_ms);

  ViewerStatsConfig cfg_;
  std::string salt_;
  mutable std::mutex mu_;
  std::map<Key, Series> series_;
  std::map<std::string, std::map<std::string, bool>> renditions_;  // channel -> names seen
  std::map<std::string, bool> regions_;
  std::map<std::string, SessionState> sessions_;  // by session_hash
  int64_t last_prune_ms_ = 0;
};

}  // namespace iptv::viewers
