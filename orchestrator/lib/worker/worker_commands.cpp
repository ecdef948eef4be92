// The worker's command channel: one JSON command per line on stdin (docs/worker.md), answered
// with an ack status line; and the graceful stop they (or a signal) ask for.
#include <glib.h>
#include <gst/app/app.h>
#include <gst/gst.h>

#include <cstdio>
#include <string>

#include "worker/edge.h"
#include "worker/worker.h"

namespace iptv::worker {

namespace {

gint64 mono_ms() {
  return g_get_monotonic_time() / 1000;
}

}  // namespace

// ---- commands ----

LineRead read_command_line(GIOChannel *ch, GIOCondition cond, std::string *out) {
  if (!(cond & G_IO_IN)) return LineRead::kClosed;
  gchar *line = nullptr;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line(ch, &line, &len, nullptr, nullptr);
  if (st == G_IO_STATUS_NORMAL && line) {
    std::string l(line);
    g_free(line);
    while (!l.empty() && (l.back() == '\n' || l.back() == '\r')) l.pop_back();
    if (l.empty()) return LineRead::kAgain;
    *out = std::move(l);
    return LineRead::kLine;
  }
  g_free(line);
  return st == G_IO_STATUS_AGAIN ? LineRead::kAgain : LineRead::kClosed;
}

gboolean Worker::stdin_cb(GIOChannel *ch, GIOCondition cond, gpointer data) {
  auto *self = static_cast<Worker *>(data);
  std::string l;
  switch (read_command_line(ch, cond, &l)) {
    case LineRead::kLine:
      self->handle_command(l);
      return TRUE;
    case LineRead::kAgain:
      return TRUE;
    case LineRead::kClosed:
      break;
  }
  // stdin closed: the daemon is gone or does not send commands; keep running (SIGTERM stops).
  self->sources_.erase(std::remove(self->sources_.begin(), self->sources_.end(),
                                   g_source_get_id(g_main_current_source())),
                       self->sources_.end());
  return FALSE;
}

void Worker::handle_command(const std::string &line) {
  Command c = parse_command(line);
  auto reply = [&](bool ok, const std::string &detail) {
    // An unreadable line is echoed back, unless it may hold a key (never written anywhere).
    std::string echo = line.find("\"key") != std::string::npos ? "key" : line;
    status_.write(wire::Ack{.cmd = c.cmd.empty() ? echo : c.cmd, .ok = ok, .detail = detail});
  };
  if (!c.error.empty()) {
    reply(false, c.error);
    return;
  }
  gint64 now = mono_ms();
  if (c.cmd == "stop") {
    reply(true, "stopping");
    request_stop("stop command");
  } else if (c.cmd == "failover") {
    bool ok = machine_->command_failover(now);
    reply(ok, ok ? "on backup" : "no healthy backup");
    if (ok) on_tick();
  } else if (c.cmd == "return") {
    bool ok = machine_->command_return(now);
    reply(ok, ok ? "returning to primary" : "primary is not healthy");
    if (ok) on_tick();
  } else if (c.cmd == "fencing_token") {
    // In a cluster: this worker started before its node owned the channel (a make-before-break
    // move-back, a hot standby); the same line as --fencing-token (docs/cluster.md).
    std::fprintf(stderr, "iptvd-worker: channel %s publishing under fencing token %lld\n",
                 spec_.channel_id.c_str(), (long long)c.fencing_token);
    reply(true, "fencing token " + std::to_string(c.fencing_token));
  } else if (c.cmd == "key") {
    // iptvhlssink encrypts the segments of this key period with it (key-rotation > 0).
    gboolean ok = FALSE;
    g_signal_emit_by_name(hlssink_, "add-key", (guint64)c.period, c.key_id.c_str(), c.key.c_str(),
                          c.iv.c_str(), &ok);
    reply(ok,
          "key " + c.key_id + " for period " + std::to_string(c.period) + (ok ? "" : ": refused"));
  } else if (c.cmd == "rendition") {
    // iptvhlssink takes the rendition off the air (multivariant playlist, its video and its copy
    // of the audio) and resumes it at a keyframe with one discontinuity; the others go on.
    // iptvabrladder stops feeding its encoder meanwhile.
    if (!rstats_.count(c.name)) {
      reply(false, "no rendition '" + c.name + "'");
      return;
    }
    if (passthrough_) {
      reply(false, "a passthrough channel has a single rendition");
      return;
    }
    if (c.enabled)
      disabled_.erase(c.name);
    else
      disabled_.insert(c.name);
    std::string list, rungs;
    for (const auto &n : disabled_) list += (list.empty() ? "" : ",") + n;
    g_object_set(hlssink_, "disabled-renditions", list.c_str(), nullptr);
    // The ladder pauses the encoders too (rendition i is the ladder's src_i): no CPU while off
    // the air, back at the next grid keyframe when enabled.
    for (size_t i = 0; i < renditions_.size(); ++i)
      if (disabled_.count(renditions_[i])) rungs += (rungs.empty() ? "" : ",") + std::to_string(i);
    if (ladder_) g_object_set(ladder_, "disabled-rungs", rungs.c_str(), nullptr);
    reply(true, c.name + (c.enabled ? " enabled" : " disabled"));
  }
}

void Worker::request_stop(const std::string &why) {
  if (stopping_) return;
  stopping_ = true;
  stop_deadline_ms_ = mono_ms() + 10000;
  status_.write(wire::State{
      .state = "stopping", .reason = why, .active_source = to_string(machine_->on_air())});
  for (auto &f : feeds_)
    if (f) f->stop();
  {
    std::lock_guard<std::mutex> g(lock_);
    gst_app_src_end_of_stream(GST_APP_SRC(vsrc_));
    gst_app_src_end_of_stream(GST_APP_SRC(asrc_));
  }
  for (auto &e : edges_) e->end_of_stream();
}

}  // namespace iptv::worker
