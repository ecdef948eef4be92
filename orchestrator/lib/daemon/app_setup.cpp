#include "daemon/app_setup.h"

#include <glib-unix.h>
#include <glib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "config/daemon_config.h"
#include "control/api_server.h"
#include "control/store.h"
#include "daemon/cgroup_delegate.h"
#include "daemon/channel_manager.h"
#include "daemon/cluster.h"
#include "daemon/control_adapter.h"
#include "daemon/plugin_path.h"
#include "daemon/self_watch.h"
#include "daemon/service_notify.h"
#include "daemon/app_setup.h"
#include "daemon/encryption_keys.h"
#include "db/sqlite_db.h"
#include "diagnose/diagnose.h"
#include "log/log.h"
#include "origin/connections.h"
#include "daemon/archive_adapter.h"
#include "origin/origin.h"
#include "store/state_store.h"
#include "store/webhooks.h"
#include "viewers/origin_observer.h"
#include "viewers/viewer_stats.h"

namespace iptv::daemon {

namespace {

const char kUsage[] =
    "usage: iptvd [--config FILE] [--channels DIR] [--data DIR] [--listen ADDR:PORT]\n"
    "             [--log-format text|json] [--log-level LEVEL] [--role edge|cloud|any]\n"
    "             [--node NAME] [--worker PATH] [--no-watch]\n"
    "       iptvd [--config FILE] [--data DIR] --rotate-master-key NEW_FILE\n"
    "\n"
    "Runs every channel record in --channels (default: channels) as a supervised live pipeline,\n"
    "packages HLS under --data (default: var) and serves it, the API and /metrics on --listen.\n"
    "Flags override the config file (see docs/iptvd-config.md). SIGHUP reloads the channels;\n"
    "SIGTERM stops after finishing open segments.\n"
    "--rotate-master-key (iptvd stopped): rewraps every AES-128 content key under the master key\n"
    "in NEW_FILE (made 0600 when missing) in one transaction, then exits; then set\n"
    "encryption.master_key_file to NEW_FILE (docs/encryption.md).\n";

}  // namespace

// -1 to go on, or the exit code: 0 after --help, 2 for a bad option.
int parse_command_line(int argc, char **argv, CommandLine &cl) {
  auto &[config_path, channels, data, listen, log_format, log_level, role, node, worker, no_watch,
         rotate_master_key] = cl;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](std::string &out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "iptvd: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      out = argv[++i];
    };
    if (a == "--config")
      val(config_path);
    else if (a == "--channels")
      val(channels);
    else if (a == "--data")
      val(data);
    else if (a == "--listen")
      val(listen);
    else if (a == "--log-format")
      val(log_format);
    else if (a == "--log-level")
      val(log_level);
    else if (a == "--role")
      val(role);
    else if (a == "--node")
      val(node);
    else if (a == "--worker")
      val(worker);
    else if (a == "--no-watch")
      no_watch = true;
    else if (a == "--rotate-master-key")
      val(rotate_master_key);
    else if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "iptvd: unknown option '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  return -1;
}

namespace {

bool split_listen(const std::string &s, std::string &addr, int &port) {
  auto c = s.rfind(':');
  if (c == std::string::npos) return false;
  addr = s.substr(0, c);
  char *end = nullptr;
  long p = std::strtol(s.c_str() + c + 1, &end, 10);
  if (*end || p < 0 || p > 65535) return false;
  port = (int)p;
  return true;
}

// A fresh EdgeAuth key ring (0600) for a first start with tokens on and no key file (the default:
// data_dir/token.keys), the way admin.key is created.
bool make_key_file(const std::string &path, std::string *error) {
  std::random_device rd;
  std::string hex;
  char b[3];
  for (int i = 0; i < 32; ++i) {
    std::snprintf(b, sizeof b, "%02x", (unsigned)(rd() & 0xff));
    hex += b;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    *error = path + ": " + strerror(errno);
    return false;
  }
  std::string line = "k1 " + hex + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == (ssize_t)line.size();
  ::close(fd);
  if (!ok) *error = path + ": short write";
  return ok;
}

}  // namespace

// ---- Before anything starts: config, logger, data folder, tokens, plugin ----

// The config file (or the local-demo defaults) under the command-line flags; configures the
// logger. 0, or the exit code.
int load_config(const CommandLine &cl, log::Logger &L, config::DaemonConfig *out) {
  const auto &[config_path, channels, data, listen, log_format, log_level, role, node, worker,
               no_watch, rotate_master_key] = cl;
  config::DaemonConfigResult cr;
  if (!config_path.empty()) {
    cr = config::load_daemon_config(config_path);
  } else {
    cr.config = config::default_daemon_config();
    cr.config.listen_address = "127.0.0.1";  // no config file: a local demo, not a public server
  }
  if (!cr.ok()) {
    for (const auto &e : cr.errors) L.error("", "config: " + e.str());
    return 2;
  }
  config::DaemonConfig cfg = cr.config;
  if (!channels.empty()) cfg.channels_dir = channels;
  if (!data.empty()) cfg.data_dir = data;
  if (!log_format.empty()) cfg.log_format = log_format;
  if (!log_level.empty()) cfg.log_level = log_level;
  if (!role.empty()) cfg.node_role = role;
  if (!node.empty()) cfg.node_name = node;
  if (!node.empty() && cfg.cluster.enabled && cfg.cluster.node_id != node) {
    if (!cfg.cluster.node_id_from_node_name) {
      L.error("", "config: --node " + node + " differs from cluster.node_id '" +
                      cfg.cluster.node_id + "': they name the same node");
      return 2;
    }
    cfg.cluster.node_id = node;
  }
  if (!listen.empty() && !split_listen(listen, cfg.listen_address, cfg.listen_port)) {
    std::fprintf(stderr, "iptvd: --listen wants ADDR:PORT, got '%s'\n", listen.c_str());
    return 2;
  }
  auto fmt = log::parse_format(cfg.log_format);
  auto lvl = log::parse_level(cfg.log_level);
  if (!fmt || !lvl) {
    std::fprintf(stderr, "iptvd: bad log format or level\n");
    return 2;
  }
  L.configure(*fmt, *lvl);
  for (const auto &s : cfg.secrets()) L.add_secret(s);
  // Secure by default (docs/tokens.md): tokens are on unless the config says tokens.mode: none,
  // which is said at every start, and refused on a public address unless allowed explicitly.
  if (std::string why = cfg.insecure_listen_error(); !why.empty()) {
    L.error("", "config: " + why);
    return 2;
  }
  if (cfg.token_mode == "none")
    L.warn("",
           "tokens.mode none: every channel is served without a token to anyone who can reach "
           "this address (docs/tokens.md)",
           {{"listen", cfg.listen_address},
            {"allow_insecure_public", cfg.token_allow_insecure_public ? "true" : "false"}});
  *out = cfg;
  return 0;
}

AppOptions app_options(const config::DaemonConfig &cfg, const CommandLine &cl) {
  AppOptions o;
  o.data_dir = cfg.data_dir;
  o.worker_path = cl.worker;
  o.origin.address = cfg.listen_address;
  o.origin.port = cfg.listen_port;
  o.origin.limits.idle_timeout_s = cfg.listen_idle_timeout_seconds;
  o.origin.limits.header_timeout_s = cfg.listen_header_timeout_seconds;
  o.origin.limits.backlog = cfg.listen_backlog;
  o.origin.threads = cfg.listen_threads;
  if (!cfg.api_listen_address.empty()) {
    o.origin.control_address = cfg.api_listen_address;
    o.origin.control_port = cfg.api_listen_port;
  }
  o.public_url = cfg.public_base_url;
  o.printed_token_ttl = std::max(cfg.token_ttl_seconds, 3600);
  o.watch_channels = !cl.no_watch;
  return o;
}

// Before anything starts: the data folder (canonical and owner-only), the token mode and keys
// (docs/tokens.md), and whether the worker can load the iptv plugin's elements. 0, or the exit
// code.
int prepare(const config::DaemonConfig &cfg, AppOptions &o, log::Logger &L) {
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  o.origin.edge_auth_max_age = cfg.token_edge_auth_cache_seconds;
  // One canonical data folder (no "..", no symbolic links): the origin compares the real path of
  // every file it serves with the channel root under it, so "a/../var" would refuse every token.
  {
    std::error_code cec;
    std::filesystem::path canon = std::filesystem::canonical(o.data_dir, cec);
    if (cec) {
      L.error("", "data_dir " + o.data_dir + ": " + cec.message());
      return 2;
    }
    if (canon.string() != o.data_dir)
      L.info("", "data folder", {{"given", o.data_dir}, {"path", canon.string()}});
    o.data_dir = canon.string();
    // Owner only: the database (subjects, entitlements, sessions, audit, key hashes), admin.key
    // and token.keys live here.
    if (::chmod(o.data_dir.c_str(), 0700) != 0)
      L.warn("", "cannot make the data folder owner-only (0700): " + o.data_dir + ": " +
                     std::strerror(errno));
  }
  if (cfg.token_mode == "edgeauth" || cfg.token_mode == "securelink") {
    std::string keys =
        cfg.token_keys_file.empty() ? o.data_dir + "/token.keys" : cfg.token_keys_file;
    std::string err;
    if (!std::filesystem::exists(keys)) {
      if (!make_key_file(keys, &err)) {
        L.error("", "cannot create the token key file: " + err);
        return 2;
      }
      L.info("", "created a token key file", {{"path", keys}});
    }
    if (cfg.token_mode == "edgeauth") {
      o.origin.mode = TokenMode::kEdgeAuth;
      if (!o.origin.keys.load_file(keys, &err)) {
        L.error("", "token keys: " + err);
        return 2;
      }
      if (const std::string *k = o.origin.keys.find(o.origin.keys.signing_kid())) L.add_secret(*k);
    } else {
      o.origin.mode = TokenMode::kSecureLink;
      L.warn("",
             "tokens.mode securelink: API sessions, playlist tokens and /iptv/playlist.m3u are "
             "unavailable (securelink tokens carry no session, so they cannot be revoked); use "
             "edgeauth, behind docs/deploy/nginx-edge.conf for an edge (docs/tokens.md)");
      std::ifstream f(keys);
      std::getline(f, o.origin.securelink_secret);
      L.add_secret(o.origin.securelink_secret);
    }
  }

  if (!load_master_key_file(cfg.encryption_master_key_file, o.data_dir, L, &o.master_key)) return 2;

  // The iptv plugin: found beside this binary (build tree) or in the install prefix, and handed to
  // every worker through the environment they inherit. Without it no channel can run: say so.
  std::string plugin_dir = add_plugin_dir_to_env();
  std::string check_error;
  std::string missing = missing_elements(resolve_worker_path(o.worker_path), &check_error);
  if (!check_error.empty()) {
    o.cannot_run_reason = check_error;
    L.error("", "no channel can run: " + o.cannot_run_reason);
  } else if (!missing.empty()) {
    std::string searched;
    for (const auto &d : plugin_search_dirs()) searched += (searched.empty() ? "" : ", ") + d;
    o.cannot_run_reason = "GStreamer elements missing: " + missing +
                          " (the iptv plugin libgstiptv.so was not found in " + searched +
                          " or GST_PLUGIN_PATH)";
    L.error("", "no channel can run: " + o.cannot_run_reason);
  } else {
    L.info("", "iptv plugin found",
           {{"path", plugin_dir.empty() ? std::string("GST_PLUGIN_PATH") : plugin_dir}});
  }
  return 0;
}

ManagerOptions manager_options(const config::DaemonConfig &cfg, const AppOptions &app,
                               log::Logger &L) {
  ManagerOptions o;
  o.channels_dir = cfg.channels_dir;
  o.data_dir = app.data_dir;
  o.worker_path = resolve_worker_path(app.worker_path);
  o.limits.memory_mb = (uint64_t)cfg.worker_memory_mb;
  o.limits.cpu_seconds = (uint64_t)cfg.worker_cpu_seconds;
  o.limits.cpu_quota_cores = cfg.worker_cpu_quota_percent / 100.0;
  o.limits.nice = cfg.worker_nice;
  o.limits.sched_batch = cfg.worker_sched_batch;
  if (o.limits.cpu_quota_cores > 0 || o.limits.memory_mb) {
    // A delegated cgroup v2 subtree (systemd Delegate=yes) is used when writable.
    // IPTVD_CGROUP=self: the service's own delegated group (daemon/cgroup_delegate.h).
    const char *cg = g_getenv("IPTVD_CGROUP");
    std::string err;
    if (cg && *cg) o.limits.cgroup_dir = prepare_worker_cgroup(cg, &err);
    if (!err.empty()) L.warn("", "per-worker cgroup limits off: " + err);
  }
  o.backoff.initial_seconds = cfg.restart_backoff.initial_seconds;
  o.backoff.max_seconds = cfg.restart_backoff.max_seconds;
  o.backoff.jitter = cfg.restart_backoff.jitter;
  o.backoff.stable_after_seconds = cfg.restart_reset_seconds;
  o.heartbeat_ms = cfg.heartbeat_interval_ms;
  o.channels_per_process = cfg.worker_channels_per_process;
  o.group_transcode = cfg.worker_group_transcode;
  o.heartbeat_timeout_seconds = cfg.heartbeat_timeout_ms / 1000.0;
  o.node = cfg.node_name;
  o.role = cfg.node_role == "any" ? "" : cfg.node_role;
  o.cannot_run_reason = app.cannot_run_reason;
  o.watch_channels = app.watch_channels;
  return o;
}

std::string playback_url(const AppOptions &o, const std::string &channel, int64_t ttl) {
  std::string seg;
  int64_t now = (int64_t)(g_get_real_time() / 1000000);
  switch (o.origin.mode) {
    case TokenMode::kNone:
      return o.public_url + "/hls/" + channel + "/index.m3u8";
    case TokenMode::kSecureLink:
      seg = securelink_segment(channel, now + ttl, o.origin.securelink_secret);
      break;
    case TokenMode::kEdgeAuth: {
      TokenClaims c;
      c.start = now;
      c.expiry = now + ttl;
      c.acl = acl_for_channel(channel);
      seg = token_to_path_segment(sign_token(c, o.origin.keys));
      break;
    }
  }
  return o.public_url + "/hls/" + channel + "/" + seg + "/index.m3u8";
}

}  // namespace iptv::daemon
