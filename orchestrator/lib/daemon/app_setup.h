// iptvd before anything starts (app.cpp runs these in order): the command line, the config
// file under it, the data folder, token keys, the master key, the plugin check, and the options
// the channel manager and the printed URLs are made from. Split from app.cpp.
#pragma once

#include <cstdint>
#include <string>

#include "config/daemon_config.h"
#include "daemon/channel_manager.h"
#include "log/log.h"
#include "origin/origin.h"

namespace iptv::daemon {

// The flags, laid over the config file by load_config.
struct CommandLine {
  std::string config_path, channels, data, listen, log_format, log_level, role, node, worker;
  bool no_watch = false;
  std::string rotate_master_key;  // --rotate-master-key NEW_FILE: rewrap the keys, then exit
};

// What the wiring settles before anything starts; the channel manager's own options are made
// from these and the config (manager_options).
struct AppOptions {
  std::string data_dir;               // canonical once prepare_data_dir ran
  std::string worker_path;            // iptvd-worker; default: next to iptvd
  OriginConfig origin;                // address, port, token mode and keys
  std::string public_url;             // base of printed URLs; default http://<address>:<port>
  int64_t printed_token_ttl = 86400;  // TTL of the tokens in the URLs printed at start
  bool watch_channels = true;
  // Set when the worker's GStreamer elements cannot be found (check_plugin): no channel starts,
  // each is offline with this reason, and /readyz is not ready.
  std::string cannot_run_reason;
  // The master key (32 bytes) that wraps the AES-128 content keys (encryption.master_key_file).
  std::string master_key;
};

// -1 to go on, or the exit code: 0 after --help, 2 for a bad option.
int parse_command_line(int argc, char **argv, CommandLine &cl);
// The config file (or the local-demo defaults) under the command-line flags; configures the
// logger. 0, or the exit code.
int load_config(const CommandLine &cl, log::Logger &L, config::DaemonConfig *out);
AppOptions app_options(const config::DaemonConfig &cfg, const CommandLine &cl);
// The data folder, keys, master key and plugin check. 0, or the exit code.
int prepare(const config::DaemonConfig &cfg, AppOptions &o, log::Logger &L);
ManagerOptions manager_options(const config::DaemonConfig &cfg, const AppOptions &app,
                               log::Logger &L);
// A playback URL of `channel` with a token valid for `ttl` seconds (printed at start).
std::string playback_url(const AppOptions &o, const std::string &channel, int64_t ttl);

}  // namespace iptv::daemon
