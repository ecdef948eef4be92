#include "config/daemon_config.h"

#include <glib.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "records/yaml_walker.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace fs = std::filesystem;

namespace iptv::config {

namespace {

// The shared strict walker (records/yaml_walker.h): config sections are optional.
class Walker : public YamlWalker {
 public:
  Walker(const std::string &file, std::vector<LoadError> &errors)
      : YamlWalker(file, errors, "<config>") {}
  bool mapping(const YAML::Node &n, const std::string &path,
               const std::vector<std::string> &known) {
    return optional_mapping(n, path, known);
  }
  bool string_list(const YAML::Node &n, const std::string &path, std::vector<std::string> &out) {
    return YamlWalker::string_list(n, path, out, false);
  }
};

std::string resolve(const std::string &base_dir, const std::string &p) {
  if (p.empty() || base_dir.empty() || fs::path(p).is_absolute()) return p;
  return (fs::path(base_dir) / p).lexically_normal().string();
}

bool http_url(const std::string &u) {
  std::string rest;
  if (starts_with(u, "http://"))
    rest = u.substr(7);
  else if (starts_with(u, "https://"))
    rest = u.substr(8);
  else
    return false;
  return !rest.empty() && rest[0] != '/';
}

// "" when `u` can prefix every URL the daemon hands out (playlists, playback_url), else why not.
std::string base_url_problem(const std::string &u) {
  for (unsigned char ch : u)
    if (ch <= 0x20 || ch == 0x7f || ch == '"' || ch == '<' || ch == '>' || ch == '\\')
      return "expected an http:// or https:// URL without spaces, quotes or control characters";
  if (!http_url(u)) return "expected an http:// or https:// URL, got '" + u + "'";
  GError *err = nullptr;
  GUri *uri = g_uri_parse(u.c_str(), G_URI_FLAGS_NONE, &err);
  if (!uri) {
    std::string m = "not a valid URL: " + std::string(err ? err->message : "?");
    g_clear_error(&err);
    return m;
  }
  std::string why;
  if (g_uri_get_query(uri) || g_uri_get_fragment(uri))
    why = "must not carry a query (?) or fragment (#): paths and tokens are appended to it";
  else if (g_uri_get_userinfo(uri))
    why = "must not carry user:password@";
  else if (!g_uri_get_host(uri) || !*g_uri_get_host(uri))
    why = "has no host";
  g_uri_unref(uri);
  return why;
}

void parse_backoff(Walker &w, const YAML::Node &n, const std::string &path, BackoffConfig &b) {
  if (!w.mapping(n, path, {"initial_seconds", "max_seconds", "jitter"})) return;
  w.number(n["initial_seconds"], path + ".initial_seconds", b.initial_seconds, 0.001, 86400);
  w.number(n["max_seconds"], path + ".max_seconds", b.max_seconds, 0.001, 86400);
  w.number(n["jitter"], path + ".jitter", b.jitter, 0, 1);
  if (b.max_seconds < b.initial_seconds)
    w.error(n["max_seconds"], path + ".max_seconds",
            "must not be below initial_seconds (" + Walker::fmt(b.initial_seconds) + ")");
}

const std::vector<std::string> kTopKeys = {
    "listen",   "public_base_url", "channels_dir", "data_dir",   "tokens",    "viewers",
    "sessions", "webhooks",        "worker",       "log",        "retention", "node",
    "api",      "storage",         "console",      "encryption", "cluster"};

void parse_listen_and_dirs(Walker &w, const YAML::Node &root, const std::string &base,
                           DaemonConfig &c) {
  if (w.mapping(root["listen"], "listen",
                {"address", "port", "idle_timeout_seconds", "header_timeout_seconds", "backlog",
                 "threads"})) {
    const auto &l = root["listen"];
    w.str(l["address"], "listen.address", c.listen_address);
    if (c.listen_address.empty()) w.error(l["address"], "listen.address", "must not be empty");
    w.integer(l["port"], "listen.port", c.listen_port, 0, 65535);
    w.integer(l["idle_timeout_seconds"], "listen.idle_timeout_seconds",
              c.listen_idle_timeout_seconds, 1, 3600);
    w.integer(l["header_timeout_seconds"], "listen.header_timeout_seconds",
              c.listen_header_timeout_seconds, 1, 600);
    w.integer(l["backlog"], "listen.backlog", c.listen_backlog, 16, 65535);
    w.integer(l["threads"], "listen.threads", c.listen_threads, 0, 256);
  }
  if (w.str(root["public_base_url"], "public_base_url", c.public_base_url) &&
      !c.public_base_url.empty()) {
    std::string why = base_url_problem(c.public_base_url);
    if (!why.empty()) w.error(root["public_base_url"], "public_base_url", why);
  }
  if (root["channels_dir"].IsDefined()) {
    w.str(root["channels_dir"], "channels_dir", c.channels_dir);
    if (c.channels_dir.empty()) w.error(root["channels_dir"], "channels_dir", "must not be empty");
    c.channels_dir = resolve(base, c.channels_dir);
  }
  if (root["data_dir"].IsDefined()) {
    w.str(root["data_dir"], "data_dir", c.data_dir);
    if (c.data_dir.empty()) w.error(root["data_dir"], "data_dir", "must not be empty");
    c.data_dir = resolve(base, c.data_dir);
  }
}

void parse_tokens(Walker &w, const YAML::Node &root, const std::string &base, DaemonConfig &c) {
  if (w.mapping(root["tokens"], "tokens",
                {"mode", "keys_file", "ttl_seconds", "edge_auth_cache_seconds",
                 "allow_insecure_public"})) {
    const auto &t = root["tokens"];
    w.choice(t["mode"], "tokens.mode", {"none", "edgeauth", "securelink"}, c.token_mode);
    w.str(t["keys_file"], "tokens.keys_file", c.token_keys_file);
    c.token_keys_file = resolve(base, c.token_keys_file);
    w.integer(t["ttl_seconds"], "tokens.ttl_seconds", c.token_ttl_seconds, 10, 86400 * 366);
    w.integer(t["edge_auth_cache_seconds"], "tokens.edge_auth_cache_seconds",
              c.token_edge_auth_cache_seconds, 0, 300);
    w.boolean(t["allow_insecure_public"], "tokens.allow_insecure_public",
              c.token_allow_insecure_public);
    // edgeauth without keys_file: iptvd creates data_dir/token.keys (0600) on first start.
    if (c.token_mode == "securelink" && c.token_keys_file.empty())
      w.error(t["keys_file"], "tokens.keys_file",
              "is required when tokens.mode is " + c.token_mode);
  }
}

void parse_sessions_and_api(Walker &w, const YAML::Node &root, DaemonConfig &c) {
  if (w.mapping(root["sessions"], "sessions", {"max_per_subject"}))
    w.integer(root["sessions"]["max_per_subject"], "sessions.max_per_subject",
              c.sessions_max_per_subject, 1, 10000000);
  if (w.mapping(root["viewers"], "viewers", {"region_header"})) {
    w.str(root["viewers"]["region_header"], "viewers.region_header", c.viewers_region_header);
    for (char ch : c.viewers_region_header)
      if (!(g_ascii_isalnum(ch) || ch == '-' || ch == '_')) {
        w.error(root["viewers"]["region_header"], "viewers.region_header",
                "must be an HTTP header name (letters, digits, '-')");
        break;
      }
  }
  if (w.mapping(root["api"], "api", {"max_body_bytes", "listen_address", "listen_port"})) {
    w.integer(root["api"]["max_body_bytes"], "api.max_body_bytes", c.api_max_body_bytes, 1024,
              64 << 20);
    w.str(root["api"]["listen_address"], "api.listen_address", c.api_listen_address);
    w.integer(root["api"]["listen_port"], "api.listen_port", c.api_listen_port, 0, 65535);
    if (root["api"]["listen_port"].IsDefined() && c.api_listen_address.empty())
      w.error(root["api"]["listen_port"], "api.listen_port", "needs api.listen_address");
  }
}

void parse_console(Walker &w, const YAML::Node &root, const std::string &base, DaemonConfig &c) {
  if (w.mapping(root["console"], "console", {"dir", "session_ttl_seconds"})) {
    w.str(root["console"]["dir"], "console.dir", c.console_dir);
    c.console_dir = resolve(base, c.console_dir);
    w.integer(root["console"]["session_ttl_seconds"], "console.session_ttl_seconds",
              c.console_session_ttl_seconds, 5, 7 * 86400);
  }
}

void parse_webhooks(Walker &w, const YAML::Node &root, const std::string &base, DaemonConfig &c) {
  const YAML::Node &hooks = root["webhooks"];
  if (hooks.IsDefined() && !hooks.IsNull()) {
    if (!hooks.IsSequence()) {
      w.error(hooks, "webhooks", "expected a list, got " + Walker::kind(hooks));
    } else {
      std::set<std::string> names;
      for (size_t i = 0; i < hooks.size(); ++i) {
        std::string p = "webhooks[" + std::to_string(i) + "]";
        const YAML::Node &h = hooks[i];
        WebhookConfig wh;
        if (!w.mapping(h, p,
                       {"name", "url", "secret", "secret_file", "events", "timeout_seconds",
                        "max_attempts", "backoff"})) {
          if (!h.IsDefined() || h.IsNull()) w.error(h, p, "expected a mapping, got nothing");
          continue;
        }
        w.str(h["url"], p + ".url", wh.url);
        if (!h["url"].IsDefined())
          w.error(h, p + ".url", "is required");
        else if (!http_url(wh.url))
          w.error(h["url"], p + ".url",
                  "expected an http:// or https:// URL, got '" + wh.url + "'");
        w.str(h["name"], p + ".name", wh.name);
        if (wh.name.empty()) wh.name = wh.url;
        if (!names.insert(wh.name).second)
          w.error(h["name"].IsDefined() ? h["name"] : h, p + ".name",
                  "duplicate webhook name '" + wh.name + "'");
        bool has_secret = h["secret"].IsDefined(), has_file = h["secret_file"].IsDefined();
        if (has_secret && has_file) {
          w.error(h["secret_file"], p + ".secret_file",
                  "give either secret or secret_file, not both");
        } else if (!has_secret && !has_file) {
          w.error(h, p + ".secret", "is required (or secret_file): deliveries are signed");
        } else if (has_secret) {
          w.str(h["secret"], p + ".secret", wh.secret);
        } else if (w.str(h["secret_file"], p + ".secret_file", wh.secret_file)) {
          wh.secret_file = resolve(base, wh.secret_file);
          std::string text, err;
          if (!read_file(wh.secret_file, text, &err)) {
            w.error(h["secret_file"], p + ".secret_file", err);
            has_file = false;
          } else {
            auto lines = split(text, '\n');
            wh.secret = lines.empty() ? std::string() : trim(lines[0]);
          }
        }
        if ((has_secret || has_file) && wh.secret.size() < 16)
          w.error(h[has_secret ? "secret" : "secret_file"],
                  p + (has_secret ? ".secret" : ".secret_file"),
                  "the secret must be at least 16 characters");
        w.string_list(h["events"], p + ".events", wh.events);
        w.number(h["timeout_seconds"], p + ".timeout_seconds", wh.timeout_seconds, 0.1, 300);
        w.integer(h["max_attempts"], p + ".max_attempts", wh.max_attempts, 1, 1000);
        parse_backoff(w, h["backoff"], p + ".backoff", wh.backoff);
        c.webhooks.push_back(std::move(wh));
      }
    }
  }
}

void parse_worker(Walker &w, const YAML::Node &root, DaemonConfig &c) {
  if (w.mapping(root["worker"], "worker",
                {"memory_mb", "cpu_seconds", "cpu_quota_percent", "restart_backoff",
                 "restart_reset_seconds", "heartbeat", "channels_per_process", "group_transcode",
                 "nice", "sched_batch"})) {
    const auto &wk = root["worker"];
    w.integer(wk["memory_mb"], "worker.memory_mb", c.worker_memory_mb, 0, 1 << 20);
    if (c.worker_memory_mb > 0 && c.worker_memory_mb < 64)
      w.error(wk["memory_mb"], "worker.memory_mb",
              "must be 0 (unlimited) or at least 64: a pipeline does not start below that");
    w.integer(wk["cpu_seconds"], "worker.cpu_seconds", c.worker_cpu_seconds, 0, 1 << 30);
    w.integer(wk["channels_per_process"], "worker.channels_per_process",
              c.worker_channels_per_process, 1, 1000);
    w.boolean(wk["group_transcode"], "worker.group_transcode", c.worker_group_transcode);
    w.integer(wk["nice"], "worker.nice", c.worker_nice, 0, 19);
    w.boolean(wk["sched_batch"], "worker.sched_batch", c.worker_sched_batch);
    w.integer(wk["cpu_quota_percent"], "worker.cpu_quota_percent", c.worker_cpu_quota_percent, 0,
              100 * 1024);
    parse_backoff(w, wk["restart_backoff"], "worker.restart_backoff", c.restart_backoff);
    w.number(wk["restart_reset_seconds"], "worker.restart_reset_seconds", c.restart_reset_seconds,
             1, 86400);
    if (w.mapping(wk["heartbeat"], "worker.heartbeat", {"interval_ms", "timeout_ms"})) {
      const auto &hb = wk["heartbeat"];
      w.integer(hb["interval_ms"], "worker.heartbeat.interval_ms", c.heartbeat_interval_ms, 50,
                60000);
      w.integer(hb["timeout_ms"], "worker.heartbeat.timeout_ms", c.heartbeat_timeout_ms, 100,
                600000);
      if (c.heartbeat_timeout_ms < 2 * c.heartbeat_interval_ms)
        w.error(hb["timeout_ms"].IsDefined() ? hb["timeout_ms"] : hb, "worker.heartbeat.timeout_ms",
                "must be at least twice interval_ms (" + std::to_string(c.heartbeat_interval_ms) +
                    "), or one late heartbeat kills a healthy worker");
    }
  }
}

void parse_log_retention_node(Walker &w, const YAML::Node &root, DaemonConfig &c) {
  if (w.mapping(root["log"], "log", {"format", "level"})) {
    w.choice(root["log"]["format"], "log.format", {"text", "json"}, c.log_format);
    w.choice(root["log"]["level"], "log.level", {"debug", "info", "warn", "error"}, c.log_level);
  }
  if (w.mapping(root["retention"], "retention", {"events_days", "audit_days"})) {
    w.integer(root["retention"]["events_days"], "retention.events_days", c.retention_events_days, 0,
              36500);
    w.integer(root["retention"]["audit_days"], "retention.audit_days", c.retention_audit_days, 0,
              36500);
  }
  if (w.mapping(root["node"], "node", {"name", "role"})) {
    w.str(root["node"]["name"], "node.name", c.node_name);
    w.choice(root["node"]["role"], "node.role", {"any", "edge", "cloud"}, c.node_role);
  }
  if (c.node_name.empty()) c.node_name = g_get_host_name();
}

// storage: where the live window and the catch-up archive live (docs/timeshift.md).
void parse_storage(Walker &w, const YAML::Node &root, const std::string &base, DaemonConfig &c) {
  const YAML::Node st = root["storage"];
  if (!st.IsDefined() || st.IsNull() ||
      !w.mapping(st, "storage", {"hot_dir", "warm_dir", "sweep_seconds", "archive"}))
    return;
  if (w.str(st["hot_dir"], "storage.hot_dir", c.storage_hot_dir) && !c.storage_hot_dir.empty())
    c.storage_hot_dir = resolve(base, c.storage_hot_dir);
  if (w.str(st["warm_dir"], "storage.warm_dir", c.storage_warm_dir) && !c.storage_warm_dir.empty())
    c.storage_warm_dir = resolve(base, c.storage_warm_dir);
  w.integer(st["sweep_seconds"], "storage.sweep_seconds", c.storage_sweep_seconds, 1, 3600);
  const YAML::Node ar = st["archive"];
  if (!ar.IsDefined() || ar.IsNull() ||
      !w.mapping(ar, "storage.archive",
                 {"endpoint", "bucket", "region", "prefix", "credentials_file", "cache_dir",
                  "cache_megabytes", "period_seconds", "warm_keep_seconds"}))
    return;
  if (w.str(ar["endpoint"], "storage.archive.endpoint", c.archive_endpoint, true) &&
      !http_url(c.archive_endpoint))
    w.error(ar["endpoint"], "storage.archive.endpoint",
            "expected an http:// or https:// URL, got '" + c.archive_endpoint + "'");
  w.str(ar["bucket"], "storage.archive.bucket", c.archive_bucket, true);
  w.str(ar["region"], "storage.archive.region", c.archive_region);
  w.str(ar["prefix"], "storage.archive.prefix", c.archive_prefix);
  if (w.str(ar["credentials_file"], "storage.archive.credentials_file", c.archive_credentials_file,
            true))
    c.archive_credentials_file = resolve(base, c.archive_credentials_file);
  if (w.str(ar["cache_dir"], "storage.archive.cache_dir", c.archive_cache_dir) &&
      !c.archive_cache_dir.empty())
    c.archive_cache_dir = resolve(base, c.archive_cache_dir);
  w.integer(ar["cache_megabytes"], "storage.archive.cache_megabytes", c.archive_cache_megabytes, 1,
            1 << 20);
  w.number(ar["period_seconds"], "storage.archive.period_seconds", c.archive_period_seconds, 1,
           86400);
  w.number(ar["warm_keep_seconds"], "storage.archive.warm_keep_seconds",
           c.archive_warm_keep_seconds, 0, 86400.0 * 3650);
}

// cluster: etcd URLs, the node lease, this node's id and advertised URL (docs/cluster.md).
bool node_id_ok(const std::string &id) {
  if (id.empty() || id.size() > 128) return false;
  for (char ch : id)
    if (!(g_ascii_isalnum(ch) || ch == '-' || ch == '_' || ch == '.')) return false;
  return true;
}

void parse_cluster(Walker &w, const YAML::Node &root, DaemonConfig &c) {
  const YAML::Node cl = root["cluster"];
  if (!cl.IsDefined() || cl.IsNull()) return;
  if (!w.mapping(cl, "cluster",
                 {"etcd", "lease_ttl_seconds", "node_id", "advertise_url", "ca_file", "cert_file",
                  "key_file", "username", "password_file"}))
    return;
  ClusterConfig &k = c.cluster;
  k.enabled = true;
  if (!cl["etcd"].IsDefined()) {
    w.error(cl, "cluster.etcd", "is required: the etcd client URLs (http://host:2379)");
  } else if (w.string_list(cl["etcd"], "cluster.etcd", k.etcd)) {
    if (k.etcd.empty()) w.error(cl["etcd"], "cluster.etcd", "must list at least one etcd URL");
    for (size_t i = 0; i < k.etcd.size(); ++i) {
      while (!k.etcd[i].empty() && k.etcd[i].back() == '/') k.etcd[i].pop_back();
      std::string why = base_url_problem(k.etcd[i]);
      if (why.empty() && starts_with(k.etcd[i], "https://"))
        why = "https is not supported yet: use http:// (etcd on loopback or a private network)";
      if (!why.empty()) w.error(cl["etcd"][i], "cluster.etcd[" + std::to_string(i) + "]", why);
    }
  }
  // etcd TLS and authentication: named, and refused until the client supports them (a first
  // attempt hung in the TLS handshake: docs/cluster.md, "Not done yet").
  for (const char *key : {"ca_file", "cert_file", "key_file", "username", "password_file"})
    if (cl[key].IsDefined())
      w.error(cl[key], std::string("cluster.") + key,
              "is not supported yet: etcd over TLS and etcd authentication are not implemented "
              "(docs/cluster.md)");
  w.integer(cl["lease_ttl_seconds"], "cluster.lease_ttl_seconds", k.lease_ttl_seconds, 2, 3600);
  if (w.str(cl["node_id"], "cluster.node_id", k.node_id) && cl["node_id"].IsDefined() &&
      !node_id_ok(k.node_id))
    w.error(cl["node_id"], "cluster.node_id",
            "must be 1 to 128 letters, digits, '.', '-' or '_' (it is a key in etcd), got '" +
                k.node_id + "'");
  if (w.str(cl["advertise_url"], "cluster.advertise_url", k.advertise_url) &&
      !k.advertise_url.empty()) {
    while (!k.advertise_url.empty() && k.advertise_url.back() == '/') k.advertise_url.pop_back();
    std::string why = base_url_problem(k.advertise_url);
    if (!why.empty()) w.error(cl["advertise_url"], "cluster.advertise_url", why);
  }
  // Inconsistent: node.name and cluster.node_id name the same node.
  const YAML::Node node = root["node"];
  YAML::Node nn;
  if (node.IsDefined() && node.IsMap() && node["name"].IsDefined()) nn = node["name"];
  if (cl["node_id"].IsDefined() && nn.IsDefined() && nn.IsScalar() &&
      !nn.as<std::string>().empty() && nn.as<std::string>() != k.node_id)
    w.error(cl["node_id"], "cluster.node_id",
            "'" + k.node_id + "' differs from node.name '" + nn.as<std::string>() +
                "': they name the same node (give one, or the same value)");
}

void parse_impl(const YAML::Node &root, const std::string &file, DaemonConfig &c,
                std::vector<LoadError> &errors) {
  Walker w(file, errors);
  std::string base = file.empty() ? std::string() : fs::path(file).parent_path().string();
  if (!root.IsDefined() || root.IsNull()) return;  // an empty file: all defaults
  if (!w.mapping(root, "", kTopKeys)) return;

  parse_listen_and_dirs(w, root, base, c);
  parse_tokens(w, root, base, c);
  parse_sessions_and_api(w, root, c);
  parse_console(w, root, base, c);
  parse_webhooks(w, root, base, c);
  parse_worker(w, root, c);
  parse_log_retention_node(w, root, c);
  parse_storage(w, root, base, c);
  // encryption: the master key that wraps AES-128 content keys (docs/encryption.md).
  const YAML::Node en = root["encryption"];
  if (en.IsDefined() && !en.IsNull() && w.mapping(en, "encryption", {"master_key_file"}) &&
      w.str(en["master_key_file"], "encryption.master_key_file", c.encryption_master_key_file) &&
      !c.encryption_master_key_file.empty())
    c.encryption_master_key_file = resolve(base, c.encryption_master_key_file);
  parse_cluster(w, root, c);
  if (c.cluster.enabled && c.cluster.node_id.empty()) {
    c.cluster.node_id = c.node_name;
    c.cluster.node_id_from_node_name = true;
    if (!node_id_ok(c.cluster.node_id))
      w.error(root["cluster"], "cluster.node_id",
              "is required: node.name / the host name '" + c.cluster.node_id +
                  "' is not usable as an etcd key (letters, digits, '.', '-', '_')");
  }
}

}  // namespace

std::vector<std::string> DaemonConfig::secrets() const {
  std::vector<std::string> out;
  for (const auto &w : webhooks)
    if (!w.secret.empty()) out.push_back(w.secret);
  return out;
}

bool is_loopback_address(const std::string &address) {
  std::string a = address;
  if (a.size() > 2 && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
  if (a == "localhost" || a == "::1") return true;
  // 127.0.0.0/8, dotted quad only.
  unsigned o[4];
  char tail;
  if (std::sscanf(a.c_str(), "%u.%u.%u.%u%c", &o[0], &o[1], &o[2], &o[3], &tail) != 4) return false;
  for (unsigned v : o)
    if (v > 255) return false;
  return o[0] == 127;
}

std::string DaemonConfig::insecure_listen_error() const {
  if (token_mode != "none" || token_allow_insecure_public || is_loopback_address(listen_address))
    return "";
  return "tokens.mode is none and listen.address " + listen_address +
         " is not a loopback address: every channel would be served to anyone who can reach it. "
         "Turn tokens on (tokens.mode: edgeauth), listen on 127.0.0.1, or set "
         "tokens.allow_insecure_public: true to serve without tokens on purpose";
}

std::string DaemonConfig::effective_base_url() const {
  if (!public_base_url.empty()) {
    std::string u = public_base_url;
    while (!u.empty() && u.back() == '/') u.pop_back();
    return u;
  }
  std::string host = listen_address;
  if (host == "0.0.0.0" || host == "::" || host.empty()) host = "127.0.0.1";
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(listen_port);
}

DaemonConfig default_daemon_config() {
  DaemonConfig c;
  c.node_name = g_get_host_name();
  return c;
}

DaemonConfigResult parse_daemon_config(std::string_view yaml_text, const std::string &file) {
  DaemonConfigResult r;
  r.config.file = file;
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    parse_impl(root, file, r.config, r.errors);
  } catch (const YAML::Exception &e) {
    LoadError err;
    err.file = file.empty() ? "<config>" : file;
    err.line = e.mark.line >= 0 ? e.mark.line + 1 : 0;
    err.column = e.mark.column >= 0 ? e.mark.column + 1 : 0;
    err.message = "not valid YAML: " + e.msg;
    r.errors.push_back(err);
  }
  return r;
}

DaemonConfigResult load_daemon_config(const std::string &path) {
  std::string text, err;
  if (!read_file(path, text, &err)) {
    DaemonConfigResult r;
    r.config = default_daemon_config();
    r.config.file = path;
    LoadError e;
    e.file = path;
    e.message = err;
    r.errors.push_back(e);
    return r;
  }
  return parse_daemon_config(text, path);
}

}  // namespace iptv::config
