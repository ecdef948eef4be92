#include "daemon/encryption_keys.h"

#include "crypto/aes.h"
#include "daemon/archive_adapter.h"
#include "daemon/channel_manager.h"
#include "log/log.h"
#include "origin/origin.h"
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
