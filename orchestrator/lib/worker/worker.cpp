#include "worker/worker.h"

#include <glib-unix.h>
#include <gst/app/app.h>
#include <gst/video/video.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include "util/strutil.h"
#include "worker/edge.h"
#include "worker/segment_sweep.h"
#include "worker/thumbnail.h"

namespace iptv::worker {

// Defined below the tick (the queues of one pipeline into Stats.queues).
void collect_queue_fill(GstElement *pipeline, const std::string &prefix,
                        std::vector<wire::QueueFill> &out);

namespace {

gint64 mono_ms() {
  return g_get_monotonic_time() / 1000;
}

// The failover machine's name of a condition: silence, black and freeze (the failover
// triggers) by their own name, the others (gap, timestamp) per stream.
std::string condition_key(const std::string &cond, const std::string &stream) {
  if (cond == "silence" || cond == "black" || cond == "freeze") return cond;
  return cond + "/" + stream;
}

constexpr gint64 kTimestampQuiet = 10000;  // ms without timestamp events: the condition clears

const char *feed_name(int feed) {
  return feed == 0 ? "primary" : feed == 1 ? "backup" : "slate";
}

}  // namespace

Worker::Worker(WorkerSpec spec, StatusWriter &status, std::function<void(int)> on_finish)
    : spec_(std::move(spec)), status_(status), on_finish_(std::move(on_finish)) {
  passthrough_ = spec_.mode == "passthrough";
  for (auto &d : last_data_) d = 0;
  if (!on_finish_) loop_ = g_main_loop_new(nullptr, FALSE);
}

Worker::~Worker() {
  for (guint id : sources_) g_source_remove(id);
  for (guint id : oneshots_) g_source_remove(id);
  for (auto &e : edges_) e->stop();
  for (auto &f : feeds_)
    if (f) f->stop();
  if (output_) {
    gst_element_set_state(output_, GST_STATE_NULL);
    gst_object_unref(output_);
  }
  if (vsrc_) gst_object_unref(vsrc_);
  if (asrc_) gst_object_unref(asrc_);
  if (hlssink_) gst_object_unref(hlssink_);
  if (ladder_) gst_object_unref(ladder_);
  if (last_frame_) gst_buffer_unref(last_frame_);
  if (black_frame_) gst_buffer_unref(black_frame_);
  if (vcaps_) gst_caps_unref(vcaps_);
  if (acaps_) gst_caps_unref(acaps_);
  if (loop_) g_main_loop_unref(loop_);
}

void Worker::add_oneshot(guint ms, std::function<void()> fn) {
  struct Ctx {
    Worker *w;
    std::function<void()> fn;
  };
  guint id = g_timeout_add_full(
      G_PRIORITY_DEFAULT, ms,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Ctx *>(d);
        c->w->oneshots_.erase(g_source_get_id(g_main_current_source()));
        c->fn();
        return G_SOURCE_REMOVE;
      },
      new Ctx{this, std::move(fn)}, [](gpointer d) { delete static_cast<Ctx *>(d); });
  oneshots_.insert(id);
}

GstClockTime Worker::output_now() const {
  GstClock *clock = gst_element_get_clock(output_);
  if (!clock) return GST_CLOCK_TIME_NONE;
  GstClockTime now = gst_clock_get_time(clock);
  gst_object_unref(clock);
  GstClockTime base = gst_element_get_base_time(output_);
  return now > base ? now - base : 0;
}

std::string Worker::utc_iso(GstClockTime running) const {
  GstClock *clock = gst_element_get_clock(output_);
  gint64 real_ns = g_get_real_time() * 1000;
  if (clock && GST_CLOCK_TIME_IS_VALID(running)) {
    GstClockTime now = gst_clock_get_time(clock);
    GstClockTime at = gst_element_get_base_time(output_) + running;
    real_ns += (gint64)at - (gint64)now;
  }
  if (clock) gst_object_unref(clock);
  return iso8601_utc(real_ns / 1000000, true);
}

// ---- the output pipeline ----

bool Worker::build_output(std::string &error) {
  OutputElements out;
  bool built = build_output_pipeline(spec_, out, error);
  output_ = out.pipeline;  // released by the destructor, built or not
  vsrc_ = out.vsrc;
  asrc_ = out.asrc;
  hlssink_ = out.hlssink;
  ladder_ = out.ladder;
  vcaps_ = out.vcaps;
  acaps_ = out.acaps;
  renditions_ = out.renditions;
  thumbnail_error_ = out.thumbnail_error;
  if (!built) return false;
  for (const auto &r : renditions_) rstats_[r] = std::make_unique<RenditionStats>();

  // Sink-side taps: media age, frame counts, edge outputs.
  SinkTaps taps;
  taps.video = [this](size_t index, GstPad *pad, GstBuffer *buf) {
    rstats_[renditions_[index]]->frames++;
    last_media_ms_ = mono_ms();
    if (index == 0 && !edges_.empty()) push_edges(pad, true, buf);
  };
  if (!spec_.outputs.empty())
    taps.audio = [this](GstPad *pad, GstBuffer *buf) { push_edges(pad, false, buf); };
  add_sink_taps(out, std::move(taps));
  GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(output_));
  sources_.push_back(gst_bus_add_watch(
      bus,
      [](GstBus *, GstMessage *msg, gpointer d) -> gboolean {
        static_cast<Worker *>(d)->on_output_message(msg);
        return TRUE;
      },
      this));
  gst_object_unref(bus);
  return true;
}

// Edge outputs get the sink's encoded buffers with their timestamps turned into running time
// (encoders such as x264enc shift theirs by a segment offset), so the edge pipelines, which
// share the output's clock and base time, mux them in real time.
void Worker::push_edges(GstPad *pad, bool video, GstBuffer *buf) {
  GstBuffer *b = running_time_copy(pad, buf);
  if (!b) return;
  GstCaps *caps = gst_pad_get_current_caps(pad);
  for (auto &e : edges_) e->push(video, b, caps);
  if (caps) gst_caps_unref(caps);
  gst_buffer_unref(b);
}

// ---- segment files left by earlier runs (segment_sweep.h) ----

void Worker::sweep_segments() {
  int removed = sweep_orphan_segments(spec_.hls, renditions_);
  if (removed)
    status_.write(wire::Event{.event_type = "segments.swept",
                              .reason = std::to_string(removed) +
                                        " segment files of earlier runs removed (not in the "
                                        "playlist, older than window + retention)",
                              .source = ""});
}

// ---- start / run ----

bool Worker::start() {
  status_.write(wire::Hello{.pid = getpid(), .channel_id = spec_.channel_id});
  std::string error;
  if (!build_output(error)) {
    status_.write(wire::Error{error});
    return false;
  }
  sweep_segments();
  if (!spec_.thumbnail.path.empty() && !thumbnail_error_.empty())
    thumbnail_failed(thumbnail_error_);
  // Edge outputs: an error restarts only that output, 2 s later.
  for (size_t i = 0; i < spec_.outputs.size(); ++i)
    edges_.push_back(
        std::make_unique<EdgeOutput>(spec_.outputs[i], [this, i](const std::string &m) {
          status_.write(wire::Event{
              .event_type = "output.error", .reason = m, .source = edges_[i]->entry().uri});
          edges_[i]->stop();
          add_oneshot(2000, [e = edges_[i].get()] {
            std::string err;
            e->start(err, nullptr, 0);
          });
        }));
  FailoverParams fp;
  fp.loss_ms = (int64_t)(spec_.failover.primary_loss_seconds * 1000);
  fp.return_after_ms = (int64_t)(spec_.failover.return_after_seconds * 1000);
  fp.has_backup = spec_.failover.enabled && spec_.sources.size() > 1;
  for (const auto &t : spec_.failover.triggers) fp.triggers.insert(t);
  machine_ = std::make_unique<FailoverMachine>(fp, mono_ms());

  if (gst_element_set_state(output_, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // Say why: the element's error is still on the bus (e.g. iptvhlssink "Cannot create
    // <folder>" when a file stands where the channel's HLS tree goes).
    std::string why;
    GstBus *bus = gst_element_get_bus(output_);
    if (GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)) {
      GError *e = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(m, &e, &dbg);
      why = std::string(": ") + GST_OBJECT_NAME(GST_MESSAGE_SRC(m)) + ": " +
            (e ? e->message : "error") + (dbg ? std::string(" (") + dbg + ")" : "");
      if (e) g_error_free(e);
      g_free(dbg);
      gst_message_unref(m);
    }
    gst_object_unref(bus);
    status_.write(wire::Error{"the output pipeline cannot start" + why});
    return false;
  }
  for (int f = 0; f < 2; ++f)
    if (f < (int)spec_.sources.size() && (f == 0 || fp.has_backup)) start_feed(f);
  // Transcode: warm the slate up once (font loading takes about a second of this thread on first
  // use), so that starting it later does not hold the main loop while the output needs filling.
  // Passthrough fills no gaps: its slate is built when it goes on air (apply_on_air), so a
  // channel that never needs it never loads x264, the AAC encoder and the fonts (about 20 MB
  // of PSS and a second of CPU per channel at start-up; docs/benchmarks.md, channel density).
  if (!passthrough_) start_feed(kSlate);
  emit_state();

  // Transcode only: passthrough fills no gaps, and this 50 Hz timer was most of a passthrough
  // worker's main-loop wake-ups.
  if (!passthrough_)
    sources_.push_back(g_timeout_add(
        20,
        [](gpointer d) -> gboolean {
          static_cast<Worker *>(d)->fill_gaps();
          return G_SOURCE_CONTINUE;
        },
        this));
  sources_.push_back(g_timeout_add(
      100,
      [](gpointer d) -> gboolean {
        static_cast<Worker *>(d)->on_tick();
        return G_SOURCE_CONTINUE;
      },
      this));
  sources_.push_back(g_timeout_add_seconds(
      10,
      [](gpointer d) -> gboolean {
        static_cast<Worker *>(d)->sweep_segments();
        return G_SOURCE_CONTINUE;
      },
      this));
  sources_.push_back(g_timeout_add(
      spec_.heartbeat_ms,
      [](gpointer d) -> gboolean {
        static_cast<Worker *>(d)->heartbeat();
        return G_SOURCE_CONTINUE;
      },
      this));
  if (on_finish_) return true;  // hosted: the group reads stdin and handles the signals
  for (int sig : {SIGTERM, SIGINT})
    sources_.push_back(g_unix_signal_add(
        sig,
        [](gpointer d) -> gboolean {
          static_cast<Worker *>(d)->request_stop("signal");
          return G_SOURCE_CONTINUE;
        },
        this));
  GIOChannel *in = g_io_channel_unix_new(0);
  sources_.push_back(
      g_io_add_watch(in, (GIOCondition)(G_IO_IN | G_IO_HUP | G_IO_ERR), stdin_cb, this));
  g_io_channel_unref(in);
  return true;
}

int Worker::run() {
  g_main_loop_run(loop_);
  return exit_code_;
}

void Worker::finish(int code) {
  exit_code_ = code;
  if (on_finish_) {
    auto done = std::move(on_finish_);  // once
    on_finish_ = [](int) {};
    done(code);
    return;
  }
  g_main_loop_quit(loop_);
}

void Worker::start_feed(int feed) {
  SourceEntry entry = feed < (int)spec_.sources.size() ? spec_.sources[feed] : SourceEntry{};
  SourceCallbacks cb;
  cb.on_sample = [this, feed](StreamKind k, GstSample *s) { on_sample(feed, k, s); };
  cb.on_data = [this, feed](gint64 at) {
    // From several streaming threads: keep the latest.
    gint64 cur = last_data_[feed].load();
    while (at > cur && !last_data_[feed].compare_exchange_weak(cur, at)) {
    }
  };
  cb.on_message = [this, feed](GstMessage *m) { on_source_message(feed, m); };
  feeds_[feed] = std::make_unique<SourcePipeline>(spec_, entry, passthrough_, feed == kSlate, cb);
  std::string error;
  retry_at_[feed] = 0;
  failing_[feed] = false;
  if (!feeds_[feed]->start(error)) {
    report_source_error(feed, error);
    if (feed < 2) machine_->on_failed(feed, error, mono_ms());
    feeds_[feed].reset();
    retry_at_[feed] = mono_ms() + spec_.source_retry_ms;
  }
}

// An input that keeps failing is retried every source_retry_ms; its error is reported when it
// changes, or again after 30 s, not on every retry.
void Worker::report_source_error(int feed, const std::string &reason) {
  gint64 now = mono_ms();
  auto &[last_reason, at] = last_error_[feed];
  if (reason == last_reason && now - at < 30000 && last_data_[feed] < at) return;
  last_reason = reason;
  at = now;
  status_.write(
      wire::Event{.event_type = "source.error", .reason = reason, .source = feed_name(feed)});
}

void Worker::emit_state() {
  std::string st = machine_->state();
  if (st == last_state_) return;
  last_state_ = st;
  status_.write(wire::State{
      .state = st, .reason = machine_->reason(), .active_source = to_string(machine_->on_air())});
}

void Worker::on_tick() {
  if (stopping_) {
    if (mono_ms() > stop_deadline_ms_) {
      status_.write(wire::Error{"stop: EOS did not reach the sink in time"});
      finish(1);
    }
    return;
  }
  gint64 now = mono_ms();
  // Edge outputs start once the output runs, on its clock and base time.
  if (!edges_started_ && GST_STATE(output_) == GST_STATE_PLAYING) {
    edges_started_ = true;
    GstClock *clock = gst_element_get_clock(output_);
    for (auto &e : edges_) {
      std::string err;
      if (!e->start(err, clock, gst_element_get_base_time(output_))) {
        status_.write(wire::Error{err});
        finish(1);
        return;
      }
    }
    if (clock) gst_object_unref(clock);
  }
  if (feeds_[kSlate] && machine_->on_air() != OnAir::kSlate && last_data_[kSlate] > 0) {
    feeds_[kSlate]->stop();  // warmed up (or no longer on air)
    feeds_[kSlate].reset();
  }
  for (int f = 0; f < 2; ++f) {
    gint64 d = last_data_[f];
    if (d != seen_data_[f]) {
      seen_data_[f] = d;
      machine_->on_data(f, d);
    }
  }
  // Restart failed inputs.
  for (int f = 0; f < 2; ++f)
    if (retry_at_[f] && now >= retry_at_[f]) start_feed(f);
  for (auto it = ts_active_.begin(); it != ts_active_.end();) {
    const TimestampCondition &c = it->second;
    if (!c.held.empty() || now - c.last_ms < kTimestampQuiet) {
      ++it;
      continue;
    }
    std::string stream = it->first.substr(it->first.find('/') + 1);
    status_.write(wire::Probe{.condition = "timestamp",
                              .active = false,
                              .stream = stream,
                              .detail = "no timestamp jump for " +
                                        std::to_string(kTimestampQuiet / 1000) + " s (" +
                                        std::to_string(c.more) + " more while it was raised)",
                              .source = feed_name(c.feed)});
    machine_->on_condition(c.feed, condition_key("timestamp", stream), false, now);
    it = ts_active_.erase(it);
  }
  std::vector<FailoverEvent> events;
  OnAir before = machine_->on_air();
  machine_->tick(now, events);
  for (const auto &e : events)
    status_.write(wire::Event{.event_type = e.event_type, .reason = e.reason, .source = e.source});
  if (machine_->on_air() != before) {
    apply_on_air(machine_->on_air());
    if (before == OnAir::kSlate && feeds_[kSlate]) {
      feeds_[kSlate]->stop();
      feeds_[kSlate].reset();
    }
  }
  emit_state();
  // Each input's health as the failover machine sees it, on every change: a warm backup that
  // receives data is a healthy standby, not "down" because it is not on air.
  for (int f = 0; f < 2; ++f) {
    if (f == 1 && !(spec_.failover.enabled && spec_.sources.size() > 1)) continue;
    bool ok = machine_->healthy(f, now);
    int h = ok ? 1 : 0;
    if (reported_health_[f] == h) continue;
    if (!ok && last_data_[f] == 0 && f == 0 && reported_health_[f] < 0) continue;  // starting
    reported_health_[f] = h;
    status_.write(wire::Source{.source = feed_name(f),
                               .healthy = ok,
                               .detail = ok ? "receiving" : machine_->why_unhealthy(f, now)});
  }
  // Stats every 5 heartbeats (at least 2 s).
  gint64 every = std::max<gint64>(2000, 5 * spec_.heartbeat_ms);
  if (last_stats_ms_ == 0) last_stats_ms_ = now;
  if (now - last_stats_ms_ >= every) {
    wire::Stats stats;
    double secs = (now - last_stats_ms_) / 1000.0;
    for (auto &[name, rs] : rstats_) {
      guint64 f = rs->frames;
      stats.renditions[name] = {std::round((f - rs->frames_at_last) / secs * 10) / 10,
                                std::floor(rs->last_bps)};
      rs->frames_at_last = f;
    }
    // The inputs (issue 17, step 3): bitrate of the encoded intake over this interval, codecs,
    // the age of the last buffer, gaps so far.
    for (int f = 0; f < 2; ++f) {
      if (!feeds_[f]) continue;
      auto in = feeds_[f]->take_intake();
      wire::InputStats is;
      is.bitrate_bps = in.bytes < 0 ? -1 : std::floor(in.bytes * 8 / secs);
      is.video_codec = in.video_codec;
      is.audio_codec = in.audio_codec;
      gint64 last = last_data_[f];
      is.last_packet_age_ms = last ? now - last : -1;
      is.gaps = input_gaps_[f];
      stats.inputs[feed_name(f)] = is;
    }
    // The queues (step 4): every queue of the inputs and the output, level against limit.
    for (int f = 0; f < 2; ++f)
      if (feeds_[f] && feeds_[f]->pipeline())
        collect_queue_fill(feeds_[f]->pipeline(), feed_name(f), stats.queues);
    if (output_) collect_queue_fill(output_, "output", stats.queues);
    last_stats_ms_ = now;
    status_.write(stats);
  }
}

// Appends the fill of every `queue` element under `pipeline` (recursively), named
// "<prefix>/<parent>/<queue>". Read from the main loop: the level properties are atomic reads.
void collect_queue_fill(GstElement *pipeline, const std::string &prefix,
                        std::vector<wire::QueueFill> &out) {
  GstIterator *it = gst_bin_iterate_recurse(GST_BIN(pipeline));
  GValue v = G_VALUE_INIT;
  while (gst_iterator_next(it, &v) == GST_ITERATOR_OK) {
    GstElement *e = GST_ELEMENT(g_value_get_object(&v));
    GstElementFactory *f = gst_element_get_factory(e);
    // splitmuxsink's own queues are left out: they hold a whole GOP by design, with limits
    // splitmuxsink raises itself, so their fill says nothing about a backlog.
    GstObject *owner = gst_object_get_parent(GST_OBJECT(e));
    GstElementFactory *of =
        owner && GST_IS_ELEMENT(owner) ? gst_element_get_factory(GST_ELEMENT(owner)) : nullptr;
    bool internal = of && g_str_equal(GST_OBJECT_NAME(of), "splitmuxsink");
    if (owner) gst_object_unref(owner);
    if (f && !internal && g_str_equal(GST_OBJECT_NAME(f), "queue") && out.size() < 64) {
      guint64 lt = 0, mt = 0;
      guint lb = 0, mb = 0, ln = 0, mn = 0;
      g_object_get(e, "current-level-time", &lt, "max-size-time", &mt, "current-level-bytes", &lb,
                   "max-size-bytes", &mb, "current-level-buffers", &ln, "max-size-buffers", &mn,
                   nullptr);
      wire::QueueFill q;
      GstObject *parent = gst_object_get_parent(GST_OBJECT(e));
      q.name =
          prefix + "/" +
          (parent && parent != GST_OBJECT(pipeline) ? std::string(GST_OBJECT_NAME(parent)) + "/"
                                                    : std::string()) +
          GST_OBJECT_NAME(e);
      if (parent) gst_object_unref(parent);
      q.level_ms = lt / GST_MSECOND;
      q.max_ms = mt / GST_MSECOND;
      q.level_bytes = lb;
      q.max_bytes = mb;
      q.level_buffers = ln;
      q.max_buffers = mn;
      double fill = 0;
      if (mt) fill = std::max(fill, (double)lt / (double)mt);
      if (mb) fill = std::max(fill, (double)lb / (double)mb);
      if (mn) fill = std::max(fill, (double)ln / (double)mn);
      q.fill = std::round(std::min(fill, 1.0) * 1000) / 1000;
      out.push_back(q);
    }
    g_value_reset(&v);
  }
  g_value_unset(&v);
  gst_iterator_free(it);
}

void Worker::heartbeat() {
  gint64 last = last_media_ms_;
  gint64 age = last ? mono_ms() - last : -1;
  status_.write(wire::Heartbeat{.media_age_ms = age, .part_at_ms = part_at_ms_});
}

// ---- bus messages ----

void Worker::on_source_message(int feed, GstMessage *msg) {
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_EOS: {
      std::string why = "EOS";
      if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
        GError *err = nullptr;
        gst_message_parse_error(msg, &err, nullptr);
        why = std::string("error: ") + (err ? err->message : "?");
        if (err) g_error_free(err);
      } else if (feeds_[feed] && feeds_[feed]->loops() && feeds_[feed]->loop_to_start()) {
        return;  // file:// plays as a loop
      }
      if (failing_[feed]) return;  // the same attempt's follow-up errors
      failing_[feed] = true;
      if (feed == kSlate) {
        status_.write(wire::Error{"slate: " + why});
        finish(1);
        return;
      }
      report_source_error(feed, why);
      machine_->on_failed(feed, why, mono_ms());
      // Tear down from an idle callback: we are inside this pipeline's bus watch.
      add_oneshot(0, [this, feed] {
        if (feeds_[feed]) {
          feeds_[feed]->stop();
          feeds_[feed].reset();
        }
        retry_at_[feed] = mono_ms() + spec_.source_retry_ms;
      });
      return;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(msg);
      if (!s || feed == kSlate) return;
      std::string name = gst_structure_get_name(s);
      if (name.rfind("iptvgapprobe-", 0) != 0) return;
      std::string cond = name.substr(13);
      gboolean active = TRUE;
      if (cond == "recovered") {
        cond = "gap";
        active = FALSE;
      } else if (cond == "keyframe-gap") {
        cond = "gap";
        gst_structure_get_boolean(s, "active", &active);
      } else if (cond != "gap") {
        gst_structure_get_boolean(s, "active", &active);
      }
      const char *stream = gst_structure_get_string(s, "stream-type");
      std::string detail = name;
      if (const char *kind = gst_structure_get_string(s, "kind")) detail += " " + std::string(kind);
      double v;
      if (gst_structure_get_double(s, "level-db", &v)) detail += " level-db=" + std::to_string(v);
      if (gst_structure_get_double(s, "luma", &v)) detail += " luma=" + std::to_string(v);
      std::string stream_name = stream ? stream : "other";
      // Timestamp events (jumps, backwards steps) are instants, not states: the first one
      // raises the condition for its input and stream (one line), later ones only keep it
      // raised and are counted, and on_tick() clears it once none came for kTimestampQuiet.
      // The probe's timestamp states (`missing`, `drift`: active, then inactive) hold it raised
      // while they last.
      if (cond == "timestamp") {
        const char *k = gst_structure_get_string(s, "kind");
        std::string kind = k ? k : "";
        bool instant = kind != "missing" && kind != "drift";
        std::string ckey = std::string(feed_name(feed)) + "/" + stream_name;
        auto it = ts_active_.find(ckey);
        if (!active) {  // a state ended: quiet from now on
          if (it != ts_active_.end()) {
            it->second.held.erase(kind);
            it->second.last_ms = mono_ms();
          }
          return;
        }
        if (it != ts_active_.end()) {
          it->second.last_ms = mono_ms();
          it->second.more++;
          if (!instant) it->second.held.insert(kind);
          return;
        }
        TimestampCondition c;
        c.last_ms = mono_ms();
        c.feed = feed;
        if (!instant) c.held.insert(kind);
        ts_active_[ckey] = c;
      }
      if (cond == "gap" && active) input_gaps_[feed]++;
      status_.write(wire::Probe{.condition = cond,
                                .active = (bool)active,
                                .stream = stream_name,
                                .detail = detail,
                                .source = feed_name(feed)});
      machine_->on_condition(feed, condition_key(cond, stream_name), active, mono_ms());
      return;
    }
    default:
      return;
  }
}

// The thumbnail never costs the channel: its failure is reported once and stops only its branch.
void Worker::thumbnail_failed(const std::string &reason) {
  if (thumbnail_reported_) return;
  thumbnail_reported_ = true;
  if (output_) stop_thumbnail_branch(GST_BIN(output_));
  status_.write(wire::Event{.event_type = "thumbnail.failed", .reason = reason, .source = ""});
}

}  // namespace iptv::worker
