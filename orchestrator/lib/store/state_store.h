// The daemon's persistent state (SQLite component "state", tables st_*).
//
// What it holds, per channel:
// - the applied record (the last GOOD record text, its sha256, when it was applied, its status);
// - the current state and every state transition (from, to, reason, time);
// - packaging state per rendition (last media sequence, discontinuity sequence, last segment,
//   segment and byte counters), so a restarted daemon continues playlists instead of resetting;
// - restart and failover counters;
// - events, in a transactional outbox: an event is written in the SAME transaction as the change
//   it reports (transition(), set_applied(), record_segment() take an optional event), so a crash
//   can never leave a change without its event or an event without its change.
//
// Events carry the fields of the article's event model (event_id, event_type, job_id, channel_id,
// profile, input_checksum, output_uri, attempt, status, detail, created_at). Each has a unique
// event_id; recording an event whose event_id already exists is a no-op (idempotent producers: a
// caller may pass a deterministic dedupe key as the event_id). Each stored event also gets `id`,
// its position in the outbox (strictly increasing, never reused even after pruning), which is the
// cursor for paging and streaming (`after_id`).
//
// Webhook delivery state (st_webhooks, st_deliveries) lives in the same component; it is used by
// WebhookDeliverer (webhooks.h) through the methods in the "webhook outbox" section.
//
// Threads: every method is thread-safe (the Db serialises statements; wait_after blocks only the
// caller). Times are unix milliseconds (UTC).
//
// Typical daemon use:
//   auto db = iptv::db::Db::open(data_dir + "/iptvd.db");
//   iptv::store::StateStore store(*db);  // migrates
//   using iptv::store::make_event;
//   namespace ev = iptv::store::events;
//   store.set_applied(id, sha, yaml_text, "active", make_event(ev::kChannelApplied, id));
//   store.transition("news", "live", "first segment", make_event(ev::kChannelState, "news"));
//   store.record_segment("news", seg);         // from the worker's segment lines
//   auto ps = store.packaging("news", "360p");  // on start: continue at ps->media_sequence + 1
//   store.prune(cfg.retention_events_days);     // from a periodic timer
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/sqlite_db.h"
#include "wire/status.h"

namespace iptv::store {

// Current wall clock in unix milliseconds.
int64_t now_ms();
// "2026-11-29T18:30:00.123Z"
std::string iso8601_ms(int64_t unix_ms);
// A random RFC 4122 version 4 UUID (lowercase).
std::string new_uuid();

// Event types. The daemon records these; the worker's {"t":"event"} lines keep their names.
// A webhook filter or an API query can match a family with a trailing '*' ("failover.*").
namespace events {
// Every state transition (retired included); detail {from, to, reason}.
inline constexpr const char *kChannelState = "channel.state";
// A new or changed record was applied; input_checksum = its sha256; detail {file}.
inline constexpr const char *kChannelApplied = "channel.applied";
// A record file failed validation (the last good version keeps running); status "failure";
// detail {file, line, column, field, message}.
inline constexpr const char *kRecordRejected = "record.rejected";
// A worker crashed or hung and is restarted after its backoff; job_id "<channel>/<pid>".
inline constexpr const char *kWorkerRestarting = "worker.restarting";
// From the worker's event lines; detail {reason, source}.
inline constexpr const char *kFailoverActivated = "failover.activated";
inline constexpr const char *kFailoverReturned = "failover.returned";
inline constexpr const char *kSlateEntered = "slate.entered";
inline constexpr const char *kSlateLeft = "slate.left";
inline constexpr const char *kSourceLost = "source.lost";
inline constexpr const char *kSourceRecovered = "source.recovered";
inline constexpr const char *kSourceError = "source.error";
// A probe condition started / ended; profile = rendition if any; detail {condition, stream, ...}.
inline constexpr const char *kProbeConditionRaised = "probe.condition.raised";
inline constexpr const char *kProbeConditionCleared = "probe.condition.cleared";
// An operator's note on an incident (the article's workflow: "record the cause"); detail {note,
// author}.
inline constexpr const char *kIncidentNote = "incident.note";
}  // namespace events

struct Event {
  int64_t id = 0;              // outbox position, set by the store
  std::string event_id;        // unique; a random uuid when left empty
  std::string event_type;      // "failover.activated", "channel.state", "record.rejected", ...
  std::string job_id;          // e.g. the worker run ("<channel>/<pid>") or a request id
  std::string channel_id;      // "" for daemon-wide events
  std::string profile;         // rendition/profile name when it applies
  std::string input_checksum;  // sha256 of the record or input the event is about
  std::string output_uri;      // e.g. "/hls/news/index.m3u8"
  int attempt = 0;             // worker start attempt, webhook attempt, ... (0: not applicable)
  std::string status;          // "success", "failure", "info", ...
  std::string detail = "{}";   // a JSON object (text)
  int64_t created_at = 0;      // unix ms; now when left 0

  // The event as one JSON object: every field above, created_at as ISO 8601, detail embedded as
  // an object, "id" as the outbox position. This is also the webhook body.
  std::string to_json() const;
};

// A convenience for producers.
Event make_event(std::string event_type, std::string channel_id, std::string status = "info",
                 std::string detail_json = "{}");

struct EventFilter {
  std::string channel_id;  // exact; "" = any
  std::string event_type;  // exact, or a prefix when it ends in '*' ("failover.*"); "" = any
  int64_t after_id = 0;    // only events with id > after_id
  int64_t before_id = 0;   // only events with id < before_id (0: no bound)
  int limit = 100;         // clamped to [1, 1000]
  bool newest_first = false;
};

struct AppliedRecord {
  std::string channel_id;
  std::string sha256;
  std::string yaml;
  int64_t applied_at = 0;
  std::string status;  // the record's status: active | disabled | retired
};

struct Transition {
  int64_t id = 0;
  std::string channel_id;
  std::string from;  // "offline" for the first transition the store sees
  std::string to;
  std::string reason;
  int64_t at = 0;
};

struct ChannelState {
  std::string channel_id;
  std::string state;  // starting|live|degraded|failover|slate|offline|disabled|retired
  std::string reason;
  int64_t since = 0;
  int64_t restarts = 0;
  int64_t failovers = 0;
};

// One segment as reported by the worker ({"t":"segment",...}): the protocol's own type.
using SegmentReport = wire::Segment;

struct PackagingState {
  std::string channel_id;
  std::string rendition;
  int64_t media_sequence = 0;  // sequence number of the LAST segment written; continue at +1
  int64_t discontinuity_sequence = 0;
  std::string last_segment_uri;
  double last_segment_duration = 0;
  int64_t last_segment_at = 0;
  int64_t segments = 0;  // total segments written (all runs)
  int64_t bytes = 0;     // total bytes written (all runs)
};

// Everything needed to answer "what is this channel doing and what happened to it" in one read
// (the incident workflow's "check channel control state").
struct ChannelReport {
  std::string channel_id;
  std::optional<ChannelState> state;
  std::optional<AppliedRecord> applied;
  std::vector<Transition> transitions;  // newest first
  std::vector<PackagingState> packaging;
  std::vector<Event> events;  // newest first
};

struct TransitionResult {
  bool changed = false;  // false when the channel was already in `to` (nothing written)
  int64_t event_id = 0;  // outbox id of the event written with it (0: none)
};

// A pending delivery of one event to one webhook (used by WebhookDeliverer).
struct Delivery {
  Event event;
  std::string webhook;
  int attempts = 0;  // attempts made so far
  int64_t next_at = 0;
};

struct DeliveryCounts {
  int64_t pending = 0;
  int64_t delivered = 0;
  int64_t dead = 0;
};

class StateStore {
 public:
  // Applies the component's migrations on `db` (which must outlive the store).
  explicit StateStore(db::Db &db);
  StateStore(const StateStore &) = delete;
  StateStore &operator=(const StateStore &) = delete;

  db::Db &db() { return db_; }

  // ---- applied records
  // Upserts the applied record of a channel (and records `event` in the same transaction).
  void set_applied(const std::string &channel_id, const std::string &sha256,
                   const std::string &yaml, const std::string &status,
                   std::optional<Event> event = std::nullopt);
  std::optional<AppliedRecord> applied(const std::string &channel_id);
  std::vector<AppliedRecord> applied_all();

  // ---- states and transitions
  // Moves a channel to `to`. Writes the transition, the current state and `event` (when given)
  // in ONE transaction. Nothing is written when the channel is already in `to`. A transition
  // into "failover" from another state also counts a failover. The event's channel_id is set to
  // `channel_id`, and from/to/reason are added to its detail (keys the caller set are kept).
  TransitionResult transition(const std::string &channel_id, const std::string &to,
                              const std::string &reason, std::optional<Event> event = std::nullopt);
  // The current state; nullopt for a channel the store has never seen.
  std::optional<ChannelState> state(const std::string &channel_id);
  std::vector<ChannelState> states();
  // Most recent transitions first. channel_id "" = all channels.
  std::vector<Transition> transitions(const std::string &channel_id, int limit = 50);

  // A consistent snapshot of one channel (read under one lock).
  ChannelReport report(const std::string &channel_id, int transitions = 10, int events = 20);

  // ---- counters
  void count_restart(const std::string &channel_id);

  // ---- packaging state
  // Upserts the rendition's packaging state and bumps its counters (and records `event`), in one
  // transaction. Sequence numbers only move forward: a report older than the stored one updates
  // the counters but not the sequences.
  void record_segment(const std::string &channel_id, const SegmentReport &seg,
                      std::optional<Event> event = std::nullopt);
  // The same for many segments (of any channels, in order), in a single transaction: iptvd
  // writes the segments its workers report once per second this way, not one commit each.
  void record_segments(const std::vector<std::pair<std::string, SegmentReport>> &segs);
  // Forgets a channel's packaging state (a channel rebuilt with a new numbering starts over).
  void reset_packaging(const std::string &channel_id);
  std::optional<PackagingState> packaging(const std::string &channel_id,
                                          const std::string &rendition);
  std::vector<PackagingState> packaging_all(const std::string &channel_id);

  // ---- events
  // Records an event; returns its outbox id. When an event with the same event_id exists, nothing
  // is written and the existing id is returned (`inserted`, when given, tells which happened).
  int64_t record_event(Event event, bool *inserted = nullptr);
  std::optional<Event> event(const std::string &event_id);
  std::vector<Event> events(const EventFilter &filter);
  int64_t last_event_id();
  // Blocks until an event with id > after_id matching `filter` exists (filter.after_id is
  // replaced by after_id), the timeout passes, or wake_all() is called. Returns the matching
  // events (possibly none).
  std::vector<Event> wait_after(int64_t after_id, std::chrono::milliseconds timeout,
                                EventFilter filter = {});
  // Wakes every wait_after() caller (they return what they have; used for shutdown).
  void wake_all();

  // ---- retention
  // Deletes events created before now - days whose deliveries are all done (no pending or
  // dead-lettered delivery, and every configured webhook has scanned past them), and transitions
  // older than that. Returns the number of events deleted. days <= 0 disables.
  int64_t prune(int days, int64_t now = 0);

  // ---- webhook outbox (used by WebhookDeliverer)
  // Makes `names` the configured webhooks: a new name starts after event `start_after` (-1: the
  // current last event, i.e. it receives events recorded from now on); a name no longer
  // configured is dropped with its pending deliveries. Known names keep their cursor.
  void sync_webhooks(const std::vector<std::string> &names, int64_t start_after = -1);
  // Scans events after the webhook's cursor (up to `limit`), creates pending deliveries for those
  // whose type matches one of `event_types` (all when empty), and moves the cursor. Returns the
  // number of deliveries created.
  int enqueue_deliveries(const std::string &webhook, const std::vector<std::string> &event_types,
                         int limit = 500);
  // Pending deliveries of `webhook` due at `now`, oldest event first.
  std::vector<Delivery> due_deliveries(const std::string &webhook, int64_t now, int limit = 50);
  // The earliest next_at of pending deliveries of `webhook` (nullopt when none are pending).
  std::optional<int64_t> next_due(const std::string &webhook);
  void mark_delivered(const std::string &webhook, int64_t event_rowid, int http_status);
  // Records a failed attempt; the delivery is retried at next_at, or dead-lettered when `dead`.
  void mark_failed(const std::string &webhook, int64_t event_rowid, const std::string &error,
                   int http_status, int64_t next_at, bool dead);
  // Moves dead-lettered deliveries of `webhook` back to pending (due now). Returns how many.
  int64_t requeue_dead(const std::string &webhook);
  DeliveryCounts delivery_counts(const std::string &webhook);
  // Events not yet scanned by `webhook` (past its cursor).
  int64_t unscanned_events(const std::string &webhook);

 private:
  int64_t insert_event_locked(Event &event, bool *inserted);
  void upsert_packaging_locked(const std::string &channel_id, const SegmentReport &seg);
  void notify();

  db::Db &db_;
  std::mutex wait_mu_;
  std::condition_variable wait_cv_;
  uint64_t generation_ = 0;  // bumped by notify() and wake_all(), under wait_mu_
  uint64_t wakes_ = 0;       // bumped by wake_all(), under wait_mu_
};

// Whether an event type matches a filter entry (exact, or prefix when the entry ends in '*').
bool event_type_matches(const std::string &pattern, const std::string &event_type);

}  // namespace iptv::store
