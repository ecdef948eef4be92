#include "daemon/app.h"

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

// ---- The running daemon: its pieces, in the order they start ----

// Owns iptvd's state: the store, the origin (and the API mounted on it), the channel manager and
// the main loop that everything but the HTTP server thread runs on. Members are declared in start
// order, so they are destroyed in reverse: the API first, the database last.
class App {
 public:
  App(config::DaemonConfig cfg, AppOptions opts, log::Logger &logger)
      : cfg_(std::move(cfg)), opts_(std::move(opts)), logger_(logger) {}
  ~App();

  // Store and webhooks, origin, main loop and its triggers, then every channel.
  bool start(std::string *error);
  void mount_api();
  void print_urls();
  // Runs the main loop until SIGTERM/SIGINT (graceful: ChannelManager::stop_all).
  int run();
  void stop_webhooks() {
    if (hooks_) hooks_->stop();  // before the store it reads goes away
  }
  // systemd's notifications (Type=notify, WatchdogSec=): read from the environment at the very
  // start, before any worker is spawned, so workers do not inherit them.
  void set_notifier(SdNotifier n) {
    service_ = std::make_unique<ServiceNotifier>(std::move(n), [this] { return status_line(); });
  }

 private:
  bool open_store(std::string *error);
  bool enable_object_tier(std::string *error);
  bool start_origin(std::string *error);
  // The origin as iptvd itself reaches it ("http://127.0.0.1:8080" for a wildcard address), and
  // a short token path segment for one of its channels ("" when tokens are off): the self-watch
  // and the diagnosis fetch the output the way viewers do.
  std::string local_origin_base() const {
    const std::string &addr = opts_.origin.address;
    std::string host = addr == "0.0.0.0" || addr.empty()                       ? "127.0.0.1"
                       : addr == "::" || addr == "[::]"                        ? "[::1]"
                       : addr.find(':') != std::string::npos && addr[0] != '[' ? "[" + addr + "]"
                                                                               : addr;
    return "http://" + host + ":" + std::to_string(origin_->port());
  }
  std::string local_token(const std::string &channel, int ttl) const {
    if (opts_.origin.mode == TokenMode::kNone) return "";
    std::string url = playback_url(opts_, channel, ttl);  // .../hls/<id>/<token>/index.m3u8
    std::string head = url.substr(0, url.rfind('/'));
    return head.substr(head.rfind('/') + 1);
  }
  void add_triggers();
  // "3 channels: 2 live, 1 failover" (systemd's STATUS=).
  std::string status_line() {
    if (!adapter_) return "starting";
    std::map<std::string, int> by_state;
    auto list = adapter_->list();
    for (const auto &ch : list) by_state[ch.state]++;
    std::string s = std::to_string(list.size()) + " channels";
    const char *sep = ": ";
    for (const auto &[state, n] : by_state) {
      s += sep + std::to_string(n) + " " + state;
      sep = ", ";
    }
    return s;
  }

  config::DaemonConfig cfg_;
  AppOptions opts_;
  log::Logger &logger_;
  std::unique_ptr<db::Db> db_;
  std::unique_ptr<store::StateStore> store_;
  std::unique_ptr<store::WebhookDeliverer> hooks_;
  std::unique_ptr<Origin> origin_;
  std::unique_ptr<ChannelManager> channels_;
  std::unique_ptr<Cluster> cluster_;         // channel ownership in etcd (with a `cluster` section)
  std::unique_ptr<ArchiveAdapter> archive_;  // catch-up: the warm tier and time-addressed URLs
  std::unique_ptr<keys::KeyStore> keys_;     // AES-128 content keys (wrapped, in the database)
  std::unique_ptr<SelfWatch> watch_;
  std::unique_ptr<control::ControlStore> cstore_;
  std::unique_ptr<ControlAdapter> adapter_;
  std::shared_ptr<viewers::ViewerStats> viewers_ = std::make_shared<viewers::ViewerStats>();
  std::unique_ptr<diagnose::Engine> diagnoser_;
  std::unique_ptr<control::ApiServer> api_;
  std::unique_ptr<ServiceNotifier> service_;
  GMainLoop *loop_ = nullptr;
};

App::~App() {
  api_.reset();
  diagnoser_.reset();
  adapter_.reset();
  cstore_.reset();
  if (origin_) origin_->set_timeshift_route(nullptr);  // no request reaches archive_ now
  if (origin_) origin_->set_key_route(nullptr);        // nor keys_
  if (archive_) archive_->stop();                      // before the channels it reads records from
  watch_.reset();                                      // its thread reads the channel manager
  cluster_.reset();   // its thread reads the channel manager; revokes the node lease
  channels_.reset();  // kills any worker still running
  archive_.reset();
  if (origin_) origin_->stop();
  if (loop_) g_main_loop_unref(loop_);
}

// storage.archive: the object tier. A credentials file that is missing, malformed or readable
// by others stops the start with its reason (never its content).
bool App::enable_object_tier(std::string *error) {
  archive::ObjectTierConfig oc;
  try {
    oc.s3.credentials = archive::load_s3_credentials(cfg_.archive_credentials_file);
  } catch (const std::exception &e) {
    *error = std::string("storage.archive.credentials_file: ") + e.what();
    return false;
  }
  logger_.add_secret(oc.s3.credentials.secret_access_key);
  oc.s3.endpoint = cfg_.archive_endpoint;
  oc.s3.bucket = cfg_.archive_bucket;
  oc.s3.region = cfg_.archive_region;
  oc.s3.prefix = cfg_.archive_prefix;
  oc.period_ms = static_cast<int64_t>(cfg_.archive_period_seconds * 1000);
  oc.warm_keep_ms = static_cast<int64_t>(cfg_.archive_warm_keep_seconds * 1000);
  oc.cache_dir =
      cfg_.archive_cache_dir.empty() ? opts_.data_dir + "/archive-cache" : cfg_.archive_cache_dir;
  oc.cache_bytes = static_cast<uint64_t>(cfg_.archive_cache_megabytes) << 20;
  oc.sweep_seconds = cfg_.storage_sweep_seconds;
  try {
    archive_->enable_object_tier(std::move(oc));
  } catch (const std::exception &e) {
    *error = std::string("storage.archive: ") + e.what();
    return false;
  }
  logger_.info("", "archive tier on",
               {{"endpoint", cfg_.archive_endpoint}, {"bucket", cfg_.archive_bucket}});
  return true;
}

bool App::start(std::string *error) {
  if (!open_store(error) || !start_origin(error)) return false;
  loop_ = g_main_loop_new(nullptr, FALSE);
  ManagerOptions mo = manager_options(cfg_, opts_, logger_);
  mo.hls_root = resolve_hot_root(cfg_.storage_hot_dir, opts_.data_dir, logger_);
  channels_ = std::make_unique<ChannelManager>(mo, *store_, *origin_, logger_);
  archive_ = std::make_unique<ArchiveAdapter>(
      *db_, cfg_.storage_warm_dir.empty() ? opts_.data_dir + "/warm" : cfg_.storage_warm_dir,
      cfg_.storage_sweep_seconds, *channels_);
  channels_->set_output_observer(archive_.get());
  if (!cfg_.archive_endpoint.empty() && !enable_object_tier(error)) return false;
  // AES-128: keys made per channel and key period (encryption_keys.h).
  try {
    keys_ = std::make_unique<keys::KeyStore>(*db_, opts_.master_key);
  } catch (const std::exception &e) {
    *error = std::string("key store: ") + e.what();
    return false;
  }
  {
    // A master key that does not open the stored keys (a rotation not followed by the config,
    // another node's file) would leave every encrypted channel without keys: refuse to start.
    std::string kerr;
    if (!keys_->master_opens(&kerr)) {
      *error = "encryption: " + kerr +
               " (encryption.master_key_file names another master key; after iptvd "
               "--rotate-master-key, name the new file; docs/encryption.md)";
      return false;
    }
  }
  wire_encryption_keys(*keys_, *channels_, *archive_, *origin_, logger_);
  archive_->start();
  origin_->set_timeshift_route(
      [a = archive_.get()](const std::string &ch, const std::string &rel,
                           const std::string &q) -> std::optional<RoutedAnswer> {
        auto ans = a->route(ch, rel, q);
        if (!ans) return std::nullopt;
        return RoutedAnswer{ans->status, ans->reason, ans->content_type,
                            ans->body,   ans->file,   ans->max_age};
      });
  add_triggers();
  // Content keys older than their channel's longest retention go, hourly (and once below, when
  // the records that give the retention are loaded).
  g_timeout_add_seconds(
      3600,
      [](gpointer d) -> gboolean {
        auto *self = static_cast<App *>(d);
        if (self->keys_ && self->channels_)
          prune_content_keys(*self->keys_, *self->channels_, self->logger_);
        return G_SOURCE_CONTINUE;
      },
      this);
  // In a cluster, channels run only once this node owns them in etcd (docs/cluster.md).
  if (cfg_.cluster.enabled) channels_->enable_ownership(cfg_.cluster.node_id);
  channels_->load();
  prune_content_keys(*keys_, *channels_, logger_);  // after load(): the records give retention
  if (cfg_.cluster.enabled) {
    std::string url =
        cfg_.cluster.advertise_url.empty() ? opts_.public_url : cfg_.cluster.advertise_url;
    logger_.info("", "cluster: channels run only where this node owns them in etcd",
                 {{"node", cfg_.cluster.node_id}, {"advertise_url", url}});
    cluster_ = std::make_unique<Cluster>(
        cfg_.cluster, cfg_.node_role == "any" ? "" : cfg_.node_role, url, *channels_, logger_);
    cluster_->start();
  }
  // iptvd watches its own output through its own origin (self_watch.h): `live` once served.
  SelfWatchOptions w;
  w.origin_base = [this] { return local_origin_base(); };
  w.token = [this](const std::string &channel) { return local_token(channel, 60); };
  watch_ = std::make_unique<SelfWatch>(*channels_, w);
  watch_->start();
  return true;
}

bool App::open_store(std::string *error) {
  std::error_code ec;
  for (const char *sub : {"", "/hls", "/run"}) {
    std::filesystem::create_directories(opts_.data_dir + sub, ec);
    if (ec) {
      *error = "cannot create " + opts_.data_dir + sub + ": " + ec.message();
      return false;
    }
  }
  // Thumbnails are optional: a folder that cannot be made leaves the channels as they are.
  std::filesystem::create_directories(opts_.data_dir + "/thumbnails", ec);
  if (ec)
    logger_.warn("",
                 "thumbnails: cannot create " + opts_.data_dir + "/thumbnails: " + ec.message());
  try {
    db_ = db::Db::open(opts_.data_dir + "/iptvd.db");
    // Every thread of iptvd shares this one connection (under its mutex), so only another
    // process (a backup, an operator's sqlite3) can hold a lock. The main loop serves viewers
    // and watches heartbeats: it must not wait seconds on such a lock. A write that fails is
    // retried later (ChannelManager::store_write, the webhook outbox) or answered 503 (API).
    db_->set_busy_timeout(250);
    store_ = std::make_unique<store::StateStore>(*db_);
  } catch (const std::exception &e) {
    *error = e.what();
    return false;
  }
  // Webhooks start before any channel, so start-up events are delivered too.
  hooks_ = std::make_unique<store::WebhookDeliverer>(*store_, cfg_.webhooks, logger_);
  hooks_->start();
  // Retention: delivered events and old transitions are pruned hourly (and once at start).
  auto prune = [](gpointer d) -> gboolean {
    auto *self = static_cast<App *>(d);
    int64_t n = self->store_->prune(self->cfg_.retention_events_days);
    if (n > 0) self->logger_.info("", "pruned " + std::to_string(n) + " old events");
    return G_SOURCE_CONTINUE;
  };
  prune(this);
  g_timeout_add_seconds(3600, prune, this);
  return true;
}

bool App::start_origin(std::string *error) {
  origin_ = std::make_unique<Origin>(opts_.origin);
  if (!origin_->start(error)) {
    *error = "origin: cannot listen on " + opts_.origin.address + ":" +
             std::to_string(opts_.origin.port) + ": " + *error;
    return false;
  }
  if (opts_.public_url.empty())
    opts_.public_url = "http://" + opts_.origin.address + ":" + std::to_string(origin_->port());
  // Viewer-side signals: every /hls request counted by channel, rendition, device and region.
  origin_->set_observer(
      std::make_shared<viewers::OriginViewerObserver>(viewers_, cfg_.viewers_region_header));
  return true;
}

// What acts on the main loop from outside: signals here; the channels folder and the rights
// check in the channel manager.
void App::add_triggers() {
  for (int sig : {SIGTERM, SIGINT})
    g_unix_signal_add(
        sig,
        [](gpointer d) -> gboolean {
          auto *self = static_cast<App *>(d);
          if (self->service_) self->service_->stopping();
          self->channels_->stop_all([self] { g_main_loop_quit(self->loop_); });
          return G_SOURCE_CONTINUE;
        },
        this);
  g_unix_signal_add(
      SIGHUP,
      [](gpointer d) -> gboolean {
        static_cast<App *>(d)->channels_->reload("SIGHUP");
        return G_SOURCE_CONTINUE;
      },
      this);
  channels_->watch();
}

void App::mount_api() {
  cstore_ = std::make_unique<control::ControlStore>(*db_);
  adapter_ = std::make_unique<ControlAdapter>(*channels_, *store_);
  adapter_->set_webhook_figures([this](control::MetricsSnapshot &m) {
    if (!hooks_) return;
    m.webhook_outbox_depth = (uint64_t)hooks_->outbox_depth();
    m.webhook_delivery_failures = hooks_->delivery_failures();
    m.webhook_deliveries = hooks_->delivery_attempts() - hooks_->delivery_failures();
    m.viewer_metrics = viewers_->prometheus(g_get_real_time() / 1000);
  });
  control::ApiConfig acfg;
  acfg.sessions.ttl_seconds = cfg_.token_ttl_seconds;
  // Every URL the API hands out (playlist, its url-tvg, playback_url) is built from this base,
  // never from the request's Host header.
  cfg_.listen_port = origin_->port();  // the port bound (listen.port 0 picks one)
  acfg.public_url = cfg_.effective_base_url();
  acfg.audit_retention_days = cfg_.retention_audit_days;
  acfg.sessions.max_sessions_per_subject = cfg_.sessions_max_per_subject;
  acfg.max_body_bytes = cfg_.api_max_body_bytes;
  acfg.thumbnail_dir = opts_.data_dir + "/thumbnails";
  if (cluster_) {
    acfg.cluster_problem = [c = cluster_.get()] { return c->problem(); };
    acfg.owns_channel = [m = channels_.get()](const std::string &id) {
      return m->fencing_token(id) > 0;
    };
  }
  acfg.console_dir = cfg_.console_dir.empty() ? find_console_dir() : cfg_.console_dir;
  acfg.console_session_ttl_seconds = cfg_.console_session_ttl_seconds;
  if (acfg.console_dir.empty())
    logger_.warn("",
                 "the operator console's files were not found: '/' answers 404 (see "
                 "docs/console.md)");
  auto *a = adapter_.get();
  diagnose::EngineDeps dd;
  dd.channels = a;
  dd.records = a;
  dd.events = a;
  dd.store = cstore_.get();
  dd.keys = &opts_.origin.keys;
  dd.viewers = viewers_.get();
  dd.origin_base = [this] { return local_origin_base(); };
  dd.mint = [this](const std::string &channel, int ttl) { return local_token(channel, ttl); };
  diagnoser_ = std::make_unique<diagnose::Engine>(dd);
  control::ApiDeps deps{a, a, a, a, cstore_.get(), origin_.get(), &opts_.origin.keys};
  deps.diagnoser = diagnoser_.get();
  api_ = std::make_unique<control::ApiServer>(deps, acfg);
  api_->mount();
  std::string err;
  std::string admin_key = opts_.data_dir + "/admin.key";
  if (control::bootstrap_admin_key(*cstore_, admin_key, &err))
    logger_.info("", "created the first admin API key", {{"path", admin_key}});
  else if (!err.empty())
    logger_.warn("", "admin key: " + err);
}

void App::print_urls() {
  std::string base = opts_.public_url;
  // The API and /metrics on their own address (api.listen_address), or on the main port.
  std::string api = opts_.origin.control_port < 0 ? base
                                                  : "http://" + opts_.origin.control_address + ":" +
                                                        std::to_string(origin_->control_port());
  std::printf("iptvd listening on %s (console %s/, API %s/api/v1/channels, metrics %s/metrics)\n",
              base.c_str(), api.c_str(), api.c_str(), api.c_str());
  for (const auto &rec : channels_->records()) {
    if (rec.status != ChannelStatus::kActive) continue;
    std::string why = channels_->not_runnable_reason(rec);
    if (!why.empty()) {
      // No playable URL for a channel this node will not run.
      std::printf("  %-16s NOT RUNNING: %s\n", rec.channel_id.c_str(), why.c_str());
      continue;
    }
    std::printf("  %-16s %s\n", rec.channel_id.c_str(),
                playback_url(opts_, rec.channel_id, opts_.printed_token_ttl).c_str());
  }
  std::fflush(stdout);
}

int App::run() {
  if (service_) service_->ready();
  g_main_loop_run(loop_);
  store_->wake_all();
  watch_->stop();
  api_->unmount();
  stop_webhooks();
  logger_.info("", "stopped");
  return 0;
}

}  // namespace

int run_iptvd(int argc, char **argv) {
  SdNotifier sd = SdNotifier::from_environment();
  CommandLine cl;
  if (int rc = parse_command_line(argc, argv, cl); rc >= 0) return rc;
  // The daemon's one logger, passed to what logs; it outlives them all (declared first, so
  // destroyed last, after the daemon and the webhook thread).
  log::Logger L;
  config::DaemonConfig cfg;
  if (int rc = load_config(cl, L, &cfg)) return rc;
  // Every viewer connection is a descriptor: use all the hard limit allows (systemd's default
  // soft limit is 1,024).
  long nofile = raise_fd_limit();
  if (nofile > 0) L.debug("", "open file limit", {{"nofile", std::to_string(nofile)}});

  AppOptions o = app_options(cfg, cl);
  if (!cl.rotate_master_key.empty())
    return rotate_master_key(cfg.encryption_master_key_file, o.data_dir, cl.rotate_master_key, L);
  if (int rc = prepare(cfg, o, L)) return rc;

  App app(cfg, o, L);
  app.set_notifier(std::move(sd));
  std::string err;
  if (!app.start(&err)) {
    app.stop_webhooks();
    L.error("", "cannot start: " + err);
    return 1;
  }
  app.mount_api();
  app.print_urls();
  return app.run();
}

}  // namespace iptv::daemon
