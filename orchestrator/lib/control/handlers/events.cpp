// handlers/events.cpp: GET /api/v1/events (with long-poll) and GET /api/v1/events/stream (SSE), and
// the follower thread that hands new events to them and prunes old audit rows and sessions. Routes,
// roles and audit actions are declared in api_server.cpp (Impl::build_routes).
#include <glib.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <thread>

#include "control/api_impl.h"
#include "control/json_views.h"

namespace iptv::control {

using namespace api;

namespace {

bool event_matches(const EventView &e, const std::string &channel, const std::string &type) {
  if (!channel.empty() && e.channel_id != channel) return false;
  if (type.empty()) return true;
  if (type.back() == '*') return starts_with(e.event_type, type.substr(0, type.size() - 1));
  return e.event_type == type;
}

std::string sse_frame(const EventView &e) {
  return "id: " + std::to_string(e.id) + "\nevent: " + e.event_type +
         "\ndata: " + to_json(e).dump() + "\n\n";
}

}  // namespace

// ---- events ------------------------------------------------------------------------------------

void ApiServer::Impl::h_events(Ctx &c) {
  EventFilter f;
  f.channel_id = query_str(c, "channel");
  f.event_type = query_str(c, "type");
  f.after_id = query_int(c, "after");
  f.before_id = query_int(c, "before");
  if (auto l = query_int(c, "limit")) f.limit = static_cast<int>(std::clamp<int64_t>(*l, 1, 1000));
  if ((c.query.count("after") && !f.after_id) || (c.query.count("before") && !f.before_id) ||
      (c.query.count("limit") && !query_int(c, "limit")))
    return error(c, 400, "invalid_request", "after, before and limit are integers");
  int64_t wait = query_int(c, "wait").value_or(0);
  EventPage p = deps.events->page(f);
  if (p.events.empty() && wait > 0 && f.after_id) {
    if (redirect_foreign(c)) return;
    // Long poll: answered by the follower's next matching events or by the timeout.
    Waiter w;
    w.msg = c.msg;
    w.channel = f.channel_id;
    w.type = f.event_type;
    w.after = *f.after_id;
    w.limit = f.limit;
    waiters.push_back(w);
    auto it = std::prev(waiters.end());
    soup_server_message_pause(c.msg);
    int secs = static_cast<int>(std::clamp<int64_t>(wait, 1, config.long_poll_max_seconds));
    struct TimeoutData {
      std::weak_ptr<Impl> self;
      SoupServerMessage *msg;
    };
    auto *td = new TimeoutData{weak_from_this(), c.msg};
    it->timeout = g_timeout_source_new_seconds(static_cast<guint>(secs));
    g_source_set_callback(
        it->timeout,
        [](gpointer data) -> gboolean {
          auto *t = static_cast<TimeoutData *>(data);
          if (auto self = t->self.lock()) {
            for (auto w = self->waiters.begin(); w != self->waiters.end(); ++w)
              if (w->msg == t->msg) {
                // This source is finishing (G_SOURCE_REMOVE): only our reference goes.
                GSource *own = w->timeout;
                w->timeout = nullptr;
                self->finish_waiter(w, {});
                g_source_unref(own);
                break;
              }
          }
          return G_SOURCE_REMOVE;
        },
        td, [](gpointer data) { delete static_cast<TimeoutData *>(data); });
    g_source_attach(it->timeout, context);
    it->finished_id = g_signal_connect_data(
        c.msg, "finished", G_CALLBACK(+[](SoupServerMessage *msg, gpointer data) {
          auto *self = static_cast<Impl *>(data);
          for (auto w = self->waiters.begin(); w != self->waiters.end(); ++w)
            if (w->msg == msg) {
              if (w->timeout) {
                g_source_destroy(w->timeout);
                g_source_unref(w->timeout);
              }
              self->waiters.erase(w);
              break;
            }
        }),
        this, nullptr, G_CONNECT_DEFAULT);
    c.status = 200;
    return;
  }
  json arr = json::array();
  for (const auto &e : p.events) arr.push_back(to_json(e));
  json body = {{"events", arr}, {"more", p.more}};
  if (!p.events.empty()) {
    int64_t lo = p.events.front().id, hi = p.events.back().id;
    if (lo > hi) std::swap(lo, hi);
    body["first_id"] = lo;
    body["last_id"] = hi;
  }
  reply(c, 200, body);
}

void ApiServer::Impl::finish_waiter(std::list<Waiter>::iterator it,
                                    const std::vector<EventView> &events) {
  Waiter w = *it;
  waiters.erase(it);
  if (w.timeout) {
    g_source_destroy(w.timeout);
    g_source_unref(w.timeout);
  }
  if (w.finished_id) g_signal_handler_disconnect(w.msg, w.finished_id);
  json arr = json::array();
  int n = 0;
  for (const auto &e : events)
    if (e.id > w.after && event_matches(e, w.channel, w.type) && n++ < w.limit)
      arr.push_back(to_json(e));
  json body = {{"events", arr}, {"more", false}};
  if (!arr.empty()) {
    body["first_id"] = arr.front()["id"];
    body["last_id"] = arr.back()["id"];
  }
  std::string text = body.dump() + "\n";
  soup_server_message_set_status(w.msg, 200, nullptr);
  soup_message_headers_replace(soup_server_message_get_response_headers(w.msg), "Cache-Control",
                               "no-store");
  soup_server_message_set_response(w.msg, "application/json", SOUP_MEMORY_COPY, text.data(),
                                   text.size());
  soup_server_message_unpause(w.msg);
}

void ApiServer::Impl::h_events_stream(Ctx &c) {
  if (redirect_foreign(c)) return;
  SseClient cl;
  cl.msg = c.msg;
  cl.channel = query_str(c, "channel");
  cl.type = query_str(c, "type");
  std::string last = header(c.msg, "Last-Event-ID");
  std::optional<int64_t> after = query_int(c, "after");
  if (!last.empty()) after = g_ascii_strtoll(last.c_str(), nullptr, 10);
  cl.last_id = after.value_or(deps.events->last_id());
  soup_server_message_set_status(c.msg, 200, nullptr);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(c.msg);
  soup_message_headers_set_encoding(h, SOUP_ENCODING_CHUNKED);
  soup_message_headers_set_content_type(h, "text/event-stream", nullptr);
  soup_message_headers_replace(h, "Cache-Control", "no-store");
  soup_message_headers_replace(h, "X-Accel-Buffering", "no");
  SoupMessageBody *body = soup_server_message_get_response_body(c.msg);
  soup_message_body_set_accumulate(body, FALSE);
  c.status = 200;
  if (c.method == "HEAD") return;
  // Replay what the client missed (Last-Event-ID / after), then follow.
  std::string first =
      "retry: 2000\n: following events after " + std::to_string(cl.last_id) + "\n\n";
  if (after) {
    EventFilter f;
    f.channel_id = cl.channel;
    f.event_type = cl.type;
    f.after_id = *after;
    f.limit = 1000;
    for (const auto &e : deps.events->page(f).events) {
      first += sse_frame(e);
      cl.last_id = std::max(cl.last_id, e.id);
    }
  }
  soup_message_body_append(body, SOUP_MEMORY_COPY, first.data(), first.size());
  cl.finished_id = g_signal_connect_data(
      c.msg, "finished", G_CALLBACK(+[](SoupServerMessage *msg, gpointer data) {
        auto *self = static_cast<Impl *>(data);
        self->sse.remove_if([msg](const SseClient &s) { return s.msg == msg; });
      }),
      this, nullptr, G_CONNECT_DEFAULT);
  sse.push_back(cl);
}

void ApiServer::Impl::deliver(const std::vector<EventView> &events) {
  for (auto &cl : sse) {
    std::string out;
    for (const auto &e : events)
      if (e.id > cl.last_id && event_matches(e, cl.channel, cl.type)) {
        out += sse_frame(e);
        cl.last_id = e.id;
      }
    if (out.empty()) continue;
    soup_message_body_append(soup_server_message_get_response_body(cl.msg), SOUP_MEMORY_COPY,
                             out.data(), out.size());
    soup_server_message_unpause(cl.msg);
  }
  for (auto it = waiters.begin(); it != waiters.end();) {
    auto next = std::next(it);
    bool any = std::any_of(events.begin(), events.end(), [&](const EventView &e) {
      return e.id > it->after && event_matches(e, it->channel, it->type);
    });
    if (any) finish_waiter(it, events);
    it = next;
  }
}

void ApiServer::Impl::send_keepalive() {
  static const char kPing[] = ": keepalive\n\n";
  for (auto &cl : sse) {
    soup_message_body_append(soup_server_message_get_response_body(cl.msg), SOUP_MEMORY_STATIC,
                             kPing, sizeof kPing - 1);
    soup_server_message_unpause(cl.msg);
  }
}

void ApiServer::Impl::run_follower() {
  int64_t last = 0;
  try {
    last = deps.events->last_id();
  } catch (const std::exception &e) {
    g_warning("api: events unavailable: %s", e.what());
  }
  int64_t next_prune = 0;
  while (!stopping.load()) {
    std::vector<EventView> evs;
    try {
      evs = deps.events->wait_after(last, std::chrono::milliseconds(500));
    } catch (const std::exception &e) {
      g_warning("api: waiting for events failed: %s", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    if (!evs.empty() && !stopping.load()) {
      last = std::max(last, evs.back().id);
      struct Post {
        std::weak_ptr<Impl> self;
        std::vector<EventView> events;
      };
      auto *p = new Post{weak_from_this(), std::move(evs)};
      g_main_context_invoke_full(
          context, G_PRIORITY_DEFAULT,
          [](gpointer data) -> gboolean {
            auto *post = static_cast<Post *>(data);
            if (auto self = post->self.lock())
              if (self->mounted.load()) self->deliver(post->events);
            return G_SOURCE_REMOVE;
          },
          p, [](gpointer data) { delete static_cast<Post *>(data); });
    }
    int64_t now = now_unix();
    if (now >= next_prune) {
      next_prune = now + 3600;
      try {
        int64_t keep_ms = static_cast<int64_t>(config.audit_retention_days) * 86400 * 1000;
        int a = deps.store->prune_audit(now_ms() - keep_ms);
        // Expired sessions are kept a day for support questions, then dropped.
        console_sessions.prune(now);
        int s = deps.store->prune_sessions(now - 86400);
        if (a || s) g_message("api: pruned %d audit rows and %d expired sessions", a, s);
      } catch (const std::exception &e) {
        g_warning("api: prune failed: %s", e.what());
      }
    }
  }
}

}  // namespace iptv::control
