// The iptvd daemon config file (YAML), strict like the channel records.
//
// - Every key has a default, so no file is needed (default_daemon_config()).
// - An unknown key, a wrong type or an out-of-range value is an error with its position:
//     iptvd.yaml:12:5: webhooks[0].secrte: unknown key 'secrte' (did you mean 'secret'?)
// - All errors are reported in one run; a config with errors must not be used.
// - Relative paths (channels_dir, data_dir, tokens.keys_file, webhooks[].secret_file) are
//   resolved against the folder of the config file; with no file, against the working directory.
// - webhooks[].secret_file is read at load time (first line, trimmed); its text then sits in
//   WebhookConfig::secret like an inline secret.
//
// Every key is documented in docs/iptvd-config.md; iptvd.example.yaml at the repository root is
// a commented sample loaded by a test.
//
// Daemon use:
//   auto r = iptv::config::load_daemon_config(path);      // or default_daemon_config()
//   if (!r.ok()) { for (auto &e : r.errors) log.error("", e.str()); return 2; }
//   for (auto &s : r.config.secrets()) logger.add_secret(s);
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "records/loader.h"  // LoadError

namespace iptv::config {

struct BackoffConfig {
  double initial_seconds = 1.0;
  double max_seconds = 60.0;
  double jitter = 0.2;  // fraction of the delay, 0..1: delay * (1 - jitter .. 1 + jitter)
};

struct WebhookConfig {
  std::string name;                 // identity of the delivery cursor; defaults to the url
  std::string url;                  // http:// or https://
  std::string secret;               // HMAC-SHA256 key (inline, or read from secret_file)
  std::string secret_file;          // as written in the file, resolved
  std::vector<std::string> events;  // event type filters ("failover.*"); empty = all
  double timeout_seconds = 10.0;    // per request
  int max_attempts = 12;            // then dead-lettered
  BackoffConfig backoff{2.0, 600.0, 0.2};
};

// cluster: channel ownership in etcd (docs/cluster.md). Absent: the node runs alone.
struct ClusterConfig {
  bool enabled = false;           // a `cluster` section was given
  std::vector<std::string> etcd;  // etcd client URLs (http://host:port), tried in order
  int lease_ttl_seconds = 10;     // the node lease: a node silent this long loses its channels
  std::string node_id;            // this node's key in etcd ("" = node.name)
  bool node_id_from_node_name = false;  // not written: follows node.name (and --node)
  std::string advertise_url;            // how other nodes and edges reach it ("" = public base URL)
};

struct DaemonConfig {
  std::string file;  // the file it was loaded from ("" for defaults)

  // listen
  std::string listen_address = "0.0.0.0";
  int listen_port = 8080;
  int listen_idle_timeout_seconds = 30;    // idle keep-alive connections are closed after this
  int listen_header_timeout_seconds = 10;  // a request must arrive in full within this
  int listen_backlog = 4096;               // listen(2) backlog
  int listen_threads = 0;                  // serving threads of the origin; 0: one per core
  std::string public_base_url;  // "" = http://<listen host>:<port>, see effective_base_url()

  std::string channels_dir = "channels";
  std::string data_dir = "var";

  // tokens: on by default (edgeauth, key ring created in data_dir on first start); "none" only
  // when written, and then only on a loopback listen address unless allow_insecure_public.
  std::string token_mode = "edgeauth";  // none | edgeauth | securelink
  std::string token_keys_file;  // edgeauth: "KID HEXSECRET" lines ("" = data_dir/token.keys,
                                // created 0600 on first start); securelink: the secret
  bool token_allow_insecure_public = false;  // tokens.allow_insecure_public
  int token_ttl_seconds = 3600;
  int token_edge_auth_cache_seconds = 5;  // how long an edge may cache an /hls-auth answer

  // sessions: open sessions one subject may hold (playback and playlist sessions together)
  int sessions_max_per_subject = 1000;
  // viewers: the request header a trusted front end (edge, load balancer) sets to the viewer's
  // region; "" reads none (every region "unknown"). Only set it when clients cannot reach the
  // origin without passing that front end, which must overwrite the header.
  std::string viewers_region_header;
  // api: the largest request body the API reads (bigger: 413 before reading it)
  int api_max_body_bytes = 1 << 20;
  // The API's and /metrics' own listening address ("" = they share listen.address:port).
  std::string api_listen_address;
  int api_listen_port = 0;  // with api_listen_address; 0 picks a free port
  // console: the operator console's built files ("" = found beside the binary in a build tree,
  // else in the install prefix's share/gst-iptv/console) and its session lifetime.
  std::string console_dir;
  int console_session_ttl_seconds = 8 * 3600;

  std::vector<WebhookConfig> webhooks;

  // worker limits and supervision
  int worker_memory_mb = 0;          // RLIMIT_AS / cgroup memory.max; 0 = unlimited
  int worker_cpu_seconds = 0;        // RLIMIT_CPU; 0 = unlimited
  int worker_cpu_quota_percent = 0;  // cgroup cpu.max (100 = one core); 0 = unlimited
  // Passthrough channels per worker process (1: a process per channel); limits then apply to
  // the group's process.
  int worker_channels_per_process = 1;
  bool worker_group_transcode = false;  // transcode channels are grouped too
  // CPU priority of workers below the daemon's: nice levels added to iptvd's, and (off by
  // default: alone it did not shorten the API's tail, docs/benchmarks.md) SCHED_BATCH.
  int worker_nice = 5;
  bool worker_sched_batch = false;
  BackoffConfig restart_backoff{1.0, 60.0, 0.2};
  double restart_reset_seconds = 60;  // a worker up this long resets its backoff
  int heartbeat_interval_ms = 1000;
  int heartbeat_timeout_ms = 5000;

  // logs
  std::string log_format = "text";  // text | json
  std::string log_level = "info";   // debug | info | warn | error

  // retention
  int retention_events_days = 30;
  int retention_audit_days = 90;

  // storage (docs/timeshift.md): the live window (hot: a RAM-backed folder when given; "" =
  // data_dir/hls) and the catch-up archive (warm: "" = data_dir/warm), retention sweep period
  std::string storage_hot_dir;
  std::string storage_warm_dir;
  int storage_sweep_seconds = 30;
  // storage.archive: the optional object tier (S3 API, SigV4). Empty endpoint: off.
  std::string archive_endpoint, archive_bucket, archive_region = "us-east-1", archive_prefix;
  std::string archive_credentials_file;      // 0600: access_key_id / secret_access_key
  std::string archive_cache_dir;             // "" = data_dir/archive-cache
  double archive_period_seconds = 3600;      // finished periods are uploaded
  double archive_warm_keep_seconds = 86400;  // warm copies of uploaded segments kept this long
  int archive_cache_megabytes = 256;

  // encryption (docs/encryption.md): the file holding the master key (64 hex digits) that wraps
  // the AES-128 content keys in the database. "" = data_dir/master.key, created (0600) on first
  // start; a file named here must exist and be readable, or iptvd does not start.
  std::string encryption_master_key_file;

  // node
  std::string node_name;          // default: the host name
  std::string node_role = "any";  // any | edge | cloud

  ClusterConfig cluster;

  // Every secret the config holds (webhook secrets), for the log redactor. Token keys live in
  // their own file: the daemon registers them when it loads the key ring.
  std::vector<std::string> secrets() const;
  std::string effective_base_url() const;
  // Why this config must not be served as it is: tokens off (mode none) on a listen address
  // that is not loopback (127.0.0.0/8, ::1, localhost), without tokens.allow_insecure_public.
  // "" when it may. Checked by iptvd after command-line overrides (--listen).
  std::string insecure_listen_error() const;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_address(const std::string &address);

struct DaemonConfigResult {
  DaemonConfig config;
  std::vector<LoadError> errors;
  bool ok() const { return errors.empty(); }
};

// The defaults (relative paths resolved against the working directory).
DaemonConfig default_daemon_config();
// Parses config text; `file` names it in errors and anchors relative paths.
DaemonConfigResult parse_daemon_config(std::string_view yaml_text, const std::string &file);
// Reads and parses a file (a missing file is an error).
DaemonConfigResult load_daemon_config(const std::string &path);

}  // namespace iptv::config
