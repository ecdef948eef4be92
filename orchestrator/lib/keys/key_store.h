// AES-128 content keys for encrypted channels (docs/encryption.md).
//
// - One key per (channel, key period): 16 random bytes and a random 16-byte IV, with a random key
//   id (16 hex digits) that playlists name and the origin's key route looks up.
// - Kept only here, in the daemon's SQLite database (table enc_keys), the key wrapped with
//   AES-256-GCM under the master key, authenticated with "<channel>/<key id>" (a wrapped key
//   moved to another row does not unwrap). The IV is stored in the clear: playlists carry it.
// - ensure() is idempotent and transactional: the first call for a period makes the key (INSERT
//   OR IGNORE inside one transaction), every later call returns that same key, across restarts.
// - The master key file holds 64 hex digits (32 bytes) and one newline; load_master_key()
//   creates it (0600, O_EXCL) when asked to.
// - prune() deletes the keys of periods older than the channel's longest retention (live and DVR
//   window, warm tier, archive tier: catchup.days), never one a still-indexed archived segment
//   names, all channels in one transaction.
// - rewrap() puts every stored key under a new master key in one transaction (iptvd
//   --rotate-master-key): the content keys (and so the players' keys) do not change.
// Threads: any (through db::Db's lock). Nothing here logs a key.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "db/sqlite_db.h"

namespace iptv::keys {

struct ContentKey {
  std::string channel;
  uint64_t period = 0;
  std::string key_id;  // 16 lower-case hex digits
  std::string key;     // 16 raw bytes
  std::string iv;      // 16 raw bytes
};

// Reads the 32-byte master key from `path`. A missing file is created (0600) when `create` is
// set; otherwise (and for an unreadable or malformed file) nullopt with `error` naming the path.
std::optional<std::string> load_master_key(const std::string &path, bool create, std::string *error,
                                           bool *created = nullptr);

class KeyStore {
 public:
  // Applies the 'keys' migrations to `db` (owned by the caller). `master`: 32 bytes.
  KeyStore(db::Db &db, std::string master);

  // The key of (channel, period), made on first use. nullopt (with `error`) when no randomness
  // or the stored key does not unwrap (another master key).
  std::optional<ContentKey> ensure(const std::string &channel, uint64_t period,
                                   std::string *error = nullptr);
  // A key by its id (the key route); nullopt when unknown or it does not unwrap.
  std::optional<ContentKey> find(const std::string &channel, const std::string &key_id);
  // The IV of a key (catch-up playlists), without unwrapping the key; nullopt when unknown.
  std::optional<std::string> iv(const std::string &channel, const std::string &key_id);

  // True when the master key opens the stored keys (one row per channel is tried), or none is
  // stored; else false with `error` naming the channel and key id that does not unwrap.
  bool master_opens(std::string *error);

  // Deletes, in one transaction, the keys made before now_ms - retention_ms(channel) - margin_ms
  // that no archived segment (ar_segments.key_id, when that table exists) still names. Returns
  // how many went. A failure rolls back (nothing deleted) and throws db::Error.
  using RetentionFn = std::function<int64_t(const std::string &channel)>;
  int prune(const RetentionFn &retention_ms, int64_t now_ms, int64_t margin_ms);

  // Unwraps every stored key with the current master key and wraps it under `new_master` (32
  // bytes), in one transaction; then uses `new_master`. Returns how many keys were rewrapped. A
  // key that does not unwrap (or any database error) rolls everything back and throws
  // std::runtime_error naming its channel and key id.
  int rewrap(const std::string &new_master);

 private:
  std::optional<ContentKey> unwrap_row(db::Stmt &s, const std::string &channel);
  db::Db &db_;
  std::string master_;
};

}  // namespace iptv::keys
