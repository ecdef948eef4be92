// The daemon-worker protocol's messages, as types with their JSON both ways (docs/worker.md):
// - status lines, iptvd-worker -> iptvd: one JSON object per line on the status fd, its kind in
//   "t" (hello, hb, state, segment, encoder, probe, event, source, stats, error, ack);
// - commands, iptvd -> iptvd-worker: one JSON object per line on the worker's stdin, its kind in
//   "cmd" (failover, return, stop, rendition).
// The worker spec (the third message, a file) is in wire/spec.h.
//
// Reading is strict: a required field that is missing, or any known field of the wrong type, is
// an error naming the message kind and the field; an unknown "t" or "cmd" is an error naming it.
// Every field is required unless its comment says "optional" (then it keeps its default when
// absent).
// Fields the reader does not know are ignored, so workers and daemons of neighbouring versions
// interoperate. Writing emits every field of the type, with the names the reader expects.
//
// One segment report type (Segment) serves the worker (writes it), the daemon (reads it) and the
// store (records it: store::SegmentReport is this type).
// GStreamer-free, SQLite-free: iptvd, iptvd-worker and the tests link it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace iptv::wire {

// A malformed message: what() names the message kind and the field ("segment: field 'bytes':
// expected an unsigned integer").
struct WireError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- status lines (worker -> daemon)

// The first line a worker writes.
struct Hello {
  static constexpr const char *kType = "hello";
  int64_t pid = 0;
  std::string channel_id;
};
// Every heartbeat_ms.
struct Heartbeat {
  static constexpr const char *kType = "hb";
  int64_t media_age_ms = -1;  // -1: no media yet
  // optional, low-latency HLS: per rendition, when (UTC ms) its newest part was published.
  std::map<std::string, int64_t> part_at_ms;
};
// On every change of the failover machine's state (and "stopping" on a graceful stop).
struct State {
  static constexpr const char *kType = "state";
  std::string state;          // starting | live | degraded | failover | slate | stopping
  std::string reason;         // optional
  std::string active_source;  // optional: primary | backup | slate
};
// One segment, once the playlist that lists it is written.
struct Segment {
  static constexpr const char *kType = "segment";
  std::string rendition;
  uint64_t sequence = 0;
  uint64_t discontinuity_sequence = 0;
  double duration = 0;
  uint64_t bytes = 0;
  std::string uri;              // relative to the channel's HLS folder: "360p/seg-881234.ts"
  std::string pdt;              // optional: program date-time, ISO 8601 UTC ("" when unknown)
  uint64_t media_sequence = 0;  // optional: the playlist's EXT-X-MEDIA-SEQUENCE when written
  bool discontinuity = false;   // optional: the segment starts a discontinuity
  std::string key_id;           // optional: the AES-128 key that encrypts it ("" when clear)
};
// The encoder iptvabrladder picked for a rendition.
struct Encoder {
  static constexpr const char *kType = "encoder";
  std::string rendition;
  std::string factory;
  bool hardware = false;  // optional
};
// A content or timing condition raised or cleared.
struct Probe {
  static constexpr const char *kType = "probe";
  std::string condition;  // gap | silence | black | freeze | timestamp | rung-dropped
  bool active = false;
  std::string stream;  // optional: video | audio ("" = other)
  std::string detail;  // optional
  std::string source;  // optional: primary | backup, the input watched ("" = the output)
};
// An event for the daemon's outbox (failover.activated, source.lost, output.error, ...).
struct Event {
  static constexpr const char *kType = "event";
  std::string event_type;
  std::string reason;  // optional
  std::string source;  // optional
};
// An input's health on every change (the failover machine's view): a backup that receives
// data is a healthy standby even while it is not on air.
struct Source {
  static constexpr const char *kType = "source";
  std::string source;  // primary | backup
  bool healthy = false;
  std::string detail;  // optional
};
struct RenditionStats {
  double fps = 0;
  double bitrate = 0;  // bits per second of the last segment
};
// One input (primary | backup) as the worker's source pipeline sees it (issue 17, step 3).
struct InputStats {
  double bitrate_bps = -1;  // encoded bytes entering the decoders/parsers over the last interval,
                            // in bits per second; -1: not measurable (a generated test source)
  std::string video_codec;  // "H.264 (Main Profile)", "raw (generated)", "" = none seen
  std::string audio_codec;
  int64_t last_packet_age_ms = -1;  // since the input's last buffer; -1: none yet
  uint64_t gaps = 0;                // input gaps (the gap probe's raises) since the worker started
};
// One of the worker's queues (issue 17, step 4): its current level against its limit.
struct QueueFill {
  std::string name;  // "primary/tail-video", "output/...": the pipeline and the element
  uint64_t level_ms = 0, max_ms = 0;  // max 0: no limit of that kind
  uint64_t level_bytes = 0, max_bytes = 0;
  uint64_t level_buffers = 0, max_buffers = 0;
  double fill = 0;  // the highest level/max over the limits set, 0..1
};
// Per rendition, every few heartbeats; with the inputs and the queues (optional: older workers
// send only renditions).
struct Stats {
  static constexpr const char *kType = "stats";
  std::map<std::string, RenditionStats> renditions;
  std::map<std::string, InputStats> inputs;  // optional
  std::vector<QueueFill> queues;             // optional
};
// Something failed (the worker exits after a fatal one).
struct Error {
  static constexpr const char *kType = "error";
  std::string message;
};
// The worker's answer to a command line.
struct Ack {
  static constexpr const char *kType = "ack";
  std::string cmd;  // the command's name, or the unreadable line itself
  bool ok = false;
  std::string detail;  // optional
};

using StatusLine = std::variant<Hello, Heartbeat, State, Segment, Encoder, Probe, Event, Source,
                                Stats, Error, Ack>;

// Every "t" in StatusLine's order.
const std::vector<std::string> &status_types();

// JSON both ways. from_json throws WireError.
nlohmann::json to_json(const StatusLine &line);
StatusLine status_from_json(const nlohmann::json &j);
// One line of text (no newline) / its parse. parse_status throws WireError (also for text that
// is not a JSON object).
std::string encode_status(const StatusLine &line);
StatusLine parse_status(const std::string &line);
// The same, without throwing: nullopt with `error` set.
std::optional<StatusLine> parse_status_line(const std::string &line, std::string *error);

// ---- commands (daemon -> worker)

// Take the backup on air now (held until "return").
struct CmdFailover {
  static constexpr const char *kType = "failover";
};
// Give the primary back.
struct CmdReturn {
  static constexpr const char *kType = "return";
};
// Graceful stop: EOS through the output, open segments finished, then exit 0.
struct CmdStop {
  static constexpr const char *kType = "stop";
};
// Take a rendition off the air (enabled false) or put it back.
struct CmdRendition {
  static constexpr const char *kType = "rendition";
  std::string name;
  bool enabled = true;
};

// An AES-128 content key for key period `period` (segments period*N .. period*N+N-1 of an
// encrypted channel), sent ahead of the period. `key` and `iv` are 32 hex digits each. The line
// is a secret: never logged, never echoed back (the ack names the key id only).
struct CmdKey {
  static constexpr const char *kType = "key";
  uint64_t period = 0;
  std::string key_id;
  std::string key;
  std::string iv;
};

// In a cluster (docs/cluster.md): the fencing token (the etcd revision of the channel's owner
// key) the running worker publishes under from now on. For a worker started before its node
// owned the channel (a make-before-break move-back, a hot standby taking over), which therefore
// had no --fencing-token. The worker logs it like --fencing-token.
struct CmdFencingToken {
  static constexpr const char *kType = "fencing_token";
  int64_t token = 0;
};

using Command =
    std::variant<CmdFailover, CmdReturn, CmdStop, CmdRendition, CmdKey, CmdFencingToken>;

// The command's "cmd".
std::string command_name(const Command &c);
nlohmann::json to_json(const Command &c);
Command command_from_json(const nlohmann::json &j);  // throws WireError
std::string encode_command(const Command &c);
Command parse_command(const std::string &line);  // throws WireError

}  // namespace iptv::wire
