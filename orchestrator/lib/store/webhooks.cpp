#include "store/webhooks.h"

#include <glib.h>
#include <libsoup/soup.h>

#include <algorithm>
#include <cmath>

#include "log/log.h"

namespace iptv::store {

std::string webhook_signature(const std::string &secret, const std::string &body) {
  gchar *hex = g_compute_hmac_for_data(
      G_CHECKSUM_SHA256, reinterpret_cast<const guchar *>(secret.data()), secret.size(),
      reinterpret_cast<const guchar *>(body.data()), body.size());
  std::string out = std::string("sha256=") + hex;
  g_free(hex);
  return out;
}

int64_t backoff_delay_ms(const config::BackoffConfig &b, int attempts) {
  double d = b.initial_seconds * std::pow(2.0, std::max(0, attempts - 1));
  d = std::min(d, b.max_seconds);
  return static_cast<int64_t>(d * 1000.0);
}

struct WebhookDeliverer::HookState {
  const config::WebhookConfig *cfg = nullptr;
  size_t index = 0;
  SoupSession *session = nullptr;
  int64_t blocked_until = 0;  // after a failed attempt: no more attempts before this (unix ms)
};

WebhookDeliverer::WebhookDeliverer(StateStore &store, std::vector<config::WebhookConfig> hooks,
                                   log::Logger &logger, int64_t new_hooks_start_after)
    : store_(store), hooks_(std::move(hooks)), logger_(&logger) {
  std::vector<std::string> names;
  for (const auto &h : hooks_) {
    names.push_back(h.name.empty() ? h.url : h.name);
    WebhookStats s;
    s.name = names.back();
    s.url = h.url;
    live_.push_back(s);
  }
  for (size_t i = 0; i < hooks_.size(); ++i) hooks_[i].name = names[i];
  store_.sync_webhooks(names, new_hooks_start_after);
  for (const auto &h : hooks_) logger_->add_secret(h.secret);
  cancel_ = g_cancellable_new();
}

WebhookDeliverer::~WebhookDeliverer() {
  stop();
  g_object_unref(cancel_);
}

void WebhookDeliverer::start() {
  if (started_ || hooks_.empty()) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void WebhookDeliverer::stop() {
  stop_ = true;
  g_cancellable_cancel(cancel_);
  if (thread_.joinable()) thread_.join();
}

int64_t WebhookDeliverer::outbox_depth() {
  int64_t n = 0;
  for (const auto &h : hooks_) {
    n += store_.delivery_counts(h.name).pending;
    n += store_.unscanned_events(h.name);
  }
  return n;
}

std::vector<WebhookStats> WebhookDeliverer::stats() {
  std::vector<WebhookStats> out;
  {
    std::lock_guard lk(stats_mu_);
    out = live_;
  }
  for (auto &s : out) {
    auto c = store_.delivery_counts(s.name);
    s.pending = c.pending;
    s.delivered = c.delivered;
    s.dead = c.dead;
    s.unscanned = store_.unscanned_events(s.name);
  }
  return out;
}

bool WebhookDeliverer::post(HookState &h, const Delivery &d) {
  const config::WebhookConfig &cfg = *h.cfg;
  const Event &ev = d.event;
  int attempt = d.attempts + 1;
  std::string body = ev.to_json();
  int status = 0;
  std::string error;

  SoupMessage *msg = soup_message_new("POST", cfg.url.c_str());
  if (!msg) {
    error = "invalid URL";
  } else {
    SoupMessageHeaders *hd = soup_message_get_request_headers(msg);
    soup_message_headers_replace(hd, "Idempotency-Key", ev.event_id.c_str());
    soup_message_headers_replace(hd, "X-Iptv-Event", ev.event_type.c_str());
    soup_message_headers_replace(hd, "X-Iptv-Timestamp", std::to_string(now_ms() / 1000).c_str());
    soup_message_headers_replace(hd, "X-Iptv-Delivery-Attempt", std::to_string(attempt).c_str());
    soup_message_headers_replace(hd, "X-Iptv-Signature",
                                 webhook_signature(cfg.secret, body).c_str());
    GBytes *req = g_bytes_new(body.data(), body.size());
    soup_message_set_request_body_from_bytes(msg, "application/json", req);
    g_bytes_unref(req);
    GError *err = nullptr;
    GBytes *resp = soup_session_send_and_read(h.session, msg, cancel_, &err);
    if (resp) g_bytes_unref(resp);
    if (err) {
      error = err->message;
      g_error_free(err);
    } else {
      status = static_cast<int>(soup_message_get_status(msg));
      if (status < 200 || status > 299) error = "HTTP " + std::to_string(status);
    }
    g_object_unref(msg);
  }
  attempts_++;
  if (stop_ && !error.empty()) return false;  // cancelled by stop(): not an attempt, retried later

  bool ok = error.empty();
  {
    std::lock_guard lk(stats_mu_);
    auto &s = live_[h.index];
    s.attempts++;
    if (ok) {
      s.last_success_at = now_ms();
    } else {
      s.failures++;
      s.last_error = error;
    }
  }
  if (ok) {
    successes_++;
    store_.mark_delivered(cfg.name, ev.id, status);
    return true;
  }
  failures_++;
  bool dead = attempt >= cfg.max_attempts;
  int64_t delay = backoff_delay_ms(cfg.backoff, attempt);
  double spread = cfg.backoff.jitter * (2.0 * g_random_double() - 1.0);
  delay = std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(delay) * (1.0 + spread)));
  int64_t next_at = now_ms() + delay;
  store_.mark_failed(cfg.name, ev.id, error, status, next_at, dead);
  h.blocked_until = next_at;
  logger_->log(dead ? log::Level::kError : log::Level::kWarn, ev.channel_id,
               dead ? "webhook delivery dead-lettered" : "webhook delivery failed",
               {{"webhook", cfg.name},
                {"url", cfg.url},
                {"event_id", ev.event_id},
                {"event_type", ev.event_type},
                {"attempt", attempt},
                {"error", error},
                {"retry_in_ms", dead ? int64_t(-1) : delay}});
  return false;
}

void WebhookDeliverer::run() {
  GMainContext *ctx = g_main_context_new();
  g_main_context_push_thread_default(ctx);
  std::vector<HookState> hs(hooks_.size());
  for (size_t i = 0; i < hooks_.size(); ++i) {
    hs[i].cfg = &hooks_[i];
    hs[i].index = i;
    guint timeout = static_cast<guint>(std::ceil(std::max(0.1, hooks_[i].timeout_seconds)));
    hs[i].session = soup_session_new_with_options("timeout", timeout, "idle-timeout", 30,
                                                  "user-agent", "iptvd-webhooks/1", nullptr);
  }
  constexpr int kBatch = 50;
  constexpr int64_t kIdleMs = 5000;
  while (!stop_) {
    int64_t seen = store_.last_event_id();
    int64_t now = now_ms();
    int64_t wake = now + kIdleMs;
    bool more = false;
    for (auto &h : hs) {
      if (stop_) break;
      try {
        do {
          store_.enqueue_deliveries(h.cfg->name, h.cfg->events);
        } while (!stop_ && store_.unscanned_events(h.cfg->name) > 0);
        if (h.blocked_until <= now) {
          auto due = store_.due_deliveries(h.cfg->name, now, kBatch);
          bool all_ok = true;
          for (const auto &d : due) {
            if (stop_) break;
            if (!post(h, d)) {
              all_ok = false;
              break;
            }
          }
          if (all_ok && static_cast<int>(due.size()) == kBatch) more = true;
        }
        if (auto nd = store_.next_due(h.cfg->name))
          wake = std::min(wake, std::max(*nd, h.blocked_until));
      } catch (const std::exception &e) {
        // A database error (disk full, locked for too long): log, back off, keep running.
        logger_->error("", "webhook deliverer: store error",
                       {{"webhook", h.cfg->name}, {"error", e.what()}});
        wake = std::min(wake, now_ms() + 1000);
      }
    }
    if (more || stop_) continue;
    // Sleep until a retry is due or a new event arrives, in slices so stop() is prompt.
    EventFilter one;
    one.limit = 1;
    while (!stop_) {
      int64_t left = wake - now_ms();
      if (left <= 0) break;
      auto got =
          store_.wait_after(seen, std::chrono::milliseconds(std::min<int64_t>(left, 200)), one);
      if (!got.empty()) break;
    }
  }
  for (auto &h : hs) {
    soup_session_abort(h.session);
    g_object_unref(h.session);
  }
  while (g_main_context_iteration(ctx, FALSE)) {
  }
  g_main_context_pop_thread_default(ctx);
  g_main_context_unref(ctx);
}

}  // namespace iptv::store
