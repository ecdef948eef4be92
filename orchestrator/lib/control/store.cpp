#include "control/store.h"

#include <nlohmann/json.hpp>

#include "control/secrets.h"
#include "token/token.h"

namespace iptv::control {

using nlohmann::json;

const char *to_string(Role r) {
  switch (r) {
    case Role::kRead:
      return "read";
    case Role::kOperator:
      return "operator";
    case Role::kAdmin:
      return "admin";
  }
  return "read";
}

std::optional<Role> role_from_string(const std::string &s) {
  if (s == "read") return Role::kRead;
  if (s == "operator") return Role::kOperator;
  if (s == "admin") return Role::kAdmin;
  return std::nullopt;
}

namespace {

const std::vector<db::Migration> kMigrations = {
    {1, R"(
CREATE TABLE ctl_api_keys(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL DEFAULT 0,
  revoked_at INTEGER NOT NULL DEFAULT 0);
CREATE TABLE ctl_entitlements(
  subject TEXT PRIMARY KEY,
  channels TEXT NOT NULL,
  groups_ TEXT NOT NULL,
  tier TEXT NOT NULL,
  region TEXT NOT NULL,
  expires_at INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL);
CREATE TABLE ctl_sessions(
  id TEXT PRIMARY KEY,
  subject TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  region TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX ctl_sessions_subject ON ctl_sessions(subject);
CREATE INDEX ctl_sessions_expires ON ctl_sessions(expires_at);
CREATE TABLE ctl_subject_revocations(
  subject TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL);
CREATE TABLE ctl_audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  reason TEXT NOT NULL,
  client_ip_hash TEXT NOT NULL,
  detail TEXT NOT NULL);
CREATE INDEX ctl_audit_at ON ctl_audit(at_ms);
CREATE TABLE ctl_ip_salts(
  day TEXT PRIMARY KEY,
  salt TEXT NOT NULL);
)"},
    // Sessions remember the client binding they were issued for (a keyed hash of the client IP
    // when tokens are bound to it, "" otherwise), so a playlist fetch can reuse an open session
    // of the same subject, channel and binding instead of opening a new one each time.
    {2, R"(
ALTER TABLE ctl_sessions ADD COLUMN binding TEXT NOT NULL DEFAULT '';
CREATE INDEX ctl_sessions_subject_channel ON ctl_sessions(subject, channel_id);
)"},
    // Sessions remember the key id (kid) that signed their last token, so a diagnosis can tell
    // that a key rotated out of the ring strands them (their URLs get 403 unknown-key).
    {3, R"(
ALTER TABLE ctl_sessions ADD COLUMN kid TEXT NOT NULL DEFAULT '';
)"},
};

std::string to_json_array(const std::vector<std::string> &v) {
  return json(v).dump();
}
std::vector<std::string> from_json_array(const std::string &s) {
  auto j = json::parse(s, nullptr, false);
  std::vector<std::string> out;
  if (j.is_array())
    for (const auto &e : j)
      if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

ApiKey key_row(db::Stmt &s) {
  ApiKey k;
  k.id = s.col_text(0);
  k.name = s.col_text(1);
  k.role = role_from_string(s.col_text(2)).value_or(Role::kRead);
  k.created_at = s.col_int64(3);
  k.last_used_at = s.col_int64(4);
  k.revoked = s.col_int64(5) != 0;
  return k;
}

Session session_row(db::Stmt &s) {
  Session x;
  x.id = s.col_text(0);
  x.subject = s.col_text(1);
  x.channel_id = s.col_text(2);
  x.region = s.col_text(3);
  x.created_at = s.col_int64(4);
  x.expires_at = s.col_int64(5);
  x.revoked_at = s.col_int64(6);
  x.binding = s.col_text(7);
  x.kid = s.col_text(8);
  return x;
}

Entitlement ent_row(db::Stmt &s) {
  Entitlement e;
  e.subject = s.col_text(0);
  e.channels = from_json_array(s.col_text(1));
  e.groups = from_json_array(s.col_text(2));
  e.tier = s.col_text(3);
  e.region = s.col_text(4);
  e.expires_at = s.col_int64(5);
  e.updated_at = s.col_int64(6);
  return e;
}

const char *kKeyCols = "id, name, role, created_at, last_used_at, revoked_at";
const char *kSessCols =
    "id, subject, channel_id, region, created_at, expires_at, revoked_at, binding, kid";
const char *kEntCols = "subject, channels, groups_, tier, region, expires_at, updated_at";

}  // namespace

ControlStore::ControlStore(db::Db &db) : db_(db) {
  db_.migrate("control", kMigrations);
}

// ---- keys ----

std::string ControlStore::create_key(const std::string &name, Role role, ApiKey *out) {
  std::string id = random_hex(4);
  std::string secret = random_hex(32);
  ApiKey k;
  k.id = id;
  k.name = name;
  k.role = role;
  k.created_at = now_unix();
  db_.prepare(
         "INSERT INTO ctl_api_keys(id, name, role, secret_sha256, created_at) "
         "VALUES(?,?,?,?,?)")
      .bind(1, id)
      .bind(2, name)
      .bind(3, to_string(role))
      .bind(4, sha256_hex(secret))
      .bind(5, k.created_at)
      .run();
  if (out) *out = k;
  return "iptv_" + id + "_" + secret;
}

std::optional<ControlStore::KnownKey> ControlStore::read_key(const std::string &id) {
  auto s = db_.prepare(std::string("SELECT ") + kKeyCols +
                       ", secret_sha256 FROM ctl_api_keys WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  KnownKey k;
  k.key = key_row(s);
  k.secret_sha256 = s.col_text(6);
  k.read_at = now_unix();
  return k;
}

std::optional<ApiKey> ControlStore::authenticate(const std::string &presented) {
  // iptv_<8 hex>_<64 hex>
  if (presented.size() != 5 + 8 + 1 + 64 || presented.compare(0, 5, "iptv_") != 0 ||
      presented[13] != '_')
    return std::nullopt;
  std::string id = presented.substr(5, 8), secret = presented.substr(14);
  int64_t now = now_unix();
  std::optional<KnownKey> known;
  {
    std::lock_guard lk(keys_mu_);
    if (auto it = known_keys_.find(id); it != known_keys_.end()) known = it->second;
  }
  // Unknown here: read it, waiting for the database. Known but old: read it again only if the
  // database is free now (the main loop may be writing); else the row read before serves.
  std::unique_lock db_lock(db_.mutex(), std::defer_lock);
  if (!known) {
    db_lock.lock();
    known = read_key(id);
    if (!known) return std::nullopt;  // unknown ids are not remembered (no growth by guessing)
  } else if (now - known->read_at >= kKeyRecheckSeconds && db_lock.try_lock()) {
    known = read_key(id);
    if (!known) {
      std::lock_guard lk(keys_mu_);
      known_keys_.erase(id);
      return std::nullopt;
    }
  }
  ApiKey k = known->key;
  if (!iptv::constant_time_equal(known->secret_sha256, sha256_hex(secret)) || k.revoked) {
    if (db_lock.owns_lock()) {
      std::lock_guard lk(keys_mu_);
      known_keys_[id] = *known;  // a revoked row is remembered as revoked
    }
    return std::nullopt;
  }
  // Last use at minute resolution: a write per request would contend with the daemon's store.
  // Best effort, and only when the database is free: a database locked by another process, or
  // busy with the main loop's writes, must neither refuse nor delay a valid key.
  if (now - k.last_used_at >= 60 && (db_lock.owns_lock() || db_lock.try_lock())) {
    try {
      db_.prepare("UPDATE ctl_api_keys SET last_used_at = ? WHERE id = ?")
          .bind(1, now)
          .bind(2, id)
          .run();
      k.last_used_at = known->key.last_used_at = now;
    } catch (const db::Error &) {
    }
  }
  {
    std::lock_guard lk(keys_mu_);
    auto &slot = known_keys_[id];
    // Never overwrite a revocation made meanwhile (revoke_key marks the remembered row).
    if (!slot.key.revoked || slot.key.id.empty()) slot = *known;
    if (slot.key.revoked) return std::nullopt;
  }
  return k;
}

std::vector<ApiKey> ControlStore::keys() {
  std::lock_guard lk(db_.mutex());
  auto s =
      db_.prepare(std::string("SELECT ") + kKeyCols + " FROM ctl_api_keys ORDER BY created_at, id");
  std::vector<ApiKey> out;
  while (s.step()) out.push_back(key_row(s));
  return out;
}

std::optional<ApiKey> ControlStore::key(const std::string &id) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kKeyCols + " FROM ctl_api_keys WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return key_row(s);
}

bool ControlStore::revoke_key(const std::string &id) {
  std::lock_guard lk(db_.mutex());
  db_.prepare("UPDATE ctl_api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = 0")
      .bind(1, now_unix())
      .bind(2, id)
      .run();
  bool changed = db_.changes() > 0;
  {
    // At once for requests that check the key from memory (authenticate()).
    std::lock_guard kl(keys_mu_);
    if (auto it = known_keys_.find(id); it != known_keys_.end()) it->second.key.revoked = true;
  }
  return changed;
}

size_t ControlStore::active_key_count() {
  auto s = db_.prepare("SELECT COUNT(*) FROM ctl_api_keys WHERE revoked_at = 0");
  return s.step() ? static_cast<size_t>(s.col_int64(0)) : 0;
}

// ---- entitlements ----

void ControlStore::put_entitlement(const Entitlement &e) {
  db_.prepare(
         "INSERT INTO ctl_entitlements(subject, channels, groups_, tier, region, expires_at, "
         "updated_at) VALUES(?,?,?,?,?,?,?) ON CONFLICT(subject) DO UPDATE SET "
         "channels=excluded.channels, groups_=excluded.groups_, tier=excluded.tier, "
         "region=excluded.region, expires_at=excluded.expires_at, "
         "updated_at=excluded.updated_at")
      .bind(1, e.subject)
      .bind(2, to_json_array(e.channels))
      .bind(3, to_json_array(e.groups))
      .bind(4, e.tier)
      .bind(5, e.region)
      .bind(6, e.expires_at)
      .bind(7, e.updated_at ? e.updated_at : now_unix())
      .run();
}

std::optional<Entitlement> ControlStore::entitlement(const std::string &subject) {
  std::lock_guard lk(db_.mutex());
  auto s =
      db_.prepare(std::string("SELECT ") + kEntCols + " FROM ctl_entitlements WHERE subject = ?");
  s.bind(1, subject);
  if (!s.step()) return std::nullopt;
  return ent_row(s);
}

std::vector<Entitlement> ControlStore::entitlements(int limit, const std::string &after_subject) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kEntCols +
                       " FROM ctl_entitlements WHERE subject > ? ORDER BY subject LIMIT ?");
  s.bind(1, after_subject).bind(2, limit);
  std::vector<Entitlement> out;
  while (s.step()) out.push_back(ent_row(s));
  return out;
}

bool ControlStore::delete_entitlement(const std::string &subject) {
  std::lock_guard lk(db_.mutex());
  db_.prepare("DELETE FROM ctl_entitlements WHERE subject = ?").bind(1, subject).run();
  return db_.changes() > 0;
}

// ---- sessions ----

void ControlStore::add_session(const Session &s) {
  db_.prepare(
         "INSERT INTO ctl_sessions(id, subject, channel_id, region, created_at, expires_at, "
         "revoked_at, binding, kid) VALUES(?,?,?,?,?,?,?,?,?)")
      .bind(1, s.id)
      .bind(2, s.subject)
      .bind(3, s.channel_id)
      .bind(4, s.region)
      .bind(5, s.created_at)
      .bind(6, s.expires_at)
      .bind(7, s.revoked_at)
      .bind(8, s.binding)
      .bind(9, s.kid)
      .run();
}

void ControlStore::set_session_kid(const std::string &id, const std::string &kid) {
  db_.prepare("UPDATE ctl_sessions SET kid = ? WHERE id = ?").bind(1, kid).bind(2, id).run();
}

std::optional<Session> ControlStore::reusable_session(const std::string &subject,
                                                      const std::string &channel_id,
                                                      const std::string &binding,
                                                      int64_t min_expires_at) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kSessCols +
                       " FROM ctl_sessions WHERE subject = ? AND channel_id = ? AND binding = ? "
                       "AND revoked_at = 0 AND expires_at >= ? ORDER BY expires_at DESC LIMIT 1");
  s.bind(1, subject).bind(2, channel_id).bind(3, binding).bind(4, min_expires_at);
  if (!s.step()) return std::nullopt;
  return session_row(s);
}

int64_t ControlStore::active_session_count(const std::string &subject, int64_t now) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(
      "SELECT COUNT(*) FROM ctl_sessions WHERE subject = ? AND revoked_at = 0 AND expires_at > ?");
  s.bind(1, subject).bind(2, now);
  return s.step() ? s.col_int64(0) : 0;
}

std::map<std::string, int64_t> ControlStore::open_sessions_by_channel(int64_t now) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(
      "SELECT channel_id, COUNT(*) FROM ctl_sessions WHERE revoked_at = 0 AND expires_at > ? "
      "GROUP BY channel_id");
  s.bind(1, now);
  std::map<std::string, int64_t> out;
  while (s.step()) out[s.col_text(0)] = s.col_int64(1);
  return out;
}

std::optional<Session> ControlStore::session(const std::string &id) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(std::string("SELECT ") + kSessCols + " FROM ctl_sessions WHERE id = ?");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return session_row(s);
}

std::vector<Session> ControlStore::sessions_of(const std::string &subject, bool active_only) {
  std::lock_guard lk(db_.mutex());
  std::string sql = std::string("SELECT ") + kSessCols + " FROM ctl_sessions WHERE subject = ?";
  if (active_only) sql += " AND revoked_at = 0 AND expires_at > ?";
  sql += " ORDER BY created_at, id";
  auto s = db_.prepare(sql);
  s.bind(1, subject);
  if (active_only) s.bind(2, now_unix());
  std::vector<Session> out;
  while (s.step()) out.push_back(session_row(s));
  return out;
}

bool ControlStore::revoke_session(const std::string &id, int64_t at) {
  std::lock_guard lk(db_.mutex());
  db_.prepare("UPDATE ctl_sessions SET revoked_at = ? WHERE id = ? AND revoked_at = 0")
      .bind(1, at)
      .bind(2, id)
      .run();
  return db_.changes() > 0;
}

std::vector<std::string> ControlStore::revoke_subject(const std::string &subject, int64_t at) {
  std::vector<std::string> ids;
  db_.tx([&] {
    ids.clear();
    auto s = db_.prepare(
        "SELECT id FROM ctl_sessions WHERE subject = ? AND revoked_at = 0 AND expires_at > ?");
    s.bind(1, subject).bind(2, at);
    while (s.step()) ids.push_back(s.col_text(0));
    db_.prepare(
           "UPDATE ctl_sessions SET revoked_at = ? WHERE subject = ? AND revoked_at = 0 AND "
           "expires_at > ?")
        .bind(1, at)
        .bind(2, subject)
        .bind(3, at)
        .run();
    db_.prepare(
           "INSERT INTO ctl_subject_revocations(subject, revoked_at) VALUES(?, ?) "
           "ON CONFLICT(subject) DO UPDATE SET revoked_at = excluded.revoked_at")
        .bind(1, subject)
        .bind(2, at)
        .run();
  });
  return ids;
}

int64_t ControlStore::subject_revoked_at(const std::string &subject) {
  auto s = db_.prepare("SELECT revoked_at FROM ctl_subject_revocations WHERE subject = ?");
  s.bind(1, subject);
  return s.step() ? s.col_int64(0) : 0;
}

std::vector<std::string> ControlStore::revoked_unexpired(int64_t now) {
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare("SELECT id FROM ctl_sessions WHERE revoked_at != 0 AND expires_at > ?");
  s.bind(1, now);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.col_text(0));
  return out;
}

int ControlStore::prune_sessions(int64_t before) {
  std::lock_guard lk(db_.mutex());
  db_.prepare("DELETE FROM ctl_sessions WHERE expires_at < ?").bind(1, before).run();
  return db_.changes();
}

// ---- audit ----

int64_t ControlStore::audit(AuditEntry e) {
  std::lock_guard lk(db_.mutex());
  db_.prepare(
         "INSERT INTO ctl_audit(at_ms, actor, action, target, outcome, reason, "
         "client_ip_hash, detail) VALUES(?,?,?,?,?,?,?,?)")
      .bind(1, e.at_ms ? e.at_ms : now_ms())
      .bind(2, e.actor)
      .bind(3, e.action)
      .bind(4, e.target)
      .bind(5, e.outcome)
      .bind(6, e.reason)
      .bind(7, e.client_ip_hash)
      .bind(8, e.detail_json.empty() ? std::string("{}") : e.detail_json)
      .run();
  return db_.last_insert_rowid();
}

std::vector<AuditEntry> ControlStore::audit_page(const AuditFilter &f, bool *more) {
  std::string sql =
      "SELECT id, at_ms, actor, action, target, outcome, reason, client_ip_hash, detail FROM "
      "ctl_audit WHERE 1=1";
  std::vector<std::pair<int, std::string>> texts;
  std::vector<int64_t> ints;
  int n = 0;
  auto add_text = [&](const std::string &col, const std::string &v) {
    if (v.empty()) return;
    sql += " AND " + col + " = ?";
    texts.push_back({++n, v});
  };
  add_text("actor", f.actor);
  add_text("action", f.action);
  add_text("target", f.target);
  add_text("outcome", f.outcome);
  std::vector<std::pair<int, int64_t>> nums;
  if (f.before_id) {
    sql += " AND id < ?";
    nums.push_back({++n, *f.before_id});
  }
  if (f.after_id) {
    sql += " AND id > ?";
    nums.push_back({++n, *f.after_id});
  }
  sql += f.after_id ? " ORDER BY id ASC" : " ORDER BY id DESC";
  sql += " LIMIT ?";
  int limit = std::clamp(f.limit, 1, 1000);
  nums.push_back({++n, limit + 1});
  std::lock_guard lk(db_.mutex());
  auto s = db_.prepare(sql);
  for (auto &[i, v] : texts) s.bind(i, v);
  for (auto &[i, v] : nums) s.bind(i, v);
  std::vector<AuditEntry> out;
  while (s.step()) {
    AuditEntry e;
    e.id = s.col_int64(0);
    e.at_ms = s.col_int64(1);
    e.actor = s.col_text(2);
    e.action = s.col_text(3);
    e.target = s.col_text(4);
    e.outcome = s.col_text(5);
    e.reason = s.col_text(6);
    e.client_ip_hash = s.col_text(7);
    e.detail_json = s.col_text(8);
    out.push_back(std::move(e));
  }
  bool has_more = static_cast<int>(out.size()) > limit;
  if (has_more) out.pop_back();
  if (more) *more = has_more;
  return out;
}

int ControlStore::prune_audit(int64_t before_ms) {
  std::lock_guard lk(db_.mutex());
  db_.prepare("DELETE FROM ctl_audit WHERE at_ms < ?").bind(1, before_ms).run();
  return db_.changes();
}

std::string ControlStore::hash_ip(const std::string &ip) {
  if (ip.empty()) return "";
  std::string day = iso8601_utc(now_ms()).substr(0, 10);
  std::lock_guard lk(salt_mu_);
  if (salt_day_ != day) {
    // Once a day: read or create the day's salt and delete older ones (in the database, so
    // hashes stay comparable across restarts within the day).
    std::string salt;
    db_.tx([&] {
      auto s = db_.prepare("SELECT salt FROM ctl_ip_salts WHERE day = ?");
      s.bind(1, day);
      if (s.step()) {
        salt = s.col_text(0);
        return;
      }
      salt = random_hex(32);
      db_.prepare("DELETE FROM ctl_ip_salts WHERE day != ?").bind(1, day).run();
      db_.prepare("INSERT INTO ctl_ip_salts(day, salt) VALUES(?, ?)")
          .bind(1, day)
          .bind(2, salt)
          .run();
    });
    salt_day_ = day;
    salt_ = salt;
  }
  return hmac_sha256_hex(salt_, ip).substr(0, 16);
}

}  // namespace iptv::control
