// iptvd's AES-128 wiring (docs/encryption.md): the master key file, and the key store's three
// users: the workers (keys on their command pipes, ahead of each key period), the origin's key
// route (/keys/<channel>/<token>/<key-id>) and the catch-up playlists (EXT-X-KEY per key id).
#pragma once

#include <string>

#include "keys/key_store.h"

namespace iptv {
class Origin;
namespace log {
class Logger;
}
}  // namespace iptv

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
void wire_encryption_keys(keys::KeyStore &keys, ChannelManager &channels, ArchiveAdapter &archive,
                          Origin &origin, log::Logger &logger);

}  // namespace iptv::daemon
