// Daemon config: defaults, the sample at the repository root, every key, and strict errors with
// file:line:col: path: message.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/daemon_config.h"
#include "test_support.h"

using iptv::config::load_daemon_config;
using iptv::config::parse_daemon_config;

namespace {

std::string errors_of(const iptv::config::DaemonConfigResult &r) {
  std::string s;
  for (auto &e : r.errors) s += e.str() + "\n";
  return s;
}

void write(const std::string &path, const std::string &text) {
  std::ofstream f(path);
  f << text;
}

}  // namespace

TEST(DaemonConfig, DefaultsNeedNoFile) {
  auto c = iptv::config::default_daemon_config();
  EXPECT_EQ(c.listen_address, "0.0.0.0");
  EXPECT_EQ(c.listen_port, 8080);
  EXPECT_EQ(c.channels_dir, "channels");
  EXPECT_EQ(c.data_dir, "var");
  EXPECT_EQ(c.token_mode, "edgeauth");     // issue 21: tokens on by default
  EXPECT_TRUE(c.token_keys_file.empty());  // iptvd creates data_dir/token.keys
  EXPECT_FALSE(c.token_allow_insecure_public);
  EXPECT_TRUE(c.webhooks.empty());
  EXPECT_EQ(c.log_format, "text");
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.node_name.empty());
  EXPECT_EQ(c.effective_base_url(), "http://127.0.0.1:8080");
  auto empty = parse_daemon_config("", "empty.yaml");
  EXPECT_TRUE(empty.ok()) << errors_of(empty);
  EXPECT_EQ(empty.config.listen_port, 8080);
  auto comments = parse_daemon_config("# nothing but a comment\n", "c.yaml");
  EXPECT_TRUE(comments.ok()) << errors_of(comments);
}

// The HTTP server's connection limits (issue 24): read, range-checked, and documented in the
// sample with their defaults.
TEST(DaemonConfig, ListenTimeoutsAndBacklog) {
  auto d = iptv::config::default_daemon_config();
  EXPECT_EQ(d.listen_idle_timeout_seconds, 30);
  EXPECT_EQ(d.listen_header_timeout_seconds, 10);
  EXPECT_EQ(d.listen_backlog, 4096);
  auto ok = parse_daemon_config(
      "listen:\n  idle_timeout_seconds: 5\n  header_timeout_seconds: 3\n  backlog: 512\n",
      "l.yaml");
  ASSERT_TRUE(ok.ok()) << errors_of(ok);
  EXPECT_EQ(ok.config.listen_idle_timeout_seconds, 5);
  EXPECT_EQ(ok.config.listen_header_timeout_seconds, 3);
  EXPECT_EQ(ok.config.listen_backlog, 512);
  auto bad = parse_daemon_config(
      "listen:\n  idle_timeout_seconds: 0\n  header_timeout_seconds: -1\n  backlog: 1\n", "l.yaml");
  std::string e = errors_of(bad);
  EXPECT_NE(e.find("listen.idle_timeout_seconds"), std::string::npos) << e;
  EXPECT_NE(e.find("listen.header_timeout_seconds"), std::string::npos) << e;
  EXPECT_NE(e.find("listen.backlog"), std::string::npos) << e;
  auto sample = load_daemon_config(iptv_test::source_root() + "/iptvd.example.yaml");
  ASSERT_TRUE(sample.ok()) << errors_of(sample);
  EXPECT_EQ(sample.config.listen_idle_timeout_seconds, d.listen_idle_timeout_seconds);
  EXPECT_EQ(sample.config.listen_header_timeout_seconds, d.listen_header_timeout_seconds);
  EXPECT_EQ(sample.config.listen_backlog, d.listen_backlog);
}

// Serving threads and the control plane's own address (issue 15).
TEST(DaemonConfig, ListenThreadsAndApiListenAddress) {
  auto d = iptv::config::default_daemon_config();
  EXPECT_EQ(d.listen_threads, 0);
  EXPECT_EQ(d.api_listen_address, "");
  auto ok = parse_daemon_config(
      "listen:\n  threads: 4\napi:\n  listen_address: 127.0.0.1\n  listen_port: 9000\n", "t.yaml");
  ASSERT_TRUE(ok.ok()) << errors_of(ok);
  EXPECT_EQ(ok.config.listen_threads, 4);
  EXPECT_EQ(ok.config.api_listen_address, "127.0.0.1");
  EXPECT_EQ(ok.config.api_listen_port, 9000);
  std::string e = errors_of(parse_daemon_config("listen:\n  threads: 1000\n", "t.yaml"));
  EXPECT_NE(e.find("listen.threads"), std::string::npos) << e;
  e = errors_of(parse_daemon_config("api:\n  listen_port: 9000\n", "t.yaml"));
  EXPECT_NE(e.find("api.listen_port"), std::string::npos) << e;
  auto sample = load_daemon_config(iptv_test::source_root() + "/iptvd.example.yaml");
  ASSERT_TRUE(sample.ok()) << errors_of(sample);
  EXPECT_EQ(sample.config.listen_threads, d.listen_threads);
}

TEST(DaemonConfig, TheSampleAtTheRepositoryRootLoadsWithItsDocumentedDefaults) {
  std::string path = iptv_test::source_root() + "/iptvd.example.yaml";
  auto r = load_daemon_config(path);
  ASSERT_TRUE(r.ok()) << errors_of(r);
  auto d = iptv::config::default_daemon_config();
  const auto &c = r.config;
  EXPECT_EQ(c.listen_address, d.listen_address);
  EXPECT_EQ(c.listen_port, d.listen_port);
  EXPECT_EQ(c.token_mode, d.token_mode);
  EXPECT_EQ(c.token_ttl_seconds, d.token_ttl_seconds);
  EXPECT_EQ(c.token_edge_auth_cache_seconds, d.token_edge_auth_cache_seconds);
  EXPECT_EQ(c.token_keys_file, d.token_keys_file);
  EXPECT_EQ(c.token_allow_insecure_public, d.token_allow_insecure_public);
  EXPECT_EQ(c.heartbeat_interval_ms, d.heartbeat_interval_ms);
  EXPECT_EQ(c.heartbeat_timeout_ms, d.heartbeat_timeout_ms);
  EXPECT_EQ(c.restart_backoff.initial_seconds, d.restart_backoff.initial_seconds);
  EXPECT_EQ(c.restart_backoff.max_seconds, d.restart_backoff.max_seconds);
  EXPECT_EQ(c.retention_events_days, d.retention_events_days);
  EXPECT_EQ(c.retention_audit_days, d.retention_audit_days);
  EXPECT_EQ(c.node_role, d.node_role);
  EXPECT_EQ(c.channels_dir, iptv_test::source_root() + "/channels");  // relative to the file
  EXPECT_EQ(c.data_dir, iptv_test::source_root() + "/var");

  // The commented webhook example is valid too once uncommented.
  std::string text;
  {
    std::ifstream f(path);
    std::string line;
    while (std::getline(f, line)) {
      if (line == "webhooks: []") line = "webhooks:";
      if (line.rfind("#  ", 0) == 0) line = line.substr(1);
      text += line + "\n";
    }
  }
  iptv_test::TempDir dir;
  std::filesystem::create_directories(dir.path() + "/secrets");
  write(dir.path() + "/secrets/ops-webhook", "0123456789abcdef0123\n");
  write(dir.path() + "/iptvd.yaml", text);
  auto u = load_daemon_config(dir.path() + "/iptvd.yaml");
  ASSERT_TRUE(u.ok()) << errors_of(u);
  ASSERT_EQ(u.config.webhooks.size(), 1u);
  const auto &w = u.config.webhooks[0];
  EXPECT_EQ(w.name, "ops");
  EXPECT_EQ(w.url, "https://ops.example.net/iptv-events");
  EXPECT_EQ(w.secret, "0123456789abcdef0123");
  EXPECT_EQ(w.secret_file, dir.path() + "/secrets/ops-webhook");
  EXPECT_EQ(w.events.size(), 4u);
  EXPECT_EQ(w.max_attempts, 12);
  EXPECT_EQ(w.backoff.max_seconds, 600);
  EXPECT_EQ(u.config.secrets(), std::vector<std::string>{"0123456789abcdef0123"});
}

TEST(DaemonConfig, EveryKeyIsRead) {
  iptv_test::TempDir dir;
  std::string text = R"(listen:
  address: 127.0.0.1
  port: 9090
public_base_url: https://tv.example.net/
channels_dir: /srv/channels
data_dir: state
tokens:
  mode: edgeauth
  keys_file: keys.txt
  ttl_seconds: 600
  edge_auth_cache_seconds: 2
webhooks:
  - url: http://127.0.0.1:9999/hook
    secret: abcdefghijklmnopqrstuvwxyz
    events: [failover.activated]
    timeout_seconds: 2.5
    max_attempts: 3
    backoff: {initial_seconds: 0.1, max_seconds: 1, jitter: 0.5}
worker:
  memory_mb: 512
  cpu_seconds: 3600
  cpu_quota_percent: 150
  restart_backoff: {initial_seconds: 0.5, max_seconds: 30, jitter: 0.1}
  restart_reset_seconds: 120
  heartbeat: {interval_ms: 500, timeout_ms: 3000}
log: {format: json, level: debug}
retention: {events_days: 7, audit_days: 365}
node: {name: venue-1, role: edge}
)";
  auto r = parse_daemon_config(text, dir.path() + "/iptvd.yaml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const auto &c = r.config;
  EXPECT_EQ(c.listen_address, "127.0.0.1");
  EXPECT_EQ(c.listen_port, 9090);
  EXPECT_EQ(c.effective_base_url(), "https://tv.example.net");
  EXPECT_EQ(c.channels_dir, "/srv/channels");
  EXPECT_EQ(c.data_dir, dir.path() + "/state");
  EXPECT_EQ(c.token_mode, "edgeauth");
  EXPECT_EQ(c.token_keys_file, dir.path() + "/keys.txt");
  EXPECT_EQ(c.token_ttl_seconds, 600);
  EXPECT_EQ(c.token_edge_auth_cache_seconds, 2);
  ASSERT_EQ(c.webhooks.size(), 1u);
  EXPECT_EQ(c.webhooks[0].name, "http://127.0.0.1:9999/hook");
  EXPECT_EQ(c.webhooks[0].events, std::vector<std::string>{"failover.activated"});
  EXPECT_DOUBLE_EQ(c.webhooks[0].timeout_seconds, 2.5);
  EXPECT_EQ(c.webhooks[0].max_attempts, 3);
  EXPECT_DOUBLE_EQ(c.webhooks[0].backoff.initial_seconds, 0.1);
  EXPECT_DOUBLE_EQ(c.webhooks[0].backoff.jitter, 0.5);
  EXPECT_EQ(c.worker_memory_mb, 512);
  EXPECT_EQ(c.worker_cpu_seconds, 3600);
  EXPECT_EQ(c.worker_cpu_quota_percent, 150);
  EXPECT_DOUBLE_EQ(c.restart_backoff.initial_seconds, 0.5);
  EXPECT_DOUBLE_EQ(c.restart_reset_seconds, 120);
  EXPECT_EQ(c.heartbeat_interval_ms, 500);
  EXPECT_EQ(c.heartbeat_timeout_ms, 3000);
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.retention_events_days, 7);
  EXPECT_EQ(c.retention_audit_days, 365);
  EXPECT_EQ(c.node_name, "venue-1");
  EXPECT_EQ(c.node_role, "edge");
}

TEST(DaemonConfig, ErrorsArePositionedAndAllReported) {
  std::string text = R"(listen:
  adress: 0.0.0.0
  port: 70000
tokens:
  mode: edgeauht
log:
  format: xml
webhooks:
  - url: ftp://x
    secrte: abc
  - url: http://a/b
    secret: short
worker:
  heartbeat: {interval_ms: 1000, timeout_ms: 1500}
  restart_backoff: {initial_seconds: 10, max_seconds: 5}
retention:
  events_days: -1
node:
  role: cloud
  extra: 1
)";
  auto r = parse_daemon_config(text, "iptvd.yaml");
  std::string all = errors_of(r);
  auto has = [&](const std::string &s) { return all.find(s) != std::string::npos; };
  EXPECT_TRUE(has("iptvd.yaml:2:3: listen.adress: unknown key 'adress' (did you mean 'address'?)"))
      << all;
  EXPECT_TRUE(has("iptvd.yaml:3:9: listen.port: must be between 0 and 65535, got 70000")) << all;
  EXPECT_TRUE(has("iptvd.yaml:5:9: tokens.mode: unknown value 'edgeauht'")) << all;
  EXPECT_TRUE(has("did you mean 'edgeauth'?")) << all;
  EXPECT_TRUE(has("iptvd.yaml:7:11: log.format: unknown value 'xml'")) << all;
  EXPECT_TRUE(has("iptvd.yaml:9:10: webhooks[0].url: expected an http:// or https:// URL")) << all;
  EXPECT_TRUE(
      has("iptvd.yaml:10:5: webhooks[0].secrte: unknown key 'secrte' (did you mean "
          "'secret'?)"))
      << all;
  EXPECT_TRUE(has("webhooks[0].secret: is required (or secret_file)")) << all;
  EXPECT_TRUE(has("iptvd.yaml:12:13: webhooks[1].secret: the secret must be at least 16")) << all;
  EXPECT_TRUE(has("worker.heartbeat.timeout_ms: must be at least twice interval_ms")) << all;
  EXPECT_TRUE(has("worker.restart_backoff.max_seconds: must not be below initial_seconds")) << all;
  EXPECT_TRUE(has("retention.events_days: must be between 0 and 36500, got -1")) << all;
  EXPECT_TRUE(has("iptvd.yaml:20:3: node.extra: unknown key 'extra'")) << all;
  EXPECT_EQ(r.errors.size(), 12u) << all;
}

TEST(DaemonConfig, TypeErrorsAndUnreadableInputs) {
  auto a = parse_daemon_config("listen: [1, 2]\nwebhooks: {url: x}\n", "a.yaml");
  std::string all = errors_of(a);
  EXPECT_NE(all.find("a.yaml:1:9: listen: expected a mapping, got a list"), std::string::npos)
      << all;
  EXPECT_NE(all.find("a.yaml:2:11: webhooks: expected a list, got a mapping"), std::string::npos)
      << all;
  auto b = parse_daemon_config("listen: {port: [\n", "b.yaml");
  ASSERT_FALSE(b.ok());
  EXPECT_NE(errors_of(b).find("b.yaml:"), std::string::npos);
  EXPECT_NE(errors_of(b).find("not valid YAML"), std::string::npos);
  auto c = parse_daemon_config("- just\n- a list\n", "c.yaml");
  EXPECT_NE(errors_of(c).find("expected a mapping, got a list"), std::string::npos);
  auto d = parse_daemon_config("tokens: {mode: securelink}\n", "d.yaml");
  EXPECT_NE(errors_of(d).find("tokens.keys_file: is required when tokens.mode is securelink"),
            std::string::npos)
      << errors_of(d);
  auto e = parse_daemon_config(
      "webhooks:\n  - {url: 'http://h/x', secret_file: /nonexistent/secret}\n", "e.yaml");
  EXPECT_NE(errors_of(e).find("e.yaml:2:38: webhooks[0].secret_file:"), std::string::npos)
      << errors_of(e);
  auto f = parse_daemon_config(
      "webhooks:\n  - {url: 'http://h/x', secret: 0123456789abcdefg}\n"
      "  - {url: 'http://h/x', secret: 0123456789abcdefg}\n",
      "f.yaml");
  EXPECT_NE(errors_of(f).find("duplicate webhook name 'http://h/x'"), std::string::npos)
      << errors_of(f);
  auto g = load_daemon_config("/nonexistent/iptvd.yaml");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(errors_of(g).find("/nonexistent/iptvd.yaml"), std::string::npos);
  auto h = parse_daemon_config("listen:\n  port: 80\n  port: 81\n", "h.yaml");
  EXPECT_NE(errors_of(h).find("duplicate key 'port'"), std::string::npos) << errors_of(h);
}

// Robustness: truncations and byte mutations of the sample never throw or crash; they either
// load or come back with positioned errors.
TEST(DaemonConfig, MutatedSamplesNeverThrow) {
  std::ifstream f(iptv_test::source_root() + "/iptvd.example.yaml");
  std::string sample((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(sample.size(), 500u);
  const std::string alphabet = ":-[]{}#'\"\n\t &*!|>%@`,?0123456789abcxyz";
  uint32_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  int loaded = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = sample;
    if (i % 3 == 0) t.resize(rnd() % t.size());
    int flips = 1 + static_cast<int>(rnd() % 4);
    for (int k = 0; k < flips && !t.empty(); ++k)
      t[rnd() % t.size()] = alphabet[rnd() % alphabet.size()];
    iptv::config::DaemonConfigResult r;
    ASSERT_NO_THROW(r = parse_daemon_config(t, "fuzz.yaml")) << t;
    if (r.ok()) {
      ++loaded;
    } else {
      ++rejected;
      for (auto &e : r.errors) ASSERT_FALSE(e.message.empty());
    }
  }
  EXPECT_GT(loaded, 0);
  EXPECT_GT(rejected, 0);
}

// Issue 24: the public base URL prefixes every URL handed out, so it is checked hard; the session
// cap and the API body cap are read with their ranges.
TEST(DaemonConfig, PublicBaseUrlSessionsAndApiLimits) {
  auto r = parse_daemon_config(
      "public_base_url: https://tv.example.com/live/\nsessions: {max_per_subject: 50}\n"
      "api: {max_body_bytes: 65536}\n",
      "iptvd.yaml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config.effective_base_url(), "https://tv.example.com/live");
  EXPECT_EQ(r.config.sessions_max_per_subject, 50);
  EXPECT_EQ(r.config.api_max_body_bytes, 65536);
  auto d = parse_daemon_config("", "iptvd.yaml");
  EXPECT_EQ(d.config.sessions_max_per_subject, 1000);
  EXPECT_EQ(d.config.api_max_body_bytes, 1 << 20);
  EXPECT_EQ(d.config.effective_base_url(), "http://127.0.0.1:8080");
  for (const std::string bad :
       {"http://tv.example.com/?a=b", "http://tv.example.com/#x", "http://u:p@tv.example.com",
        "'http://tv.example.com/a b'", "'http://tv.example.com/\"x'", "ftp://tv.example.com"}) {
    auto e = parse_daemon_config("public_base_url: " + bad + "\n", "iptvd.yaml");
    EXPECT_FALSE(e.ok()) << bad;
    EXPECT_NE(errors_of(e).find("iptvd.yaml:1:18: public_base_url: "), std::string::npos)
        << errors_of(e);
  }
  auto e = parse_daemon_config("sessions: {max_per_subject: 0}\napi: {max_body_bytes: 10}\n",
                               "iptvd.yaml");
  EXPECT_NE(errors_of(e).find("sessions.max_per_subject: must be between 1 and "),
            std::string::npos)
      << errors_of(e);
  EXPECT_NE(errors_of(e).find("api.max_body_bytes: must be between 1024 and "), std::string::npos)
      << errors_of(e);
}

// Issue 21 item 1: tokens are on unless "none" is written; "none" on a public address needs
// tokens.allow_insecure_public.
TEST(DaemonConfig, SecureByDefault) {
  using iptv::config::is_loopback_address;
  for (const char *a : {"127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"})
    EXPECT_TRUE(is_loopback_address(a)) << a;
  for (const char *a : {"0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "128.0.0.1", "127.0.0.1x",
                        "127.0.0.256", "example.org", ""})
    EXPECT_FALSE(is_loopback_address(a)) << a;

  // Defaults: edgeauth with no key file is fine (iptvd creates one), on any address.
  auto d = parse_daemon_config("listen: {address: 0.0.0.0}\n", "d.yaml");
  ASSERT_TRUE(d.ok()) << errors_of(d);
  EXPECT_EQ(d.config.token_mode, "edgeauth");
  EXPECT_EQ(d.config.insecure_listen_error(), "");
  auto ea = parse_daemon_config("tokens: {mode: edgeauth}\n", "e.yaml");
  EXPECT_TRUE(ea.ok()) << errors_of(ea);

  // none on loopback: allowed (iptvd warns); on a public address: refused, with the way out.
  auto local =
      parse_daemon_config("listen: {address: 127.0.0.1}\ntokens: {mode: none}\n", "l.yaml");
  ASSERT_TRUE(local.ok()) << errors_of(local);
  EXPECT_EQ(local.config.insecure_listen_error(), "");
  auto pub = parse_daemon_config("tokens: {mode: none}\n", "p.yaml");  // listen 0.0.0.0
  ASSERT_TRUE(pub.ok()) << errors_of(pub);
  std::string why = pub.config.insecure_listen_error();
  EXPECT_NE(why.find("tokens.mode is none and listen.address 0.0.0.0 is not a loopback"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("tokens.allow_insecure_public: true"), std::string::npos) << why;
  auto allowed = parse_daemon_config(
      "listen: {address: 192.0.2.1}\ntokens: {mode: none, allow_insecure_public: true}\n",
      "a.yaml");
  ASSERT_TRUE(allowed.ok()) << errors_of(allowed);
  EXPECT_TRUE(allowed.config.token_allow_insecure_public);
  EXPECT_EQ(allowed.config.insecure_listen_error(), "");
  auto typo = parse_daemon_config("tokens: {allow_insecure_public: yes please}\n", "t.yaml");
  EXPECT_NE(errors_of(typo).find("tokens.allow_insecure_public"), std::string::npos)
      << errors_of(typo);
}

TEST(DaemonConfig, StorageArchiveKeysAndErrors) {
  auto ok = parse_daemon_config(R"(storage:
  archive:
    endpoint: https://s3.example.com:9000
    bucket: iptv
    region: eu-west-1
    prefix: a/
    credentials_file: s3.credentials
    period_seconds: 600
    warm_keep_seconds: 0
    cache_megabytes: 32
)",
                                "/etc/iptvd/iptvd.yaml");
  ASSERT_TRUE(ok.errors.empty()) << errors_of(ok);
  EXPECT_EQ(ok.config.archive_endpoint, "https://s3.example.com:9000");
  EXPECT_EQ(ok.config.archive_bucket, "iptv");
  EXPECT_EQ(ok.config.archive_region, "eu-west-1");
  EXPECT_EQ(ok.config.archive_prefix, "a/");
  EXPECT_EQ(ok.config.archive_credentials_file, "/etc/iptvd/s3.credentials");  // beside the file
  EXPECT_EQ(ok.config.archive_period_seconds, 600);
  EXPECT_EQ(ok.config.archive_warm_keep_seconds, 0);
  EXPECT_EQ(ok.config.archive_cache_megabytes, 32);
  EXPECT_TRUE(parse_daemon_config("", "x.yaml").config.archive_endpoint.empty());  // off

  auto bad = parse_daemon_config(R"(storage:
  archive:
    endpoint: s3.example.com
    period_seconds: 0
    bukcet: x
)",
                                 "iptvd.yaml");
  std::string all = errors_of(bad);
  auto has = [&](const std::string &s) { return all.find(s) != std::string::npos; };
  EXPECT_TRUE(has("iptvd.yaml:3:15: storage.archive.endpoint: expected an http:// or https:// URL"))
      << all;
  EXPECT_TRUE(has("storage.archive.bucket: is required")) << all;
  EXPECT_TRUE(has("storage.archive.credentials_file: is required")) << all;
  EXPECT_TRUE(has("iptvd.yaml:4:21: storage.archive.period_seconds: must be between 1 and 86400"))
      << all;
  EXPECT_TRUE(has("iptvd.yaml:5:5: storage.archive.bukcet: unknown key 'bukcet'")) << all;
}

// Issue 20: the cluster section (docs/cluster.md). Absent: alone; present: every key read,
// node_id defaults to node.name, trailing slashes dropped.
TEST(DaemonConfig, ClusterSection) {
  auto alone = parse_daemon_config("node: {name: a}\n", "c.yaml");
  ASSERT_TRUE(alone.ok()) << errors_of(alone);
  EXPECT_FALSE(alone.config.cluster.enabled);
  auto r = parse_daemon_config(
      "node: {name: node-a}\ncluster:\n  etcd: [http://127.0.0.1:2379/, http://10.0.0.2:2379]\n"
      "  lease_ttl_seconds: 5\n  advertise_url: http://10.0.0.11:8080/\n",
      "c.yaml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const auto &k = r.config.cluster;
  EXPECT_TRUE(k.enabled);
  EXPECT_EQ(k.etcd, (std::vector<std::string>{"http://127.0.0.1:2379", "http://10.0.0.2:2379"}));
  EXPECT_EQ(k.lease_ttl_seconds, 5);
  EXPECT_EQ(k.node_id, "node-a");
  EXPECT_EQ(k.advertise_url, "http://10.0.0.11:8080");
  auto same = parse_daemon_config("node: {name: n1}\ncluster: {etcd: [http://e:1], node_id: n1}\n",
                                  "c.yaml");
  EXPECT_TRUE(same.ok()) << errors_of(same);
  auto bad =
      parse_daemon_config("cluster: {etcd: [https://e:1], lease_ttl_seconds: 0}\n", "c.yaml");
  std::string e = errors_of(bad);
  EXPECT_NE(e.find("c.yaml:1:18: cluster.etcd[0]: https is not supported"), std::string::npos) << e;
  EXPECT_NE(e.find("cluster.lease_ttl_seconds"), std::string::npos) << e;
}

// Issue 23: worker.channels_per_process (1 by default: a process per channel).
TEST(DaemonConfig, ChannelsPerProcess) {
  auto def = parse_daemon_config("tokens:\n  mode: none\n", "d.yaml");
  ASSERT_TRUE(def.ok()) << errors_of(def);
  EXPECT_EQ(def.config.worker_channels_per_process, 1);
  EXPECT_FALSE(def.config.worker_group_transcode);
  auto ok = parse_daemon_config("worker:\n  channels_per_process: 25\n  group_transcode: true\n",
                                "g.yaml");
  ASSERT_TRUE(ok.ok()) << errors_of(ok);
  EXPECT_EQ(ok.config.worker_channels_per_process, 25);
  EXPECT_TRUE(ok.config.worker_group_transcode);
  std::string e = errors_of(parse_daemon_config("worker:\n  channels_per_process: 0\n", "z.yaml"));
  EXPECT_NE(e.find("z.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("worker.channels_per_process"), std::string::npos) << e;
}

// Issue 23: the workers' CPU priority below the daemon's (nice 5 by default; SCHED_BATCH when
// asked).
TEST(DaemonConfig, WorkerCpuPriority) {
  auto def = parse_daemon_config("tokens:\n  mode: none\n", "d.yaml");
  ASSERT_TRUE(def.ok()) << errors_of(def);
  EXPECT_EQ(def.config.worker_nice, 5);
  EXPECT_FALSE(def.config.worker_sched_batch);
  auto same = parse_daemon_config("worker:\n  nice: 0\n  sched_batch: true\n", "s.yaml");
  ASSERT_TRUE(same.ok()) << errors_of(same);
  EXPECT_EQ(same.config.worker_nice, 0);
  EXPECT_TRUE(same.config.worker_sched_batch);
  std::string e = errors_of(parse_daemon_config("worker:\n  nice: -5\n", "n.yaml"));
  EXPECT_NE(e.find("n.yaml:2"), std::string::npos) << e;
  EXPECT_NE(e.find("worker.nice: must be between 0 and 19, got -5"), std::string::npos) << e;
  e = errors_of(parse_daemon_config("worker:\n  sched_batch: maybe\n", "b.yaml"));
  EXPECT_NE(e.find("worker.sched_batch"), std::string::npos) << e;
}
