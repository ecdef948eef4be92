// Webhook delivery of outbox events: at least once, signed, retried, surviving restarts.
//
// A WebhookDeliverer runs one thread with its own GMainContext and one libsoup 3 SoupSession per
// webhook. Its loop, per configured webhook:
//   1. moves the webhook's cursor over new outbox events, creating a pending delivery row for
//      each event its `events` filter accepts (StateStore::enqueue_deliveries);
//   2. POSTs the due deliveries, oldest event first:
//        Content-Type: application/json        body = Event::to_json()
//        Idempotency-Key: <event_id>           (the same on every retry)
//        X-Iptv-Event: <event_type>
//        X-Iptv-Timestamp: <unix seconds of this attempt>
//        X-Iptv-Delivery-Attempt: <1, 2, ...>
//        X-Iptv-Signature: sha256=<lowercase hex HMAC-SHA256(body, webhook secret)>
//   3. a 2xx marks the delivery delivered; anything else is retried after
//      min(max, initial * 2^(attempts-1)) seconds, spread by +-jitter, and dead-lettered after
//      max_attempts. After a failed attempt the webhook's other due deliveries wait until that
//      retry time (a receiver that is down is not hammered).
//   4. sleeps until the next retry is due or a new event is recorded (StateStore::wait_after).
// All delivery state is in SQLite (st_webhooks, st_deliveries), so a daemon restarted over the
// same database delivers whatever was not delivered before it stopped. A webhook receives the
// events recorded after it first appeared in the config (sync_webhooks at construction); pass
// `new_hooks_start_after` = store.last_event_id() taken right after opening the store to include
// the events the daemon records while starting up.
//
// Threads: construct, start, stop and the getters from any thread; the session and HTTP traffic
// stay on the deliverer's own thread.
//
// Daemon use:
//   int64_t boot = store.last_event_id();  // right after opening the StateStore
//   ... start-up (records channel.applied, channel.state events)
//   iptv::store::WebhookDeliverer hooks(store, cfg.webhooks, nullptr, boot);
//   hooks.start();
//   ... metrics: hooks.outbox_depth(), hooks.delivery_failures(), hooks.deliveries(),
//       hooks.stats() (per webhook, with dead letters)
//   hooks.stop();  // on shutdown or before replacing it with a reloaded config
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/daemon_config.h"
#include "store/state_store.h"

typedef struct _GCancellable GCancellable;

namespace iptv::log {
class Logger;
}

namespace iptv::store {

// "sha256=<hex>" of `body` with `secret` (the X-Iptv-Signature value).
std::string webhook_signature(const std::string &secret, const std::string &body);

// The retry delay after `attempts` failed attempts (>= 1), before jitter, in milliseconds.
int64_t backoff_delay_ms(const config::BackoffConfig &b, int attempts);

struct WebhookStats {
  std::string name;
  std::string url;
  int64_t pending = 0;    // deliveries waiting (including those in backoff)
  int64_t unscanned = 0;  // outbox events the cursor has not reached yet
  int64_t delivered = 0;  // delivered deliveries still in the database
  int64_t dead = 0;       // dead-lettered deliveries
  uint64_t attempts = 0;  // POSTs made by this deliverer (since start)
  uint64_t failures = 0;  // failed POSTs (since start)
  std::string last_error;
  int64_t last_success_at = 0;  // unix ms, 0: none since start
};

class WebhookDeliverer {
 public:
  // Registers the webhooks in the store: new ones start after event `new_hooks_start_after`
  // (-1: the current end of the outbox); ones no longer configured are dropped with their
  // deliveries. Registers the webhook secrets with `logger`'s redactor and logs there; `logger`
  // must outlive the deliverer.
  WebhookDeliverer(StateStore &store, std::vector<config::WebhookConfig> hooks, log::Logger &logger,
                   int64_t new_hooks_start_after = -1);
  ~WebhookDeliverer();  // stop()
  WebhookDeliverer(const WebhookDeliverer &) = delete;
  WebhookDeliverer &operator=(const WebhookDeliverer &) = delete;

  // Starts the delivery thread (once). With no webhooks configured it does nothing.
  void start();
  // Cancels an in-flight request (it stays pending and is retried after a restart) and joins the
  // thread. Idempotent.
  void stop();

  // Pending deliveries plus unscanned events, over all webhooks (the metrics' outbox depth).
  int64_t outbox_depth();
  // Failed POSTs since start, over all webhooks.
  uint64_t delivery_failures() const { return failures_.load(); }
  uint64_t delivery_attempts() const { return attempts_.load(); }
  // Successful deliveries (2xx) since start, over all webhooks.
  uint64_t deliveries() const { return successes_.load(); }
  std::vector<WebhookStats> stats();

 private:
  struct HookState;
  void run();
  bool post(HookState &h, const Delivery &d);

  StateStore &store_;
  std::vector<config::WebhookConfig> hooks_;
  log::Logger *logger_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
  GCancellable *cancel_ = nullptr;
  std::atomic<uint64_t> attempts_{0}, failures_{0}, successes_{0};
  std::mutex stats_mu_;
  std::vector<WebhookStats> live_;  // per hook: attempts, failures, last_error, last_success_at
};

}  // namespace iptv::store
