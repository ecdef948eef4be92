#include "daemon/encryption_keys.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "crypto/aes.h"
#include "daemon/archive_adapter.h"
#include "daemon/channel_manager.h"
#include "log/log.h"
#include "origin/origin.h"
#include "records/channel.h"
#include "worker/spec.h"

namespace iptv::daemon {

bool load_master_key_file(const std::string &configured, const std::string &data_dir,
                          log::Logger &logger, std::string *master) {
  bool named = !configured.empty();
  std::string path = named ? configured : data_dir + "/master.key";
  std::string err;
  bool created = false;
  auto key = keys::load_master_key(path, !named, &err, &created);
  if (!key) {
    logger.error("", "encryption: " + err);
    return false;
  }
  if (created) logger.info("", "created the master key file", {{"path", path}});
  *master = *key;
  logger.add_secret(crypto::to_hex(*key));
  return true;
}

int64_t key_retention_ms(const ChannelRecord *rec) {
  // No record (retired, or not loadable now): a week, so a record broken for a while does not
  // lose the keys of what it published.
  if (!rec) return 7 * 86'400'000LL;
  const HlsSettings &h = rec->hls;
  double live = std::max(h.window_segments * h.segment_seconds, h.dvr_seconds);
  double catchup = rec->catchup.days * 86400.0;
  double period = std::max(1, rec->encryption.rotate_segments) * h.segment_seconds;
  return static_cast<int64_t>(std::ceil((std::max(live, catchup) + period) * 1000));
}

int prune_content_keys(keys::KeyStore &keys, ChannelManager &channels, log::Logger &logger) {
  int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  try {
    int n = keys.prune(
        [&channels](const std::string &ch) {
          auto rec = channels.record(ch);
          return key_retention_ms(rec ? &*rec : nullptr);
        },
        now, 3'600'000);
    if (n > 0)
      logger.info(
          "", "pruned " + std::to_string(n) + " content keys older than their channels' retention");
    return n;
  } catch (const std::exception &e) {
    logger.warn("", std::string("encryption: cannot prune old content keys: ") + e.what());
    return 0;
  }
}

int rotate_master_key(const std::string &configured, const std::string &data_dir,
                      const std::string &new_file, log::Logger &logger) {
  std::string old_path = configured.empty() ? data_dir + "/master.key" : configured;
  std::string db_path = data_dir + "/iptvd.db";
  std::string err;
  if (::access(db_path.c_str(), F_OK) != 0) {
    logger.error("", "--rotate-master-key: no database at " + db_path + " (--data, data_dir)");
    return 2;
  }
  auto old_key = keys::load_master_key(old_path, false, &err);
  if (!old_key) {
    logger.error("", "--rotate-master-key: the current " + err);
    return 2;
  }
  logger.add_secret(crypto::to_hex(*old_key));
  bool created = false;
  auto new_key = keys::load_master_key(new_file, true, &err, &created);
  if (!new_key) {
    logger.error("", "--rotate-master-key: the new " + err);
    return 2;
  }
  logger.add_secret(crypto::to_hex(*new_key));
  if (created) logger.info("", "created the new master key file", {{"path", new_file}});
  if (*new_key == *old_key) {
    logger.error("", "--rotate-master-key: " + new_file + " holds the current master key (" +
                         old_path + ")");
    return 2;
  }
  try {
    auto db = db::Db::open(db_path);
    db->set_busy_timeout(5000);
    keys::KeyStore store(*db, *old_key);
    if (!store.master_opens(&err)) {
      logger.error("", "--rotate-master-key: " + old_path + ": " + err);
      return 2;
    }
    int n = store.rewrap(*new_key);
    logger.info("",
                "rewrapped " + std::to_string(n) +
                    " content keys under the new master key; set encryption.master_key_file to "
                    "it before starting iptvd: the old one no longer opens them",
                {{"new_master_key_file", new_file}, {"old_master_key_file", old_path}});
  } catch (const std::exception &e) {
    logger.error("", std::string("--rotate-master-key: nothing changed: ") + e.what());
    return 2;
  }
  return 0;
}

void wire_encryption_keys(keys::KeyStore &keys, ChannelManager &channels, ArchiveAdapter &archive,
                          Origin &origin, log::Logger &logger) {
  // Workers: the key of (channel, period), made on first use; the line sent holds the key, so
  // nothing here logs it.
  channels.set_key_source(
      [&keys, &logger](const std::string &ch, uint64_t period) -> std::optional<wire::CmdKey> {
        std::string err;
        std::optional<keys::ContentKey> k;
        try {
          k = keys.ensure(ch, period, &err);
        } catch (const std::exception &e) {
          err = e.what();
        }
        if (!k) {
          logger.warn(ch, "no content key for key period " + std::to_string(period) + ": " + err);
          return std::nullopt;
        }
        return wire::CmdKey{period, k->key_id, crypto::to_hex(k->key), crypto::to_hex(k->iv)};
      });
  // Catch-up playlists: the same EXT-X-KEY the live playlist had (URI and IV of the key id).
  archive.set_key_line([&keys](const std::string &ch, const std::string &kid) -> std::string {
    std::optional<std::string> iv;
    try {
      iv = keys.iv(ch, kid);
    } catch (const std::exception &) {
    }
    std::string uri = worker::key_uri_format(ch);
    uri.replace(uri.find("{key-id}"), 8, kid);
    // A key lost with its database: the segment stays listed as encrypted (and unplayable).
    return "METHOD=AES-128,URI=\"" + uri + "\"" + (iv ? ",IV=0x" + crypto::to_hex(*iv) : "");
  });
  // The origin's key route, after its token check.
  origin.set_key_route(
      [&keys](const std::string &ch, const std::string &id) -> std::optional<std::string> {
        try {
          if (auto key = keys.find(ch, id)) return key->key;
        } catch (const std::exception &) {
        }
        return std::nullopt;
      });
}

}  // namespace iptv::daemon
