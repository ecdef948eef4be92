// iptvd's AES-128 wiring (docs/encryption.md): the master key file, and the key store's three
// users: the workers (keys on their command pipes, ahead of each key period), the origin's key
// route (/keys/<channel>/<token>/<key-id>) and the catch-up playlists (EXT-X-KEY per key id).
#pragma once

#include <cstdint>
#include <string>

#include "keys/key_store.h"

namespace iptv {
class Origin;
namespace log {
class Logger;
}
}  // namespace iptv

namespace iptv {
struct ChannelRecord;
}

namespace iptv::daemon {

class ChannelManager;
class ArchiveAdapter;

// Loads encryption.master_key_file, or data_dir/master.key (created 0600 on first start) when the
// config names none. False after logging an error that names the file (iptvd does not start).
bool load_master_key_file(const std::string &configured, const std::string &data_dir,
                          log::Logger &logger, std::string *master);

// Hands `keys` to the channel manager (key source), the archive adapter (catch-up EXT-X-KEY) and
// the origin (key route). Call before the channels load; clear the origin's route before `keys`
// goes away.
// Deletes the content keys older than each channel's longest retention (key_retention_ms) plus
// an hour, in one transaction (keys::KeyStore::prune). Logs how many went; never throws.
int prune_content_keys(keys::KeyStore &keys, ChannelManager &channels, log::Logger &logger);

// How long a channel's keys must be kept: the longest of its live window, DVR window and
// catch-up (warm and archive tiers: catchup.days), plus one key period. A week for a channel with
// no record (retired, or a record that does not load now).
int64_t key_retention_ms(const ChannelRecord *rec);

// `iptvd --rotate-master-key NEW_FILE` (docs/encryption.md): with iptvd stopped, rewraps every
// content key of data_dir/iptvd.db under the master key in NEW_FILE (created 0600 when missing)
// in one transaction. The exit code: 0, or 2 with the reason logged (nothing changed).
int rotate_master_key(const std::string &configured, const std::string &data_dir,
                      const std::string &new_file, log::Logger &logger);

void wire_encryption_keys(keys::KeyStore &keys, ChannelManager &channels, ArchiveAdapter &archive,
                          Origin &origin, log::Logger &logger);

}  // namespace iptv::daemon
