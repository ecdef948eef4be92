#include "store/state_store.h"

#include <glib.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "util/strutil.h"

namespace iptv::store {

namespace {

const std::vector<db::Migration> kMigrations = {
    {1,
     "CREATE TABLE st_applied ("
     " channel_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL, yaml TEXT NOT NULL,"
     " applied_at INTEGER NOT NULL, status TEXT NOT NULL);"
     "CREATE TABLE st_channels ("
     " channel_id TEXT PRIMARY KEY, state TEXT NOT NULL, reason TEXT NOT NULL,"
     " since INTEGER NOT NULL, restarts INTEGER NOT NULL DEFAULT 0,"
     " failovers INTEGER NOT NULL DEFAULT 0);"
     "CREATE TABLE st_transitions ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT, channel_id TEXT NOT NULL,"
     " from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL,"
     " at INTEGER NOT NULL);"
     "CREATE INDEX st_transitions_channel ON st_transitions(channel_id, id);"
     "CREATE INDEX st_transitions_at ON st_transitions(at);"
     "CREATE TABLE st_packaging ("
     " channel_id TEXT NOT NULL, rendition TEXT NOT NULL,"
     " media_sequence INTEGER NOT NULL, discontinuity_sequence INTEGER NOT NULL,"
     " last_uri TEXT NOT NULL, last_duration REAL NOT NULL, last_at INTEGER NOT NULL,"
     " segments INTEGER NOT NULL, bytes INTEGER NOT NULL,"
     " PRIMARY KEY(channel_id, rendition));"
     "CREATE TABLE st_events ("
     " id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,"
     " event_type TEXT NOT NULL, job_id TEXT NOT NULL, channel_id TEXT NOT NULL,"
     " profile TEXT NOT NULL, input_checksum TEXT NOT NULL, output_uri TEXT NOT NULL,"
     " attempt INTEGER NOT NULL, status TEXT NOT NULL, detail TEXT NOT NULL,"
     " created_at INTEGER NOT NULL);"
     "CREATE INDEX st_events_channel ON st_events(channel_id, id);"
     "CREATE INDEX st_events_type ON st_events(event_type, id);"
     "CREATE INDEX st_events_created ON st_events(created_at);"
     "CREATE TABLE st_webhooks ("
     " name TEXT PRIMARY KEY, cursor INTEGER NOT NULL, added_at INTEGER NOT NULL);"
     "CREATE TABLE st_deliveries ("
     " event_rowid INTEGER NOT NULL REFERENCES st_events(id) ON DELETE CASCADE,"
     " webhook TEXT NOT NULL REFERENCES st_webhooks(name) ON DELETE CASCADE,"
     " status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,"
     " last_error TEXT NOT NULL DEFAULT '', last_http_status INTEGER NOT NULL DEFAULT 0,"
     " delivered_at INTEGER, PRIMARY KEY(event_rowid, webhook));"
     "CREATE INDEX st_deliveries_due ON st_deliveries(webhook, status, next_at);"},
};

constexpr const char *kEventCols =
    "id, event_id, event_type, job_id, channel_id, profile, input_checksum, output_uri, attempt,"
    " status, detail, created_at";

Event read_event(const db::Stmt &s, int c0 = 0) {
  Event e;
  e.id = s.col_int64(c0 + 0);
  e.event_id = s.col_text(c0 + 1);
  e.event_type = s.col_text(c0 + 2);
  e.job_id = s.col_text(c0 + 3);
  e.channel_id = s.col_text(c0 + 4);
  e.profile = s.col_text(c0 + 5);
  e.input_checksum = s.col_text(c0 + 6);
  e.output_uri = s.col_text(c0 + 7);
  e.attempt = static_cast<int>(s.col_int64(c0 + 8));
  e.status = s.col_text(c0 + 9);
  e.detail = s.col_text(c0 + 10);
  e.created_at = s.col_int64(c0 + 11);
  return e;
}

// Parses `detail` as a JSON object ("" counts as {}); throws std::invalid_argument otherwise.
nlohmann::json detail_object(const std::string &detail) {
  if (detail.empty()) return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(detail, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw std::invalid_argument("event detail must be a JSON object: " + detail);
  return j;
}

}  // namespace

int64_t now_ms() {
  return g_get_real_time() / 1000;
}

std::string iso8601_ms(int64_t unix_ms) {
  return iso8601_utc(unix_ms, true);
}

std::string new_uuid() {
  gchar *u = g_uuid_string_random();
  std::string s = u;
  g_free(u);
  return s;
}

std::string Event::to_json() const {
  nlohmann::json j;
  j["id"] = id;
  j["event_id"] = event_id;
  j["event_type"] = event_type;
  j["job_id"] = job_id;
  j["channel_id"] = channel_id;
  j["profile"] = profile;
  j["input_checksum"] = input_checksum;
  j["output_uri"] = output_uri;
  j["attempt"] = attempt;
  j["status"] = status;
  nlohmann::json d = nlohmann::json::parse(detail.empty() ? "{}" : detail, nullptr, false);
  j["detail"] = d.is_discarded() ? nlohmann::json(detail) : d;
  j["created_at"] = iso8601_ms(created_at);
  return j.dump();
}

Event make_event(std::string event_type, std::string channel_id, std::string status,
                 std::string detail_json) {
  Event e;
  e.event_type = std::move(event_type);
  e.channel_id = std::move(channel_id);
  e.status = std::move(status);
  e.detail = std::move(detail_json);
  return e;
}

bool event_type_matches(const std::string &pattern, const std::string &event_type) {
  if (pattern.empty()) return true;
  if (pattern.back() == '*')
    return event_type.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return pattern == event_type;
}

StateStore::StateStore(db::Db &db) : db_(db) {
  db_.migrate("state", kMigrations);
}

void StateStore::notify() {
  {
    std::lock_guard lk(wait_mu_);
    ++generation_;
  }
  wait_cv_.notify_all();
}

void StateStore::wake_all() {
  {
    std::lock_guard lk(wait_mu_);
    ++generation_;
    ++wakes_;
  }
  wait_cv_.notify_all();
}

// ---- applied records

void StateStore::set_applied(const std::string &channel_id, const std::string &sha256,
                             const std::string &yaml, const std::string &status,
                             std::optional<Event> event) {
  bool wrote_event = false;
  db_.tx([&] {
    auto s = db_.prepare(
        "INSERT INTO st_applied(channel_id, sha256, yaml, applied_at, status) VALUES(?,?,?,?,?)"
        " ON CONFLICT(channel_id) DO UPDATE SET sha256=excluded.sha256, yaml=excluded.yaml,"
        " applied_at=excluded.applied_at, status=excluded.status");
    s.bind(1, channel_id).bind(2, sha256).bind(3, yaml).bind(4, now_ms()).bind(5, status);
    s.run();
    if (event) {
      if (event->channel_id.empty()) event->channel_id = channel_id;
      if (event->input_checksum.empty()) event->input_checksum = sha256;
      insert_event_locked(*event, &wrote_event);
    }
  });
  if (wrote_event) notify();
}

std::optional<AppliedRecord> StateStore::applied(const std::string &channel_id) {
  auto s = db_.prepare(
      "SELECT channel_id, sha256, yaml, applied_at, status FROM st_applied WHERE channel_id=?");
  s.bind(1, channel_id);
  if (!s.step()) return std::nullopt;
  return AppliedRecord{s.col_text(0), s.col_text(1), s.col_text(2), s.col_int64(3), s.col_text(4)};
}

std::vector<AppliedRecord> StateStore::applied_all() {
  std::vector<AppliedRecord> out;
  auto s = db_.prepare(
      "SELECT channel_id, sha256, yaml, applied_at, status FROM st_applied ORDER BY channel_id");
  while (s.step())
    out.push_back({s.col_text(0), s.col_text(1), s.col_text(2), s.col_int64(3), s.col_text(4)});
  return out;
}

// ---- states and transitions

TransitionResult StateStore::transition(const std::string &channel_id, const std::string &to,
                                        const std::string &reason, std::optional<Event> event) {
  TransitionResult res;
  db_.tx([&] {
    std::string from = "offline";
    {
      auto q = db_.prepare("SELECT state FROM st_channels WHERE channel_id=?");
      q.bind(1, channel_id);
      if (q.step()) {
        from = q.col_text(0);
        if (from == to) return;
      }
    }
    int64_t at = now_ms();
    auto ins = db_.prepare(
        "INSERT INTO st_transitions(channel_id, from_state, to_state, reason, at)"
        " VALUES(?,?,?,?,?)");
    ins.bind(1, channel_id).bind(2, from).bind(3, to).bind(4, reason).bind(5, at);
    ins.run();
    auto up = db_.prepare(
        "INSERT INTO st_channels(channel_id, state, reason, since, failovers) VALUES(?,?,?,?,?)"
        " ON CONFLICT(channel_id) DO UPDATE SET state=excluded.state, reason=excluded.reason,"
        " since=excluded.since, failovers=failovers+excluded.failovers");
    up.bind(1, channel_id)
        .bind(2, to)
        .bind(3, reason)
        .bind(4, at)
        .bind(5, to == "failover" ? 1 : 0);
    up.run();
    res.changed = true;
    if (event) {
      event->channel_id = channel_id;
      nlohmann::json d = detail_object(event->detail);
      if (!d.contains("from")) d["from"] = from;
      if (!d.contains("to")) d["to"] = to;
      if (!d.contains("reason")) d["reason"] = reason;
      event->detail = d.dump();
      if (event->created_at == 0) event->created_at = at;
      bool inserted = false;
      res.event_id = insert_event_locked(*event, &inserted);
    }
  });
  if (res.event_id) notify();
  return res;
}

namespace {
ChannelState read_state(const db::Stmt &s) {
  return ChannelState{s.col_text(0),  s.col_text(1),  s.col_text(2),
                      s.col_int64(3), s.col_int64(4), s.col_int64(5)};
}
}  // namespace

std::optional<ChannelState> StateStore::state(const std::string &channel_id) {
  auto s = db_.prepare(
      "SELECT channel_id, state, reason, since, restarts, failovers FROM st_channels"
      " WHERE channel_id=?");
  s.bind(1, channel_id);
  if (!s.step()) return std::nullopt;
  return read_state(s);
}

std::vector<ChannelState> StateStore::states() {
  std::vector<ChannelState> out;
  auto s = db_.prepare(
      "SELECT channel_id, state, reason, since, restarts, failovers FROM st_channels"
      " ORDER BY channel_id");
  while (s.step()) out.push_back(read_state(s));
  return out;
}

std::vector<Transition> StateStore::transitions(const std::string &channel_id, int limit) {
  limit = std::clamp(limit, 1, 1000);
  std::vector<Transition> out;
  auto s = db_.prepare(
      "SELECT id, channel_id, from_state, to_state, reason, at FROM st_transitions"
      " WHERE (?1 = '' OR channel_id = ?1) ORDER BY id DESC LIMIT ?2");
  s.bind(1, channel_id).bind(2, limit);
  while (s.step())
    out.push_back({s.col_int64(0), s.col_text(1), s.col_text(2), s.col_text(3), s.col_text(4),
                   s.col_int64(5)});
  return out;
}

ChannelReport StateStore::report(const std::string &channel_id, int n_transitions, int n_events) {
  std::lock_guard lk(db_.mutex());
  ChannelReport r;
  r.channel_id = channel_id;
  r.state = state(channel_id);
  r.applied = applied(channel_id);
  r.transitions = transitions(channel_id, n_transitions);
  r.packaging = packaging_all(channel_id);
  EventFilter f;
  f.channel_id = channel_id;
  f.limit = n_events;
  f.newest_first = true;
  r.events = events(f);
  return r;
}

void StateStore::count_restart(const std::string &channel_id) {
  auto s = db_.prepare(
      "INSERT INTO st_channels(channel_id, state, reason, since, restarts) "
      "VALUES(?,'offline','',?,1)"
      " ON CONFLICT(channel_id) DO UPDATE SET restarts=restarts+1");
  s.bind(1, channel_id).bind(2, now_ms());
  s.run();
}

// ---- packaging state

void StateStore::upsert_packaging_locked(const std::string &channel_id, const SegmentReport &seg) {
  auto s = db_.prepare(
      "INSERT INTO st_packaging(channel_id, rendition, media_sequence, discontinuity_sequence,"
      " last_uri, last_duration, last_at, segments, bytes) VALUES(?,?,?,?,?,?,?,1,?)"
      " ON CONFLICT(channel_id, rendition) DO UPDATE SET"
      " discontinuity_sequence = CASE WHEN excluded.media_sequence >= media_sequence"
      "   THEN excluded.discontinuity_sequence ELSE discontinuity_sequence END,"
      " last_uri = CASE WHEN excluded.media_sequence >= media_sequence"
      "   THEN excluded.last_uri ELSE last_uri END,"
      " last_duration = CASE WHEN excluded.media_sequence >= media_sequence"
      "   THEN excluded.last_duration ELSE last_duration END,"
      " last_at = CASE WHEN excluded.media_sequence >= media_sequence"
      "   THEN excluded.last_at ELSE last_at END,"
      " media_sequence = MAX(media_sequence, excluded.media_sequence),"
      " segments = segments + 1, bytes = bytes + excluded.bytes");
  s.bind(1, channel_id)
      .bind(2, seg.rendition)
      .bind(3, (int64_t)seg.sequence)
      .bind(4, (int64_t)seg.discontinuity_sequence)
      .bind(5, seg.uri)
      .bind(6, seg.duration)
      .bind(7, now_ms())
      .bind(8, (int64_t)seg.bytes);
  s.run();
}

void StateStore::record_segment(const std::string &channel_id, const SegmentReport &seg,
                                std::optional<Event> event) {
  bool wrote_event = false;
  db_.tx([&] {
    upsert_packaging_locked(channel_id, seg);
    if (event) {
      if (event->channel_id.empty()) event->channel_id = channel_id;
      if (event->profile.empty()) event->profile = seg.rendition;
      if (event->output_uri.empty()) event->output_uri = seg.uri;
      insert_event_locked(*event, &wrote_event);
    }
  });
  if (wrote_event) notify();
}

void StateStore::record_segments(const std::vector<std::pair<std::string, SegmentReport>> &segs) {
  if (segs.empty()) return;
  db_.tx([&] {
    for (const auto &[channel_id, seg] : segs) upsert_packaging_locked(channel_id, seg);
  });
}

void StateStore::reset_packaging(const std::string &channel_id) {
  auto s = db_.prepare("DELETE FROM st_packaging WHERE channel_id=?");
  s.bind(1, channel_id);
  s.run();
}

namespace {
PackagingState read_packaging(const db::Stmt &s) {
  PackagingState p;
  p.channel_id = s.col_text(0);
  p.rendition = s.col_text(1);
  p.media_sequence = s.col_int64(2);
  p.discontinuity_sequence = s.col_int64(3);
  p.last_segment_uri = s.col_text(4);
  p.last_segment_duration = s.col_double(5);
  p.last_segment_at = s.col_int64(6);
  p.segments = s.col_int64(7);
  p.bytes = s.col_int64(8);
  return p;
}
constexpr const char *kPackagingCols =
    "SELECT channel_id, rendition, media_sequence, discontinuity_sequence, last_uri,"
    " last_duration, last_at, segments, bytes FROM st_packaging";
}  // namespace

std::optional<PackagingState> StateStore::packaging(const std::string &channel_id,
                                                    const std::string &rendition) {
  auto s = db_.prepare(std::string(kPackagingCols) + " WHERE channel_id=? AND rendition=?");
  s.bind(1, channel_id).bind(2, rendition);
  if (!s.step()) return std::nullopt;
  return read_packaging(s);
}

std::vector<PackagingState> StateStore::packaging_all(const std::string &channel_id) {
  std::vector<PackagingState> out;
  auto s = db_.prepare(std::string(kPackagingCols) + " WHERE channel_id=? ORDER BY rendition");
  s.bind(1, channel_id);
  while (s.step()) out.push_back(read_packaging(s));
  return out;
}

// ---- events

int64_t StateStore::insert_event_locked(Event &e, bool *inserted) {
  if (e.event_type.empty()) throw std::invalid_argument("event without event_type");
  if (e.event_id.empty()) e.event_id = new_uuid();
  if (e.created_at == 0) e.created_at = now_ms();
  e.detail = detail_object(e.detail).dump();
  auto s = db_.prepare(
      "INSERT INTO st_events(event_id, event_type, job_id, channel_id, profile, input_checksum,"
      " output_uri, attempt, status, detail, created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)"
      " ON CONFLICT(event_id) DO NOTHING");
  s.bind(1, e.event_id)
      .bind(2, e.event_type)
      .bind(3, e.job_id)
      .bind(4, e.channel_id)
      .bind(5, e.profile)
      .bind(6, e.input_checksum)
      .bind(7, e.output_uri)
      .bind(8, e.attempt)
      .bind(9, e.status)
      .bind(10, e.detail)
      .bind(11, e.created_at);
  s.run();
  if (db_.changes() == 1) {
    e.id = db_.last_insert_rowid();
    if (inserted) *inserted = true;
    return e.id;
  }
  if (inserted) *inserted = false;
  auto q = db_.prepare("SELECT id FROM st_events WHERE event_id=?");
  q.bind(1, e.event_id);
  if (!q.step()) throw db::Error("event " + e.event_id + " vanished");
  e.id = q.col_int64(0);
  return e.id;
}

int64_t StateStore::record_event(Event event, bool *inserted) {
  bool ins = false;
  int64_t id = 0;
  db_.tx([&] { id = insert_event_locked(event, &ins); });
  if (inserted) *inserted = ins;
  if (ins) notify();
  return id;
}

std::optional<Event> StateStore::event(const std::string &event_id) {
  auto s = db_.prepare(std::string("SELECT ") + kEventCols + " FROM st_events WHERE event_id=?");
  s.bind(1, event_id);
  if (!s.step()) return std::nullopt;
  return read_event(s);
}

std::vector<Event> StateStore::events(const EventFilter &f) {
  int limit = std::clamp(f.limit, 1, 1000);
  std::string sql = std::string("SELECT ") + kEventCols + " FROM st_events WHERE id > ?1";
  if (f.before_id > 0) sql += " AND id < ?2";
  if (!f.channel_id.empty()) sql += " AND channel_id = ?3";
  bool prefix = !f.event_type.empty() && f.event_type.back() == '*';
  if (prefix)
    sql += " AND substr(event_type, 1, length(?4)) = ?4";
  else if (!f.event_type.empty())
    sql += " AND event_type = ?4";
  sql += f.newest_first ? " ORDER BY id DESC" : " ORDER BY id ASC";
  sql += " LIMIT ?5";
  auto s = db_.prepare(sql);
  s.bind(1, f.after_id);
  if (f.before_id > 0) s.bind(2, f.before_id);
  if (!f.channel_id.empty()) s.bind(3, f.channel_id);
  if (prefix)
    s.bind(4, f.event_type.substr(0, f.event_type.size() - 1));
  else if (!f.event_type.empty())
    s.bind(4, f.event_type);
  s.bind(5, limit);
  std::vector<Event> out;
  while (s.step()) out.push_back(read_event(s));
  return out;
}

int64_t StateStore::last_event_id() {
  auto s = db_.prepare("SELECT COALESCE(MAX(id), 0) FROM st_events");
  s.step();
  return s.col_int64(0);
}

std::vector<Event> StateStore::wait_after(int64_t after_id, std::chrono::milliseconds timeout,
                                          EventFilter filter) {
  filter.after_id = after_id;
  filter.newest_first = false;
  filter.before_id = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  uint64_t wakes0;
  {
    std::lock_guard lk(wait_mu_);
    wakes0 = wakes_;
  }
  for (;;) {
    uint64_t gen;
    {
      std::lock_guard lk(wait_mu_);
      gen = generation_;
    }
    auto got = events(filter);
    if (!got.empty()) return got;
    std::unique_lock lk(wait_mu_);
    if (!wait_cv_.wait_until(lk, deadline, [&] { return generation_ != gen; })) return {};
    if (wakes_ != wakes0) {
      lk.unlock();
      return events(filter);
    }
  }
}

// ---- retention

int64_t StateStore::prune(int days, int64_t now) {
  if (days <= 0) return 0;
  if (now == 0) now = now_ms();
  int64_t cutoff = now - static_cast<int64_t>(days) * 86400 * 1000;
  int64_t deleted = 0;
  db_.tx([&] {
    auto s = db_.prepare(
        "DELETE FROM st_events WHERE created_at < ?1"
        " AND id <= (SELECT COALESCE(MIN(cursor), ?2) FROM st_webhooks)"
        " AND NOT EXISTS (SELECT 1 FROM st_deliveries d WHERE d.event_rowid = st_events.id"
        "  AND d.status != 'delivered')");
    s.bind(1, cutoff).bind(2, std::numeric_limits<int64_t>::max());
    s.run();
    deleted = db_.changes();
    auto t = db_.prepare("DELETE FROM st_transitions WHERE at < ?");
    t.bind(1, cutoff);
    t.run();
  });
  return deleted;
}

// ---- webhook outbox

void StateStore::sync_webhooks(const std::vector<std::string> &names, int64_t start_after) {
  db_.tx([&] {
    std::vector<std::string> have;
    {
      auto s = db_.prepare("SELECT name FROM st_webhooks");
      while (s.step()) have.push_back(s.col_text(0));
    }
    for (const auto &h : have) {
      if (std::find(names.begin(), names.end(), h) != names.end()) continue;
      auto d = db_.prepare("DELETE FROM st_webhooks WHERE name=?");  // cascades deliveries
      d.bind(1, h);
      d.run();
    }
    int64_t last = start_after >= 0 ? std::min(start_after, last_event_id()) : last_event_id();
    for (const auto &n : names) {
      auto i = db_.prepare(
          "INSERT INTO st_webhooks(name, cursor, added_at) VALUES(?,?,?)"
          " ON CONFLICT(name) DO NOTHING");
      i.bind(1, n).bind(2, last).bind(3, now_ms());
      i.run();
    }
  });
}

int StateStore::enqueue_deliveries(const std::string &webhook,
                                   const std::vector<std::string> &event_types, int limit) {
  int created = 0;
  db_.tx([&] {
    auto c = db_.prepare("SELECT cursor FROM st_webhooks WHERE name=?");
    c.bind(1, webhook);
    if (!c.step()) throw db::Error("webhook '" + webhook + "' is not configured in the store");
    int64_t cursor = c.col_int64(0);
    auto s = db_.prepare("SELECT id, event_type FROM st_events WHERE id > ? ORDER BY id LIMIT ?");
    s.bind(1, cursor).bind(2, std::clamp(limit, 1, 10000));
    int64_t now = now_ms();
    while (s.step()) {
      int64_t id = s.col_int64(0);
      std::string type = s.col_text(1);
      cursor = id;
      bool want = event_types.empty();
      for (const auto &p : event_types) want = want || event_type_matches(p, type);
      if (!want) continue;
      auto i = db_.prepare(
          "INSERT INTO st_deliveries(event_rowid, webhook, status, next_at) VALUES(?,?,'pending',?)"
          " ON CONFLICT DO NOTHING");
      i.bind(1, id).bind(2, webhook).bind(3, now);
      i.run();
      created += db_.changes();
    }
    auto u = db_.prepare("UPDATE st_webhooks SET cursor=? WHERE name=?");
    u.bind(1, cursor).bind(2, webhook);
    u.run();
  });
  return created;
}

std::vector<Delivery> StateStore::due_deliveries(const std::string &webhook, int64_t now,
                                                 int limit) {
  std::vector<Delivery> out;
  std::string sql = "SELECT d.attempts, d.next_at, ";
  for (const char *c :
       {"id", "event_id", "event_type", "job_id", "channel_id", "profile", "input_checksum",
        "output_uri", "attempt", "status", "detail", "created_at"})
    sql += std::string("e.") + c + (std::string(c) == "created_at" ? "" : ", ");
  sql +=
      " FROM st_deliveries d JOIN st_events e ON e.id = d.event_rowid"
      " WHERE d.webhook=? AND d.status='pending' AND d.next_at <= ?"
      " ORDER BY d.event_rowid LIMIT ?";
  auto s = db_.prepare(sql);
  s.bind(1, webhook).bind(2, now).bind(3, std::clamp(limit, 1, 1000));
  while (s.step()) {
    Delivery d;
    d.attempts = static_cast<int>(s.col_int64(0));
    d.next_at = s.col_int64(1);
    d.event = read_event(s, 2);
    d.webhook = webhook;
    out.push_back(std::move(d));
  }
  return out;
}

std::optional<int64_t> StateStore::next_due(const std::string &webhook) {
  auto s =
      db_.prepare("SELECT MIN(next_at) FROM st_deliveries WHERE webhook=? AND status='pending'");
  s.bind(1, webhook);
  if (!s.step() || s.col_null(0)) return std::nullopt;
  return s.col_int64(0);
}

void StateStore::mark_delivered(const std::string &webhook, int64_t event_rowid, int http_status) {
  auto s = db_.prepare(
      "UPDATE st_deliveries SET status='delivered', attempts=attempts+1, last_http_status=?,"
      " last_error='', delivered_at=? WHERE webhook=? AND event_rowid=?");
  s.bind(1, http_status).bind(2, now_ms()).bind(3, webhook).bind(4, event_rowid);
  s.run();
}

void StateStore::mark_failed(const std::string &webhook, int64_t event_rowid,
                             const std::string &error, int http_status, int64_t next_at,
                             bool dead) {
  auto s = db_.prepare(
      "UPDATE st_deliveries SET status=?, attempts=attempts+1, last_http_status=?,"
      " last_error=?, next_at=? WHERE webhook=? AND event_rowid=?");
  s.bind(1, dead ? "dead" : "pending")
      .bind(2, http_status)
      .bind(3, error)
      .bind(4, next_at)
      .bind(5, webhook)
      .bind(6, event_rowid);
  s.run();
}

int64_t StateStore::requeue_dead(const std::string &webhook) {
  std::lock_guard lk(db_.mutex());  // changes() must see this statement
  auto s = db_.prepare(
      "UPDATE st_deliveries SET status='pending', attempts=0, next_at=?"
      " WHERE webhook=? AND status='dead'");
  s.bind(1, now_ms()).bind(2, webhook);
  s.run();
  return db_.changes();
}

DeliveryCounts StateStore::delivery_counts(const std::string &webhook) {
  DeliveryCounts c;
  auto s =
      db_.prepare("SELECT status, COUNT(*) FROM st_deliveries WHERE webhook=? GROUP BY status");
  s.bind(1, webhook);
  while (s.step()) {
    std::string st = s.col_text(0);
    int64_t n = s.col_int64(1);
    if (st == "pending")
      c.pending = n;
    else if (st == "delivered")
      c.delivered = n;
    else if (st == "dead")
      c.dead = n;
  }
  return c;
}

int64_t StateStore::unscanned_events(const std::string &webhook) {
  auto s = db_.prepare(
      "SELECT COUNT(*) FROM st_events WHERE id > (SELECT cursor FROM st_webhooks WHERE name=?)");
  s.bind(1, webhook);
  s.step();
  return s.col_int64(0);
}

}  // namespace iptv::store
