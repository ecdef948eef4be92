// ControlStore: the control plane's own SQLite tables (component "control", prefix ctl_) in the
// daemon's one database: API keys, entitlements, playback sessions, subject revocations, audit.
//
// - API keys look like "iptv_<id>_<secret>": <id> is 8 hex characters, visible in listings and
//   audit rows; <secret> is 32 random bytes (64 hex). Only SHA-256(<secret>) is stored, so a key
//   is shown once, at creation, and never again.
// - Roles: read < operator < admin.
// - Audit rows: who (key id or subject), what (action, target), when, outcome, reason, and the
//   client IP as HMAC-SHA256(daily salt, ip), truncated. The salt is random per UTC day and the
//   salts of past days are deleted, so yesterday's hashes cannot be linked to today's nor
//   reversed by enumerating IPv4. Tokens, keys and secrets are never written here.
//
// Threads: every method may be called from any thread (the Db serialises statements).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "db/sqlite_db.h"

namespace iptv::control {

enum class Role { kRead = 1, kOperator = 2, kAdmin = 3 };
const char *to_string(Role r);
std::optional<Role> role_from_string(const std::string &s);

struct ApiKey {
  std::string id;  // visible prefix
  std::string name;
  Role role = Role::kRead;
  int64_t created_at = 0;
  int64_t last_used_at = 0;  // 0 never
  bool revoked = false;
};

struct Entitlement {
  std::string subject;
  std::vector<std::string> channels;  // channel ids
  std::vector<std::string> groups;    // record epg.group values
  std::string tier;                   // free text ("basic", "premium"); shown, not enforced
  std::string region;                 // the subject's home region ("" none)
  int64_t expires_at = 0;             // 0 never
  int64_t updated_at = 0;
};

struct Session {
  std::string id;
  std::string subject;  // "" for anonymous sessions on open channels
  std::string channel_id;
  std::string region;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t revoked_at = 0;  // 0 not revoked
  std::string binding;     // client binding ("" none; a keyed hash of the IP when bound). Internal.
  std::string kid;         // the key id that signed the session's last token ("" unknown)
};

struct AuditEntry {
  int64_t id = 0;
  int64_t at_ms = 0;
  std::string actor;    // "key:<id>", "subject:<name>" or "anonymous"
  std::string action;   // "session.open", "channel.failover", "key.create", "auth.denied", ...
  std::string target;   // channel id, session id, key id, subject ...
  std::string outcome;  // "ok" | "refused" | "denied" | "error"
  std::string reason;   // reason code on refusal/denial
  std::string client_ip_hash;
  std::string detail_json = "{}";
};

struct AuditFilter {
  std::string actor, action, target, outcome;
  std::optional<int64_t> before_id, after_id;
  int limit = 100;
};

class ControlStore {
 public:
  // Migrates the "control" component of `db` (which the daemon owns and outlives this).
  explicit ControlStore(db::Db &db);

  // ---- API keys ----
  // Creates a key; returns the full key (the only time it exists in plain text) and its row.
  std::string create_key(const std::string &name, Role role, ApiKey *out = nullptr);
  // The key row for a presented bearer key, if it is valid and not revoked (updates last use).
  // A key once read is checked from memory (its row and secret hash), so a request does not
  // wait on the database while the daemon's main loop writes to it (issue 23: those writes
  // held the shared connection for up to 50 ms at 100 channels). The remembered row is read
  // again when older than kKeyRecheckSeconds and the database is free at that moment; a
  // revocation through revoke_key() applies at once, one made in the database by another
  // process within about that long.
  std::optional<ApiKey> authenticate(const std::string &presented);
  static constexpr int64_t kKeyRecheckSeconds = 10;
  std::vector<ApiKey> keys();
  std::optional<ApiKey> key(const std::string &id);
  bool revoke_key(const std::string &id);
  size_t active_key_count();

  // ---- Entitlements ----
  void put_entitlement(const Entitlement &e);
  std::optional<Entitlement> entitlement(const std::string &subject);
  std::vector<Entitlement> entitlements(int limit = 1000, const std::string &after_subject = "");
  bool delete_entitlement(const std::string &subject);

  // ---- Sessions ----
  void add_session(const Session &s);
  void set_session_kid(const std::string &id, const std::string &kid);
  std::optional<Session> session(const std::string &id);
  // The open (unrevoked) session of subject+channel+binding expiring last, if it expires at or
  // after `min_expires_at`.
  std::optional<Session> reusable_session(const std::string &subject, const std::string &channel_id,
                                          const std::string &binding, int64_t min_expires_at);
  // Unrevoked, unexpired sessions of a subject.
  int64_t active_session_count(const std::string &subject, int64_t now);
  // Open (unrevoked, unexpired) sessions per channel id, for the console.
  std::map<std::string, int64_t> open_sessions_by_channel(int64_t now);
  std::vector<Session> sessions_of(const std::string &subject, bool active_only);
  // Marks revoked; returns false when unknown or already revoked.
  bool revoke_session(const std::string &id, int64_t at);
  // Revokes every unexpired session of the subject, returns their ids; records the subject
  // revocation time (playlist tokens issued before it stop working).
  std::vector<std::string> revoke_subject(const std::string &subject, int64_t at);
  int64_t subject_revoked_at(const std::string &subject);  // 0 never
  // Revoked sessions not yet expired (to re-arm the origin after a restart).
  std::vector<std::string> revoked_unexpired(int64_t now);
  // Deletes sessions expired before `before`.
  int prune_sessions(int64_t before);

  // ---- Audit ----
  int64_t audit(AuditEntry e);  // at_ms 0 = now
  std::vector<AuditEntry> audit_page(const AuditFilter &f, bool *more = nullptr);
  int prune_audit(int64_t before_ms);
  // HMAC of the IP with today's salt (created on first use each UTC day, older salts deleted).
  std::string hash_ip(const std::string &ip);

 private:
  // A key row as last read, with its secret's hash and when it was read.
  struct KnownKey {
    ApiKey key;
    std::string secret_sha256;
    int64_t read_at = 0;
  };
  // Reads the key row (the database's lock held by the caller); nullopt when there is none.
  std::optional<KnownKey> read_key(const std::string &id);
  db::Db &db_;
  std::mutex keys_mu_;  // guards known_keys_ (never held while waiting on the database)
  std::map<std::string, KnownKey> known_keys_;
  std::mutex salt_mu_;  // guards the cached salt of the day
  std::string salt_day_, salt_;
};

}  // namespace iptv::control
