// The narrow interfaces through which the control plane (HTTP API, metrics, M3U/XMLTV, sessions)
// sees the daemon. The control plane defines them; the daemon (lib/daemon) implements them.
//
// Threads and blocking: every call except EventLog::wait_after is made on the HTTP server's
// thread, which also serves /hls. Implementations must answer from a snapshot that the daemon's
// owner thread keeps up to date (copy under a short mutex); they must never wait for a worker
// process, a pipeline, a disk scan or the owner thread's main loop. Actions are requests: act()
// validates, posts the command to the owner thread and returns; it does not wait for the media
// plane to carry it out (the result arrives as events and state).
//
// Secrets: nothing these interfaces return may carry a secret. Source URIs are shown after
// redact_uri() (control/redact.h) anyway, but the daemon should not put passphrases there.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "records/channel.h"

namespace iptv::control {

// ---- Channels ------------------------------------------------------------------------------

// One rung of a channel as it runs now.
struct RenditionView {
  std::string name;                // "360p" (the profile name)
  bool enabled = true;             // false after a rendition disable action
  std::string encoder;             // encoder factory actually in use ("x264enc"); "" unknown/remux
  double last_segment_age_s = -1;  // seconds since the last segment was written; -1: none yet
  int64_t media_sequence = -1;     // last segment's sequence; -1: none yet
  int64_t discontinuity_sequence = 0;
  uint64_t segments = 0;        // segments written since the daemon started
  uint64_t bytes = 0;           // bytes written since the daemon started
  double bitrate_bps = 0;       // measured (worker "stats")
  double fps = 0;               // encoder output fps (worker "stats")
  double last_part_age_s = -1;  // low latency: seconds since its newest part; -1: no parts
};

// One source of a channel (the primary and, with failover, the backup).
struct SourceView {
  std::string role;        // "primary" | "backup"
  std::string uri;         // as configured (redacted again by the API)
  std::string kind;        // to_string(SourceKind)
  bool healthy = false;    // receiving data now
  std::string detail;      // why not healthy ("no data for 3.2 s", "EOS", ...)
  int64_t since_unix = 0;  // when `healthy` last changed; 0 unknown
};

// A probe condition that is active now.
struct ProbeConditionView {
  std::string condition;  // gap | silence | black | freeze | timestamp
  std::string stream;     // video | audio
  std::string detail;
  int64_t since_unix = 0;
};

// One event (from the store's outbox), as the API shows it.
struct EventView {
  int64_t id = 0;  // unique, increasing
  std::string event_type;
  std::string channel_id;
  std::string job_id;
  std::string profile;
  std::string input_checksum;
  std::string output_uri;
  int attempt = 0;
  std::string status;
  std::string detail_json = "{}";  // a JSON object, as stored
  int64_t created_at_ms = 0;       // unix milliseconds
};

// A row of the channel list.
struct ChannelView {
  std::string id;
  std::string name;
  std::string group;   // record epg.group
  std::string state;   // starting|live|degraded|failover|slate|offline|disabled|retired
  std::string reason;  // why it is in that state
  int64_t state_since_unix = 0;
  std::string active_source;          // primary | backup | slate | none
  std::string mode;                   // transcode | passthrough
  std::string segment_format = "ts";  // record hls.segment_format: ts | fmp4
  bool dash = false;                  // record dash: manifest.mpd beside the playlists
  uint32_t restarts = 0;              // worker restarts since the daemon started
  uint32_t failovers = 0;             // failovers since the daemon started
  int renditions = 0;
  double last_segment_age_s = -1;  // the oldest "last segment" over enabled renditions
  double last_part_age_s = -1;     // low latency: the oldest "newest part" over enabled renditions
  std::vector<std::string> active_conditions;  // "silence/audio", ...
};

// One input as the worker measures it (the worker's stats line; diagnose step 3).
struct InputView {
  std::string role;         // primary | backup
  double bitrate_bps = -1;  // encoded intake over the last interval; -1: not measurable
  std::string video_codec, audio_codec;
  int64_t last_packet_age_ms = -1;  // -1: no buffer yet
  uint64_t gaps = 0;                // gap raises since the worker started
};
// One of the worker's queues (diagnose step 4).
struct QueueView {
  std::string name;
  uint64_t level_ms = 0, max_ms = 0, level_bytes = 0, max_bytes = 0, level_buffers = 0,
           max_buffers = 0;
  double fill = 0;  // 0..1
};

// The detail view: everything the incident workflow asks about one channel.
struct ChannelDetail {
  ChannelView channel;
  std::vector<SourceView> sources;
  std::vector<RenditionView> renditions;
  std::vector<ProbeConditionView> conditions;  // active now
  int worker_pid = 0;                          // 0: none running
  int64_t worker_started_unix = 0;
  double heartbeat_age_s = -1;    // seconds since the worker's last status line; -1: no worker
  int64_t media_age_ms = -1;      // the worker's age of its last media buffer; -1: unknown
  std::string last_error;         // the last worker error message, if any
  std::vector<InputView> inputs;  // from the worker's last stats line (none: no worker)
  std::vector<QueueView> queues;
  double stats_age_s = -1;             // seconds since that line; -1: none
  std::vector<EventView> last_events;  // newest first, at most ~20
};

enum class Action {
  kFailover,          // switch to the backup now
  kReturn,            // return to the primary now
  kRestart,           // restart the channel's worker
  kPurge,             // purge the channel's cached manifests (origin + edge cache hooks)
  kRenditionDisable,  // args.rendition
  kRenditionEnable,   // args.rendition
};
const char *to_string(Action a);

struct ActionArgs {
  std::string rendition;  // for the rendition actions
  std::string actor;      // API key id that asked (for the daemon's own event/log)
};

struct ActionResult {
  enum class Code {
    kAccepted,     // 202: posted to the owner thread
    kNotFound,     // 404: no such channel / rendition
    kConflict,     // 409: not possible in this state (no backup, already on primary, ...)
    kUnavailable,  // 503: the daemon is stopping
  };
  Code code = Code::kAccepted;
  std::string message;  // for people; no secrets
  // A refusal (kConflict): a stable reason code. The API answers
  // 409 {"error":"refused","reason":REASON,"message":...} (docs/api.md, "Errors").
  std::string reason;
};

// An operator's note of an incident's cause (iptvctl diagnose --record), kept as the event
// `incident.note` of the channel.
struct IncidentNote {
  std::string cause;              // free text, at most 1000 characters, no control characters
  std::string first_failing_hop;  // "" unknown, else the diagnosis's hop name ("worker", ...)
  std::string actor;              // "key:<id>"
};

class ChannelDirectory {
 public:
  virtual ~ChannelDirectory() = default;
  virtual std::vector<ChannelView> list() = 0;
  virtual std::optional<ChannelDetail> get(const std::string &id) = 0;
  virtual ActionResult act(const std::string &id, Action action, const ActionArgs &args) = 0;
  // Records the note as an `incident.note` event (posted, like actions). kAccepted, kNotFound,
  // or kUnavailable when the daemon keeps no events.
  virtual ActionResult note_incident(const std::string &id, const IncidentNote &note) {
    (void)id;
    (void)note;
    return {ActionResult::Code::kUnavailable, "this daemon keeps no incident notes"};
  }
};

// ---- Channel records (access, rights, epg) --------------------------------------------------

class RecordSource {
 public:
  virtual ~RecordSource() = default;
  // The last good (applied) record of every channel, retired ones included while known.
  virtual std::vector<ChannelRecord> records() = 0;
  virtual std::optional<ChannelRecord> record(const std::string &id) = 0;
};

// ---- Events ------------------------------------------------------------------------------------

struct EventFilter {
  std::string channel_id;            // "" any
  std::string event_type;            // "" any; a trailing '*' is a prefix ("failover.*")
  std::optional<int64_t> after_id;   // id > after_id
  std::optional<int64_t> before_id;  // id < before_id
  int limit = 100;                   // 1..1000
};

struct EventPage {
  std::vector<EventView> events;  // ascending id when after_id is set, else descending (newest)
  bool more = false;              // more rows match beyond `limit`
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  virtual EventPage page(const EventFilter &filter) = 0;
  // Blocks until an event with id > after_id exists or `timeout` passes; returns those events
  // (ascending, at most 1000), maybe none. Called only from the control plane's own follower
  // thread, never from the HTTP server's thread.
  virtual std::vector<EventView> wait_after(int64_t after_id,
                                            std::chrono::milliseconds timeout) = 0;
  // The newest event id (0 when none).
  virtual int64_t last_id() = 0;
};

// ---- Metrics -----------------------------------------------------------------------------------

struct ProbeMetric {
  std::string condition;     // gap | silence | black | freeze | timestamp
  std::string stream;        // video | audio
  uint64_t activations = 0;  // times it became active since start
  bool active = false;
};

struct RenditionMetric {
  std::string name;
  bool enabled = true;
  double last_segment_age_s = -1;  // -1: none yet (not exported then)
  uint64_t segments = 0;
  uint64_t bytes = 0;
  double bitrate_bps = 0;
  double fps = 0;
  double last_part_age_s = -1;  // low latency; -1: no parts (not exported then)
};

struct ChannelMetric {
  std::string id;
  std::string state;  // one of the channel states
  uint64_t restarts = 0;
  uint64_t failovers = 0;
  std::string segment_format = "ts";  // ts | fmp4
  bool dash = false;
  double worker_cpu_seconds = 0;     // user+system of the current and past workers
  uint64_t worker_memory_bytes = 0;  // RSS of the current worker; 0 none
  std::vector<RenditionMetric> renditions;
  std::vector<ProbeMetric> probes;
};

struct MetricsSnapshot {
  std::vector<ChannelMetric> channels;
  uint64_t webhook_outbox_depth = 0;       // events not yet delivered
  uint64_t webhook_delivery_failures = 0;  // failed attempts since start
  uint64_t webhook_deliveries = 0;         // successful deliveries since start
  // Prometheus text of the viewer-side families (iptv_viewer_*, core/viewers), appended as is.
  std::string viewer_metrics;
};

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual MetricsSnapshot metrics() = 0;
};

// The channel states, in the order the `iptv_channel_state` gauge enumerates them.
inline const std::vector<std::string> &channel_states() {
  static const std::vector<std::string> s = {"starting", "live",    "degraded", "failover",
                                             "slate",    "offline", "disabled", "retired"};
  return s;
}

}  // namespace iptv::control
