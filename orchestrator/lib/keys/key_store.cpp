#include "keys/key_store.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "crypto/aes.h"

namespace iptv::keys {

namespace {

const std::vector<db::Migration> kMigrations = {
    {1,
     "CREATE TABLE enc_keys ("
     " channel_id TEXT NOT NULL, period INTEGER NOT NULL, key_id TEXT NOT NULL,"
     " wrapped TEXT NOT NULL, iv TEXT NOT NULL, created_ms INTEGER NOT NULL,"
     " PRIMARY KEY(channel_id, period));"
     "CREATE UNIQUE INDEX enc_keys_id ON enc_keys(channel_id, key_id);"},
};

std::string aad(const std::string &channel, const std::string &key_id) {
  return channel + "/" + key_id;
}

}  // namespace

std::optional<std::string> load_master_key(const std::string &path, bool create, std::string *error,
                                           bool *created) {
  if (created) *created = false;
  if (create && ::access(path.c_str(), F_OK) != 0 && errno == ENOENT) {
    std::string raw = crypto::random_bytes(32);
    if (raw.size() != 32) {
      *error = "master key file " + path + ": no randomness";
      return std::nullopt;
    }
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
      *error = "cannot create the master key file " + path + ": " + std::strerror(errno);
      return std::nullopt;
    }
    std::string line = crypto::to_hex(raw) + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::close(fd);
    if (!ok) {
      *error = "cannot write the master key file " + path;
      return std::nullopt;
    }
    if (created) *created = true;
  }
  std::ifstream in(path);
  if (!in) {
    *error = "master key file " + path + ": " + std::strerror(errno) +
             " (encryption.master_key_file; docs/encryption.md)";
    return std::nullopt;
  }
  std::string text;
  std::getline(in, text);
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.pop_back();
  auto key = crypto::from_hex(text);
  if (!key || key->size() != 32) {
    *error = "master key file " + path + ": expected 64 hex digits (32 bytes) on its first line";
    return std::nullopt;
  }
  return key;
}

KeyStore::KeyStore(db::Db &db, std::string master) : db_(db), master_(std::move(master)) {
  db_.migrate("keys", kMigrations);
}

std::optional<ContentKey> KeyStore::unwrap_row(db::Stmt &s, const std::string &channel) {
  ContentKey k;
  k.channel = channel;
  k.period = static_cast<uint64_t>(s.col_int64(0));
  k.key_id = s.col_text(1);
  auto wrapped = crypto::from_hex(s.col_text(2));
  auto iv = crypto::from_hex(s.col_text(3));
  if (!wrapped || !iv || iv->size() != 16) return std::nullopt;
  auto key = crypto::unwrap_key(master_, *wrapped, aad(channel, k.key_id));
  if (!key || key->size() != 16) return std::nullopt;
  k.key = std::move(*key);
  k.iv = std::move(*iv);
  return k;
}

std::optional<ContentKey> KeyStore::ensure(const std::string &channel, uint64_t period,
                                           std::string *error) {
  std::optional<ContentKey> out;
  std::string err;
  db_.tx([&] {
    auto sel = db_.prepare(
        "SELECT period, key_id, wrapped, iv FROM enc_keys WHERE channel_id=? AND period=?");
    sel.bind(1, channel).bind(2, static_cast<int64_t>(period));
    if (!sel.step()) {
      std::string key = crypto::random_bytes(16), iv = crypto::random_bytes(16),
                  id = crypto::random_bytes(8);
      if (key.size() != 16 || iv.size() != 16 || id.size() != 8) {
        err = "no randomness for a content key";
        return;
      }
      std::string key_id = crypto::to_hex(id);
      std::string wrapped = crypto::wrap_key(master_, key, aad(channel, key_id));
      if (wrapped.empty()) {
        err = "cannot wrap a content key";
        return;
      }
      db_.prepare(
             "INSERT OR IGNORE INTO enc_keys(channel_id, period, key_id, wrapped, iv, created_ms)"
             " VALUES(?,?,?,?,?,strftime('%s','now')*1000)")
          .bind(1, channel)
          .bind(2, static_cast<int64_t>(period))
          .bind(3, key_id)
          .bind(4, crypto::to_hex(wrapped))
          .bind(5, crypto::to_hex(iv))
          .run();
      sel.reset();  // (clears the bindings too)
      sel.bind(1, channel).bind(2, static_cast<int64_t>(period));
      if (!sel.step()) {
        err = "content key not stored";
        return;
      }
    }
    out = unwrap_row(sel, channel);
    if (!out)
      err = "the stored key of period " + std::to_string(period) +
            " does not unwrap (another master key?)";
  });
  if (!out && error) *error = err;
  return out;
}

std::optional<ContentKey> KeyStore::find(const std::string &channel, const std::string &key_id) {
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare(
      "SELECT period, key_id, wrapped, iv FROM enc_keys WHERE channel_id=? AND key_id=?");
  s.bind(1, channel).bind(2, key_id);
  if (!s.step()) return std::nullopt;
  return unwrap_row(s, channel);
}

std::optional<std::string> KeyStore::iv(const std::string &channel, const std::string &key_id) {
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  auto s = db_.prepare("SELECT iv FROM enc_keys WHERE channel_id=? AND key_id=?");
  s.bind(1, channel).bind(2, key_id);
  if (!s.step()) return std::nullopt;
  return crypto::from_hex(s.col_text(0));
}

bool KeyStore::master_opens(std::string *error) {
  std::lock_guard<std::recursive_mutex> lock(db_.mutex());
  // One key per channel: the newest (the one players need now).
  auto s = db_.prepare(
      "SELECT k.period, k.key_id, k.wrapped, k.iv, k.channel_id FROM enc_keys k"
      " WHERE k.period = (SELECT MAX(period) FROM enc_keys m WHERE m.channel_id = k.channel_id)");
  while (s.step()) {
    std::string channel = s.col_text(4);
    if (!unwrap_row(s, channel)) {
      if (error)
        *error = "the master key does not open the stored content key " + s.col_text(1) +
                 " of channel " + channel;
      return false;
    }
  }
  return true;
}

int KeyStore::prune(const RetentionFn &retention_ms, int64_t now_ms, int64_t margin_ms) {
  int removed = 0;
  db_.tx([&] {
    std::vector<std::string> channels;
    {
      auto s = db_.prepare("SELECT DISTINCT channel_id FROM enc_keys");
      while (s.step()) channels.push_back(s.col_text(0));
    }
    bool archive = false;
    {
      auto t = db_.prepare("SELECT 1 FROM sqlite_master WHERE type='table' AND name='ar_segments'");
      archive = t.step();
    }
    std::string sql = "DELETE FROM enc_keys WHERE channel_id=? AND created_ms<?";
    if (archive)
      sql +=
          " AND key_id NOT IN (SELECT key_id FROM ar_segments WHERE channel_id=?"
          " AND key_id<>'')";
    auto del = db_.prepare(sql);
    for (const std::string &ch : channels) {
      int64_t cutoff = now_ms - std::max<int64_t>(0, retention_ms(ch)) - margin_ms;
      del.bind(1, ch).bind(2, cutoff);
      if (archive) del.bind(3, ch);
      del.run();
      removed += db_.changes();
      del.reset();
    }
  });
  return removed;
}

int KeyStore::rewrap(const std::string &new_master) {
  if (new_master.size() != 32) throw std::runtime_error("the new master key is not 32 bytes");
  int n = 0;
  db_.tx([&] {
    struct Row {
      std::string channel, key_id, wrapped;
      int64_t period;
    };
    std::vector<Row> rows;
    {
      auto s = db_.prepare(
          "SELECT period, key_id, wrapped, iv, channel_id FROM enc_keys ORDER BY channel_id, "
          "period");
      while (s.step()) {
        std::string channel = s.col_text(4);
        auto k = unwrap_row(s, channel);
        if (!k)
          throw std::runtime_error("content key " + s.col_text(1) + " of channel " + channel +
                                   " does not unwrap with the current master key");
        std::string w = crypto::wrap_key(new_master, k->key, aad(channel, k->key_id));
        if (w.empty()) throw std::runtime_error("cannot wrap a content key");
        rows.push_back({channel, k->key_id, crypto::to_hex(w), static_cast<int64_t>(k->period)});
      }
    }
    auto up = db_.prepare("UPDATE enc_keys SET wrapped=? WHERE channel_id=? AND period=?");
    for (const Row &r : rows) {
      up.bind(1, r.wrapped).bind(2, r.channel).bind(3, r.period);
      up.run();
      up.reset();
      ++n;
    }
  });
  master_ = new_master;
  return n;
}

}  // namespace iptv::keys
