/**
 * SECTION:element-iptvgapprobe
 * @title: iptvgapprobe
 *
 * A pass-through element that watches a stream for the failures that look fine from outside:
 * no data (a gap), no keyframe (no segment can be cut), broken timestamps, silence, black and a
 * frozen picture. It never changes, delays or copies buffers. Put it on any pad, raw or encoded,
 * video or audio; the checks that apply follow from the caps.
 *
 * Every condition is posted once when it starts and once when it ends, as element messages.
 * Every message carries:
 *  - `element` (string): this element's name;
 *  - `stream-type` (string): `video`, `audio` or `other`;
 *  - `raw` (boolean): whether the stream is raw (uncompressed);
 *  - `running-time` (guint64, ns): the clock's running time when the message was made.
 *
 * Messages:
 *  - `iptvgapprobe-gap`: no buffer for longer than #GstIptvGapProbe:gap-threshold (wall clock).
 *    Field `gap` (guint64 ns): the gap so far. Fired by a clock wait on the pipeline clock, so it
 *    fires while nothing flows.
 *  - `iptvgapprobe-recovered`: data flows again. Field `duration` (guint64 ns): the total outage.
 *    Its `stream-type` is the one its gap was posted with (`other` for a gap before the caps).
 *  - `iptvgapprobe-keyframe-gap`: encoded video without a keyframe for longer than
 *    #GstIptvGapProbe:keyframe-gap-threshold (stream time). Fields `active` (boolean) and, on
 *    the end, `duration` (guint64 ns).
 *  - `iptvgapprobe-timestamp`: field `kind` (string): `backwards` (timestamps went back, field
 *    `amount` = the step), `jump` (forward jump above #GstIptvGapProbe:jump-threshold, `amount`),
 *    `missing` (buffers without timestamps; a condition with `active`), `drift` (a live stream
 *    drifting from the clock by more than #GstIptvGapProbe:drift-threshold; a condition with
 *    `active`, `amount` = the drift as gint64 ns). `backwards` and `jump` are events
 *    (`active` = TRUE only); the conditions carry `duration` when they end. Drift is measured
 *    against the lowest lateness of the stream's first drift-threshold (late first buffers are
 *    no drift). A new segment or a flush ends the conditions it restarts (`missing`, `drift`,
 *    and on a flush a keyframe gap) with their end message.
 *  - `iptvgapprobe-silence`: raw audio below #GstIptvGapProbe:silence-threshold-db for
 *    #GstIptvGapProbe:silence-seconds. Fields `active`, `level-db` (double), `duration` on end.
 *  - `iptvgapprobe-black`: raw video with mean luma below #GstIptvGapProbe:black-threshold for
 *    #GstIptvGapProbe:black-seconds. Fields `active`, `luma` (double 0..1), `duration` on end.
 *  - `iptvgapprobe-freeze`: raw video whose luma (a 48x27 grid of cell means) stays (nearly)
 *    identical, every cell within 8 of 255 and 0.75 on average, for
 *    #GstIptvGapProbe:freeze-seconds. Fields `active`, `duration` on end.
 *
 * Channel records feed the thresholds (iptvd sets them): `failover.primary_loss_seconds` →
 * gap-threshold; `observability.alert_after_segment_gap_seconds` → keyframe-gap-threshold;
 * `quality.silence_threshold_db`/`silence_seconds` → silence-*; `quality.black_threshold`/
 * `black_seconds` → black-*; `quality.freeze_seconds` → freeze-seconds.
 *
 * ## Example launch lines
 * (A still picture freezes after 2 s; silence after 3 s; the UDP feed shows a gap 1 s after
 * its sender stops.)
 * |[
 * gst-launch-1.0 -m videotestsrc is-live=true pattern=checkers-8 ! iptvgapprobe freeze-seconds=2 \
 *   ! fakesink
 * gst-launch-1.0 -m audiotestsrc is-live=true wave=silence ! iptvgapprobe silence-seconds=3 \
 *   ! fakesink
 * gst-launch-1.0 -m udpsrc port=5000 caps=video/mpegts ! tsdemux ! h264parse \
 *   ! iptvgapprobe gap-threshold=1 keyframe-gap-threshold=6 ! fakesink
 * ]|
 */
#include "gstiptvgapprobe.h"

#include <gst/audio/audio.h>
#include <gst/video/video.h>

#include <mutex>
#include <vector>

#include "gapprobe_detector.h"
#include "gstiptvelements.h"

GST_DEBUG_CATEGORY_STATIC(gap_probe_debug);
#define GST_CAT_DEFAULT gap_probe_debug

namespace {

enum class StreamType { kOther, kVideo, kAudio };

const char *stream_type_name(StreamType t) {
  return t == StreamType::kVideo ? "video" : t == StreamType::kAudio ? "audio" : "other";
}

constexpr double kDefaultGap = 2.0;
constexpr double kDefaultKeyframeGap = 12.0;
constexpr double kDefaultJump = 1.0;
constexpr double kDefaultDrift = 2.0;
constexpr double kDefaultSilenceDb = -60.0;
constexpr double kDefaultSilenceSeconds = 10.0;
constexpr double kDefaultBlackThreshold = 0.08;
constexpr double kDefaultBlackSeconds = 10.0;
constexpr double kDefaultFreezeSeconds = 15.0;
// Two pictures are "the same" (a freeze) when their cells differ by less than kFreezeTolerance on
// average (coding noise) and no cell by kFreezeCellTolerance or more: a small moving object on a
// still background (a ball, a presenter) is motion, though it barely moves the average.
constexpr double kFreezeTolerance = 0.75;  // mean abs diff (of 255)
constexpr int kFreezeCellTolerance = 8;    // largest abs diff of one cell (of 255)
constexpr int kGridW = 48, kGridH = 27;

int64_t secs(double s) {
  return static_cast<int64_t>(s * iptv::kNsPerSecond);
}

}  // namespace

// Lock order: state `lock` before `settings_lock`.
// - `settings_lock` guards `settings` (the properties). Property getters take only it, so reading
//   a property never waits for the streaming thread. Streaming code reads settings through
//   settings_snapshot() (a copy), possibly while holding `lock`.
// - `lock` guards the stream state and the watchdog. set_property stores the value under
//   `settings_lock`, releases it, then takes `lock` to pass the new threshold to the trackers.
// Neither is held while posting a message, scheduling a clock wait or calling into GStreamer
// objects other than this element's clock id.
struct Settings {
  double gap_threshold = kDefaultGap;
  double keyframe_gap_threshold = kDefaultKeyframeGap;
  double jump_threshold = kDefaultJump;
  double drift_threshold = kDefaultDrift;
  double silence_db = kDefaultSilenceDb;
  double silence_seconds = kDefaultSilenceSeconds;
  double black_threshold = kDefaultBlackThreshold;
  double black_seconds = kDefaultBlackSeconds;
  double freeze_seconds = kDefaultFreezeSeconds;
};

struct GstIptvGapProbePrivate {
  std::mutex settings_lock;
  Settings settings;

  std::mutex lock;
  // Stream state.
  StreamType type = StreamType::kOther;
  bool raw = false;
  // The stream type the open gap was posted with: its recovery names the same stream, even when
  // the caps came in between (a gap before the first buffer is posted as `other`).
  StreamType gap_type = StreamType::kOther;
  bool gap_raw = false;
  GstVideoInfo vinfo;
  GstAudioInfo ainfo;
  GstSegment segment;
  iptv::GapTracker gap;
  iptv::KeyframeTracker keyframes;
  iptv::TimestampChecker timestamps;
  iptv::HeldCondition silence, black, freeze;
  std::vector<uint8_t> grid, prev_grid;
  double last_level_db = -200, last_luma = 0;
  guint64 buffers = 0;
  int64_t first_running = -1, last_running = -1;
  guint64 units = 0;  // frames or samples, for the measured rate

  // Watchdog.
  GstClock *clock = nullptr;  // the clock `wait_id` belongs to (ref held)
  GstClockID wait_id = nullptr;
  GstClockTime wait_deadline = GST_CLOCK_TIME_NONE;
  bool running = false;  // PLAYING: the watchdog may be armed
  int live = -1;         // upstream is live (latency query); -1 = not asked yet
};

struct _GstIptvGapProbe {
  GstBaseTransform parent;
  GstIptvGapProbePrivate *priv;
};

static Settings settings_snapshot(GstIptvGapProbePrivate *p) {
  std::lock_guard<std::mutex> lock(p->settings_lock);
  return p->settings;
}

G_DEFINE_TYPE(GstIptvGapProbe, gst_iptv_gap_probe, GST_TYPE_BASE_TRANSFORM)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(iptvgapprobe, "iptvgapprobe", GST_RANK_NONE,
                                      GST_TYPE_IPTV_GAP_PROBE,
                                      GST_DEBUG_CATEGORY_INIT(gap_probe_debug, "iptvgapprobe", 0,
                                                              "IPTV stream-health probe"));

enum {
  PROP_0,
  PROP_GAP_THRESHOLD,
  PROP_KEYFRAME_GAP_THRESHOLD,
  PROP_JUMP_THRESHOLD,
  PROP_DRIFT_THRESHOLD,
  PROP_SILENCE_THRESHOLD_DB,
  PROP_SILENCE_SECONDS,
  PROP_BLACK_THRESHOLD,
  PROP_BLACK_SECONDS,
  PROP_FREEZE_SECONDS,
  PROP_STATS,
};

static GstStaticPadTemplate sink_template =
    GST_STATIC_PAD_TEMPLATE("sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

// ---- messages ----

static GstClockTime clock_running_time(GstIptvGapProbe *self, GstClockTime now) {
  GstClockTime base = gst_element_get_base_time(GST_ELEMENT(self));
  if (!GST_CLOCK_TIME_IS_VALID(now) || !GST_CLOCK_TIME_IS_VALID(base) || now < base) return 0;
  return now - base;
}

static GstClockTime clock_now(GstIptvGapProbe *self) {
  GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
  if (!clock) return GST_CLOCK_TIME_NONE;
  GstClockTime t = gst_clock_get_time(clock);
  gst_object_unref(clock);
  return t;
}

// Builds a message structure with the common fields; the caller adds the rest.
static GstStructure *new_message(GstIptvGapProbe *self, const char *name, StreamType type, bool raw,
                                 GstClockTime now) {
  gchar *elname = gst_element_get_name(GST_ELEMENT(self));
  GstStructure *s =
      gst_structure_new(name, "element", G_TYPE_STRING, elname, "stream-type", G_TYPE_STRING,
                        stream_type_name(type), "raw", G_TYPE_BOOLEAN, raw, "running-time",
                        G_TYPE_UINT64, (guint64)clock_running_time(self, now), nullptr);
  g_free(elname);
  return s;
}

static void post_all(GstIptvGapProbe *self, std::vector<GstStructure *> &msgs) {
  for (GstStructure *s : msgs) {
    GST_INFO_OBJECT(self, "%" GST_PTR_FORMAT, s);
    gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
  }
  msgs.clear();
}

static void add_condition(GstIptvGapProbe *self, std::vector<GstStructure *> &out, const char *name,
                          iptv::HeldCondition::Event e, const iptv::HeldCondition &c,
                          StreamType type, bool raw, GstClockTime now) {
  if (e == iptv::HeldCondition::Event::kNone) return;
  GstStructure *s = new_message(self, name, type, raw, now);
  gst_structure_set(s, "active", G_TYPE_BOOLEAN, e == iptv::HeldCondition::Event::kStarted,
                    nullptr);
  if (e == iptv::HeldCondition::Event::kEnded)
    gst_structure_set(s, "duration", G_TYPE_UINT64, (guint64)c.last_duration(), nullptr);
  out.push_back(s);
}

// Call with `lock` held.
static void add_timestamp_issues(GstIptvGapProbe *self, std::vector<GstStructure *> &out,
                                 const std::vector<iptv::TimestampChecker::Issue> &issues,
                                 GstClockTime now) {
  GstIptvGapProbePrivate *p = self->priv;
  for (const auto &i : issues) {
    GstStructure *s = new_message(self, "iptvgapprobe-timestamp", p->type, p->raw, now);
    gst_structure_set(s, "kind", G_TYPE_STRING, iptv::TimestampChecker::name(i.kind), "active",
                      G_TYPE_BOOLEAN, i.active, "amount", G_TYPE_INT64, (gint64)i.amount, nullptr);
    if (!i.active) gst_structure_set(s, "duration", G_TYPE_UINT64, (guint64)i.duration, nullptr);
    out.push_back(s);
  }
}

// ---- the watchdog ----

static gboolean watchdog_fired(GstClock *clock, GstClockTime time, GstClockID id,
                               gpointer user_data);

// Arms (or re-arms) the single clock wait at the gap tracker's deadline. Call without the lock.
static void schedule_watchdog(GstIptvGapProbe *self) {
  GstIptvGapProbePrivate *p = self->priv;
  GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
  if (!clock) return;
  GstClockID old = nullptr, fresh = nullptr;
  GstClock *old_clock = nullptr;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    auto deadline = p->gap.deadline();
    if (!p->running || !deadline) {
      gst_object_unref(clock);
      return;
    }
    // One wait at a time: keep a pending one on the same clock; its callback re-arms.
    if (p->wait_id && p->clock == clock) {
      gst_object_unref(clock);
      return;
    }
    old = p->wait_id;
    old_clock = p->clock;
    fresh = gst_clock_new_single_shot_id(clock, (GstClockTime)*deadline);
    p->wait_id = fresh;
    p->clock = clock;  // takes the ref
    p->wait_deadline = (GstClockTime)*deadline;
  }
  if (old) {
    gst_clock_id_unschedule(old);
    gst_clock_id_unref(old);
  }
  if (old_clock) gst_object_unref(old_clock);
  // The entry holds a reference on the element until it is freed; stop_watchdog() (on
  // PLAYING->PAUSED) and the callback drop the element's reference on the entry.
  gst_clock_id_wait_async(fresh, watchdog_fired, gst_object_ref(self),
                          (GDestroyNotify)gst_object_unref);
}

static gboolean watchdog_fired(GstClock *clock, GstClockTime time, GstClockID id,
                               gpointer user_data) {
  auto *self = GST_IPTV_GAP_PROBE(user_data);
  GstIptvGapProbePrivate *p = self->priv;
  std::vector<GstStructure *> msgs;
  bool rearm = false;
  GstClockTime now = gst_clock_get_time(clock);
  (void)time;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    if (p->wait_id != id) return TRUE;  // unscheduled or replaced
    gst_clock_id_unref(p->wait_id);     // the element's reference; the clock still holds one
    p->wait_id = nullptr;
    if (p->running) {
      if (auto gap = p->gap.check((int64_t)now)) {
        p->gap_type = p->type;
        p->gap_raw = p->raw;
        GstStructure *s = new_message(self, "iptvgapprobe-gap", p->type, p->raw, now);
        gst_structure_set(s, "gap", G_TYPE_UINT64, (guint64)*gap, nullptr);
        msgs.push_back(s);
      } else {
        rearm = true;
      }
    }
  }
  post_all(self, msgs);
  if (rearm) schedule_watchdog(self);
  return TRUE;
}

static void stop_watchdog(GstIptvGapProbe *self) {
  GstIptvGapProbePrivate *p = self->priv;
  GstClockID id = nullptr;
  GstClock *clock = nullptr;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    p->running = false;
    id = p->wait_id;
    p->wait_id = nullptr;
    clock = p->clock;
    p->clock = nullptr;
  }
  if (id) {
    gst_clock_id_unschedule(id);
    gst_clock_id_unref(id);
  }
  if (clock) gst_object_unref(clock);
}

// ---- analysis ----

static void analyse_video(GstIptvGapProbePrivate *p, GstBuffer *buf, int64_t t,
                          std::vector<std::pair<const char *, iptv::HeldCondition::Event>> &ev) {
  GstVideoFrame frame;
  if (!gst_video_frame_map(&frame, &p->vinfo, buf, GST_MAP_READ)) {
    GST_LOG("could not map a %s frame", GST_VIDEO_INFO_NAME(&p->vinfo));
    return;
  }
  const GstVideoFormatInfo *fi = frame.info.finfo;
  int comp = 0;  // luma for YUV and GRAY; green (closest to luma) for RGB
  if (GST_VIDEO_FORMAT_INFO_IS_RGB(fi)) comp = 1;
  int depth = GST_VIDEO_FORMAT_INFO_DEPTH(fi, comp);
  // 8-bit samples, or 16-bit ones read through their most significant byte.
  if (depth == 8 || (depth == 16 && GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, comp) >= 2)) {
    const uint8_t *plane = static_cast<const uint8_t *>(GST_VIDEO_FRAME_COMP_DATA(&frame, comp));
    if (depth == 16 && GST_VIDEO_FORMAT_INFO_IS_LE(fi)) plane += 1;
    int w = GST_VIDEO_FRAME_COMP_WIDTH(&frame, comp), h = GST_VIDEO_FRAME_COMP_HEIGHT(&frame, comp);
    int stride = GST_VIDEO_FRAME_COMP_STRIDE(&frame, comp);
    int ps = GST_VIDEO_FRAME_COMP_PSTRIDE(&frame, comp);
    iptv::sample_grid(plane, w, h, stride, ps, kGridW, kGridH, p->grid);
    double sum = 0;
    for (uint8_t v : p->grid) sum += v;
    double luma = sum / p->grid.size() / 255.0;
    if (GST_VIDEO_FORMAT_INFO_IS_YUV(fi) &&
        !(p->vinfo.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255))
      luma = std::max(0.0, (luma * 255.0 - 16.0) / 219.0);  // limited range: 16 is black
    p->last_luma = luma;
    ev.push_back(
        {"iptvgapprobe-black", p->black.observe(luma < settings_snapshot(p).black_threshold, t)});
    bool same = !p->prev_grid.empty() &&
                iptv::grid_difference(p->grid, p->prev_grid) < kFreezeTolerance &&
                iptv::grid_max_difference(p->grid, p->prev_grid) < kFreezeCellTolerance;
    ev.push_back({"iptvgapprobe-freeze", p->freeze.observe(same, t)});
    p->prev_grid.swap(p->grid);
  }
  gst_video_frame_unmap(&frame);
}

static void analyse_audio(GstIptvGapProbePrivate *p, GstBuffer *buf, int64_t t,
                          std::vector<std::pair<const char *, iptv::HeldCondition::Event>> &ev) {
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return;
  GstAudioFormat fmt = GST_AUDIO_INFO_FORMAT(&p->ainfo);
  double db = 0;
  bool known = true;
  if (fmt == GST_AUDIO_FORMAT_S16)
    db = iptv::rms_db_s16(reinterpret_cast<const int16_t *>(map.data), map.size / 2);
  else if (fmt == GST_AUDIO_FORMAT_F32)
    db = iptv::rms_db_f32(reinterpret_cast<const float *>(map.data), map.size / 4);
  else if (fmt == GST_AUDIO_FORMAT_S32)
    db = iptv::rms_db_s32(reinterpret_cast<const int32_t *>(map.data), map.size / 4);
  else
    known = false;
  gst_buffer_unmap(buf, &map);
  if (!known) return;
  p->last_level_db = db;
  ev.push_back(
      {"iptvgapprobe-silence", p->silence.observe(db < settings_snapshot(p).silence_db, t)});
}

static GstFlowReturn gst_iptv_gap_probe_transform_ip(GstBaseTransform *bt, GstBuffer *buf) {
  auto *self = GST_IPTV_GAP_PROBE(bt);
  GstIptvGapProbePrivate *p = self->priv;
  GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
  GstClockTime now = clock ? gst_clock_get_time(clock) : GST_CLOCK_TIME_NONE;
  std::vector<GstStructure *> msgs;
  bool need_schedule = false;
  bool ask_live;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    ask_live = p->live < 0;
  }
  if (ask_live) {
    // Drift from real time only means something for live sources: ask upstream once.
    GstQuery *q = gst_query_new_latency();
    gboolean live = FALSE;
    if (gst_pad_peer_query(GST_BASE_TRANSFORM_SINK_PAD(bt), q))
      gst_query_parse_latency(q, &live, nullptr, nullptr);
    gst_query_unref(q);
    std::lock_guard<std::mutex> lock(p->lock);
    p->live = live ? 1 : 0;
  }
  {
    std::lock_guard<std::mutex> lock(p->lock);
    p->buffers++;
    if (GST_CLOCK_TIME_IS_VALID(now)) {
      if (auto outage = p->gap.on_buffer((int64_t)now)) {
        GstStructure *s = new_message(self, "iptvgapprobe-recovered", p->gap_type, p->gap_raw, now);
        gst_structure_set(s, "duration", G_TYPE_UINT64, (guint64)*outage, nullptr);
        msgs.push_back(s);
      }
      // (Re-)arm when no wait is pending, or when the pipeline switched clocks under it.
      need_schedule = p->running && (!p->wait_id || p->clock != clock);
    }

    GstClockTime ts = GST_BUFFER_DTS_OR_PTS(buf);
    GstClockTime running = GST_CLOCK_TIME_NONE;
    if (GST_CLOCK_TIME_IS_VALID(GST_BUFFER_PTS(buf)) && p->segment.format == GST_FORMAT_TIME)
      running = gst_segment_to_running_time(&p->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
    bool live = GST_CLOCK_TIME_IS_VALID(now) && p->running && p->live == 1;
    int64_t wall = live ? (int64_t)clock_running_time(self, now) : -1;
    auto issues = p->timestamps.on_buffer(
        GST_CLOCK_TIME_IS_VALID(ts) ? (int64_t)ts : -1,
        GST_BUFFER_DURATION_IS_VALID(buf) ? (int64_t)GST_BUFFER_DURATION(buf) : -1,
        GST_CLOCK_TIME_IS_VALID(running) ? (int64_t)running : -1, wall);
    add_timestamp_issues(self, msgs, issues, now);

    if (GST_CLOCK_TIME_IS_VALID(running)) {
      int64_t t = (int64_t)running;
      if (p->first_running < 0) p->first_running = t;
      p->last_running = t;
      std::vector<std::pair<const char *, iptv::HeldCondition::Event>> ev;
      if (p->type == StreamType::kVideo && !p->raw) {
        bool key = !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT);
        auto e = p->keyframes.on_buffer(t, key);
        ev.push_back({"iptvgapprobe-keyframe-gap", e});
        p->units++;
        for (auto &[name, event] : ev)
          add_condition(self, msgs, name, event, p->keyframes.condition(), p->type, p->raw, now);
        ev.clear();
      } else if (p->type == StreamType::kVideo && p->raw) {
        analyse_video(p, buf, t, ev);
        p->units++;
      } else if (p->type == StreamType::kAudio && p->raw) {
        analyse_audio(p, buf, t, ev);
        if (GST_AUDIO_INFO_BPF(&p->ainfo) > 0)
          p->units += gst_buffer_get_size(buf) / GST_AUDIO_INFO_BPF(&p->ainfo);
      } else {
        p->units++;
      }
      for (auto &[name, event] : ev) {
        const iptv::HeldCondition &c = g_str_equal(name, "iptvgapprobe-black")    ? p->black
                                       : g_str_equal(name, "iptvgapprobe-freeze") ? p->freeze
                                                                                  : p->silence;
        size_t before = msgs.size();
        add_condition(self, msgs, name, event, c, p->type, p->raw, now);
        if (msgs.size() > before) {
          if (g_str_equal(name, "iptvgapprobe-black"))
            gst_structure_set(msgs.back(), "luma", G_TYPE_DOUBLE, p->last_luma, nullptr);
          else if (g_str_equal(name, "iptvgapprobe-silence"))
            gst_structure_set(msgs.back(), "level-db", G_TYPE_DOUBLE, p->last_level_db, nullptr);
        }
      }
    }
  }
  if (clock) gst_object_unref(clock);
  post_all(self, msgs);
  if (need_schedule) schedule_watchdog(self);
  return GST_FLOW_OK;
}

// ---- caps, events, states ----

static gboolean gst_iptv_gap_probe_set_caps(GstBaseTransform *bt, GstCaps *incaps, GstCaps *) {
  auto *self = GST_IPTV_GAP_PROBE(bt);
  GstIptvGapProbePrivate *p = self->priv;
  GstStructure *s = gst_caps_get_structure(incaps, 0);
  const char *name = gst_structure_get_name(s);
  std::lock_guard<std::mutex> lock(p->lock);
  p->raw = false;
  p->type = StreamType::kOther;
  if (g_str_has_prefix(name, "video/")) {
    p->type = StreamType::kVideo;
    p->raw = g_str_equal(name, "video/x-raw") && gst_video_info_from_caps(&p->vinfo, incaps);
  } else if (g_str_has_prefix(name, "audio/")) {
    p->type = StreamType::kAudio;
    p->raw = g_str_equal(name, "audio/x-raw") && gst_audio_info_from_caps(&p->ainfo, incaps);
  } else if (g_str_has_prefix(name, "image/")) {
    p->type = StreamType::kVideo;
  }
  p->prev_grid.clear();
  GST_DEBUG_OBJECT(self, "stream type %s raw %d", stream_type_name(p->type), p->raw);
  return TRUE;
}

static gboolean gst_iptv_gap_probe_sink_event(GstBaseTransform *bt, GstEvent *event) {
  auto *self = GST_IPTV_GAP_PROBE(bt);
  GstIptvGapProbePrivate *p = self->priv;
  // A new segment or a flush restarts the timestamp (and, on a flush, keyframe) checks; the
  // conditions they had raised are ended here, not dropped: a condition raised and never ended
  // kept a channel `degraded` for good.
  std::vector<GstStructure *> msgs;
  GstEventType type = GST_EVENT_TYPE(event);
  if (type == GST_EVENT_SEGMENT || type == GST_EVENT_FLUSH_STOP) {
    GstClockTime now = clock_now(self);
    std::lock_guard<std::mutex> lock(p->lock);
    int64_t wall = GST_CLOCK_TIME_IS_VALID(now) && p->running && p->live == 1
                       ? (int64_t)clock_running_time(self, now)
                       : -1;
    add_timestamp_issues(self, msgs, p->timestamps.reset(wall), now);
    if (type == GST_EVENT_SEGMENT) {
      gst_event_copy_segment(event, &p->segment);
    } else {
      gst_segment_init(&p->segment, GST_FORMAT_UNDEFINED);
      add_condition(self, msgs, "iptvgapprobe-keyframe-gap", p->keyframes.reset(),
                    p->keyframes.condition(), p->type, p->raw, now);
      p->live = -1;
    }
  }
  post_all(self, msgs);
  return GST_BASE_TRANSFORM_CLASS(gst_iptv_gap_probe_parent_class)->sink_event(bt, event);
}

// Call with `lock` held.
static void reset_stream(GstIptvGapProbePrivate *p) {
  const Settings st = settings_snapshot(p);
  p->gap = iptv::GapTracker(secs(st.gap_threshold));
  p->keyframes = iptv::KeyframeTracker(secs(st.keyframe_gap_threshold));
  p->timestamps = iptv::TimestampChecker();
  p->timestamps.set_jump_threshold(secs(st.jump_threshold));
  p->timestamps.set_drift_threshold(secs(st.drift_threshold));
  p->silence = iptv::HeldCondition(secs(st.silence_seconds));
  p->black = iptv::HeldCondition(secs(st.black_seconds));
  p->freeze = iptv::HeldCondition(secs(st.freeze_seconds));
  p->grid.clear();
  p->prev_grid.clear();
  p->buffers = p->units = 0;
  p->first_running = p->last_running = -1;
  p->live = -1;
  gst_segment_init(&p->segment, GST_FORMAT_UNDEFINED);
}

static gboolean gst_iptv_gap_probe_start(GstBaseTransform *bt) {
  auto *self = GST_IPTV_GAP_PROBE(bt);
  std::lock_guard<std::mutex> lock(self->priv->lock);
  reset_stream(self->priv);
  return TRUE;
}

static GstStateChangeReturn gst_iptv_gap_probe_change_state(GstElement *element,
                                                            GstStateChange transition) {
  auto *self = GST_IPTV_GAP_PROBE(element);
  GstIptvGapProbePrivate *p = self->priv;
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED) stop_watchdog(self);
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_iptv_gap_probe_parent_class)->change_state(element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) return ret;
  if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING) {
    GstClockTime now = clock_now(self);
    {
      std::lock_guard<std::mutex> lock(p->lock);
      p->running = true;
      // Nothing has to flow for the watchdog to fire: arm it from the moment we play.
      if (GST_CLOCK_TIME_IS_VALID(now) && !p->gap.deadline() && !p->gap.in_gap())
        p->gap.start((int64_t)now);
    }
    schedule_watchdog(self);
  }
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) stop_watchdog(self);
  return ret;
}

// ---- properties ----

static GstStructure *make_stats(GstIptvGapProbe *self) {
  GstIptvGapProbePrivate *p = self->priv;
  GstClockTime now = clock_now(self);
  std::lock_guard<std::mutex> lock(p->lock);
  int64_t n = GST_CLOCK_TIME_IS_VALID(now) ? (int64_t)now : p->gap.last_arrival();
  double rate = 0;
  if (p->last_running > p->first_running && p->units > 1)
    rate = (double)(p->units - (p->type == StreamType::kAudio ? 0 : 1)) * iptv::kNsPerSecond /
           (double)(p->last_running - p->first_running);
  int64_t t = p->last_running >= 0 ? p->last_running : 0;
  return gst_structure_new(
      "application/x-iptvgapprobe-stats", "stream-type", G_TYPE_STRING, stream_type_name(p->type),
      "raw", G_TYPE_BOOLEAN, p->raw, "buffers", G_TYPE_UINT64, p->buffers, "current-gap",
      G_TYPE_UINT64, (guint64)p->gap.current_gap(n), "max-gap", G_TYPE_UINT64,
      (guint64)p->gap.max_gap(), "last-buffer-age", G_TYPE_UINT64, (guint64)p->gap.current_gap(n),
      "keyframe-interval", G_TYPE_UINT64, (guint64)p->keyframes.last_interval(),
      "max-keyframe-interval", G_TYPE_UINT64, (guint64)p->keyframes.max_interval(), "rate",
      G_TYPE_DOUBLE, rate, "gaps", G_TYPE_UINT64, (guint64)p->gap.count(), "gap-time",
      G_TYPE_UINT64, (guint64)p->gap.total_ns(n), "keyframe-gaps", G_TYPE_UINT64,
      (guint64)p->keyframes.condition().count(), "keyframe-gap-time", G_TYPE_UINT64,
      (guint64)p->keyframes.condition().total_ns(t), "timestamp-backwards", G_TYPE_UINT64,
      (guint64)p->timestamps.count(iptv::TimestampChecker::Kind::kBackwards), "timestamp-jumps",
      G_TYPE_UINT64, (guint64)p->timestamps.count(iptv::TimestampChecker::Kind::kJump),
      "timestamp-missing", G_TYPE_UINT64,
      (guint64)p->timestamps.count(iptv::TimestampChecker::Kind::kMissing), "timestamp-drifts",
      G_TYPE_UINT64, (guint64)p->timestamps.count(iptv::TimestampChecker::Kind::kDrift), "drift",
      G_TYPE_INT64, (gint64)p->timestamps.drift(), "silences", G_TYPE_UINT64,
      (guint64)p->silence.count(), "silence-time", G_TYPE_UINT64, (guint64)p->silence.total_ns(t),
      "blacks", G_TYPE_UINT64, (guint64)p->black.count(), "black-time", G_TYPE_UINT64,
      (guint64)p->black.total_ns(t), "freezes", G_TYPE_UINT64, (guint64)p->freeze.count(),
      "freeze-time", G_TYPE_UINT64, (guint64)p->freeze.total_ns(t), "level-db", G_TYPE_DOUBLE,
      p->last_level_db, "luma", G_TYPE_DOUBLE, p->last_luma, nullptr);
}

static void gst_iptv_gap_probe_set_property(GObject *object, guint prop_id, const GValue *value,
                                            GParamSpec *pspec) {
  auto *self = GST_IPTV_GAP_PROBE(object);
  GstIptvGapProbePrivate *p = self->priv;
  double v = G_VALUE_HOLDS_DOUBLE(value) ? g_value_get_double(value) : 0;
  {
    std::lock_guard<std::mutex> lock(p->settings_lock);
    Settings &st = p->settings;
    switch (prop_id) {
      case PROP_GAP_THRESHOLD:
        st.gap_threshold = v;
        break;
      case PROP_KEYFRAME_GAP_THRESHOLD:
        st.keyframe_gap_threshold = v;
        break;
      case PROP_JUMP_THRESHOLD:
        st.jump_threshold = v;
        break;
      case PROP_DRIFT_THRESHOLD:
        st.drift_threshold = v;
        break;
      case PROP_SILENCE_THRESHOLD_DB:
        st.silence_db = v;
        break;
      case PROP_SILENCE_SECONDS:
        st.silence_seconds = v;
        break;
      case PROP_BLACK_THRESHOLD:
        st.black_threshold = v;
        break;
      case PROP_BLACK_SECONDS:
        st.black_seconds = v;
        break;
      case PROP_FREEZE_SECONDS:
        st.freeze_seconds = v;
        break;
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        return;
    }
  }
  // The running trackers take the new threshold at once (settings_lock released: lock order).
  std::lock_guard<std::mutex> lock(p->lock);
  switch (prop_id) {
    case PROP_GAP_THRESHOLD:
      p->gap.set_threshold(secs(v));
      break;
    case PROP_KEYFRAME_GAP_THRESHOLD:
      p->keyframes.set_threshold(secs(v));
      break;
    case PROP_JUMP_THRESHOLD:
      p->timestamps.set_jump_threshold(secs(v));
      break;
    case PROP_DRIFT_THRESHOLD:
      p->timestamps.set_drift_threshold(secs(v));
      break;
    case PROP_SILENCE_SECONDS:
      p->silence.set_hold(secs(v));
      break;
    case PROP_BLACK_SECONDS:
      p->black.set_hold(secs(v));
      break;
    case PROP_FREEZE_SECONDS:
      p->freeze.set_hold(secs(v));
      break;
    default:  // read from the settings where used (silence and black thresholds)
      break;
  }
}

static void gst_iptv_gap_probe_get_property(GObject *object, guint prop_id, GValue *value,
                                            GParamSpec *pspec) {
  auto *self = GST_IPTV_GAP_PROBE(object);
  GstIptvGapProbePrivate *p = self->priv;
  if (prop_id == PROP_STATS) {
    g_value_take_boxed(value, make_stats(self));
    return;
  }
  std::lock_guard<std::mutex> lock(p->settings_lock);
  const Settings &st = p->settings;
  switch (prop_id) {
    case PROP_GAP_THRESHOLD:
      g_value_set_double(value, st.gap_threshold);
      break;
    case PROP_KEYFRAME_GAP_THRESHOLD:
      g_value_set_double(value, st.keyframe_gap_threshold);
      break;
    case PROP_JUMP_THRESHOLD:
      g_value_set_double(value, st.jump_threshold);
      break;
    case PROP_DRIFT_THRESHOLD:
      g_value_set_double(value, st.drift_threshold);
      break;
    case PROP_SILENCE_THRESHOLD_DB:
      g_value_set_double(value, st.silence_db);
      break;
    case PROP_SILENCE_SECONDS:
      g_value_set_double(value, st.silence_seconds);
      break;
    case PROP_BLACK_THRESHOLD:
      g_value_set_double(value, st.black_threshold);
      break;
    case PROP_BLACK_SECONDS:
      g_value_set_double(value, st.black_seconds);
      break;
    case PROP_FREEZE_SECONDS:
      g_value_set_double(value, st.freeze_seconds);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_iptv_gap_probe_finalize(GObject *object) {
  auto *self = GST_IPTV_GAP_PROBE(object);
  stop_watchdog(self);
  delete self->priv;
  G_OBJECT_CLASS(gst_iptv_gap_probe_parent_class)->finalize(object);
}

static void install_seconds(GObjectClass *klass, guint id, const char *name, const char *nick,
                            const char *blurb, double min, double max, double def) {
  g_object_class_install_property(
      klass, id,
      g_param_spec_double(
          name, nick, blurb, min, max, def,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
}

static void gst_iptv_gap_probe_class_init(GstIptvGapProbeClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBaseTransformClass *bt_class = GST_BASE_TRANSFORM_CLASS(klass);

  gobject_class->set_property = gst_iptv_gap_probe_set_property;
  gobject_class->get_property = gst_iptv_gap_probe_get_property;
  gobject_class->finalize = gst_iptv_gap_probe_finalize;

  // gap-threshold: seconds without any buffer (wall clock) before iptvgapprobe-gap.
  // Fed by the channel record's failover.primary_loss_seconds.
  install_seconds(gobject_class, PROP_GAP_THRESHOLD, "gap-threshold", "Gap threshold",
                  "Seconds without data (wall clock) before a gap is reported", 0.01, 3600,
                  kDefaultGap);
  // keyframe-gap-threshold: seconds of encoded video without a keyframe (no segment can be cut).
  // Fed by observability.alert_after_segment_gap_seconds.
  install_seconds(gobject_class, PROP_KEYFRAME_GAP_THRESHOLD, "keyframe-gap-threshold",
                  "Keyframe gap threshold",
                  "Seconds of encoded video without a keyframe before a keyframe gap is reported",
                  0.01, 3600, kDefaultKeyframeGap);
  // jump-threshold: a forward timestamp step larger than this is a jump.
  install_seconds(gobject_class, PROP_JUMP_THRESHOLD, "jump-threshold", "Jump threshold",
                  "Seconds of forward timestamp step reported as a jump", 0.001, 3600,
                  kDefaultJump);
  // drift-threshold: on live streams, how far buffer running time may drift from the clock.
  install_seconds(gobject_class, PROP_DRIFT_THRESHOLD, "drift-threshold", "Drift threshold",
                  "Seconds a live stream may drift from the pipeline clock", 0.001, 3600,
                  kDefaultDrift);
  // silence-threshold-db: raw audio whose RMS stays below this level is silent.
  // Fed by quality.silence_threshold_db.
  g_object_class_install_property(
      gobject_class, PROP_SILENCE_THRESHOLD_DB,
      g_param_spec_double(
          "silence-threshold-db", "Silence threshold",
          "RMS level in dBFS below which audio counts as silence", -200, 0, kDefaultSilenceDb,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  // silence-seconds: how long audio must stay silent (stream time). Fed by quality.silence_seconds.
  install_seconds(gobject_class, PROP_SILENCE_SECONDS, "silence-seconds", "Silence seconds",
                  "Seconds of silence before it is reported", 0, 3600, kDefaultSilenceSeconds);
  // black-threshold: mean luma (0..1 of the nominal range) below which a picture is black.
  // Fed by quality.black_threshold.
  g_object_class_install_property(
      gobject_class, PROP_BLACK_THRESHOLD,
      g_param_spec_double(
          "black-threshold", "Black threshold",
          "Mean luma (0..1) below which a picture counts as black", 0, 1, kDefaultBlackThreshold,
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  // black-seconds: how long the picture must stay black. Fed by quality.black_seconds.
  install_seconds(gobject_class, PROP_BLACK_SECONDS, "black-seconds", "Black seconds",
                  "Seconds of black picture before it is reported", 0, 3600, kDefaultBlackSeconds);
  // freeze-seconds: how long the picture must stay (nearly) identical. Fed by
  // quality.freeze_seconds.
  install_seconds(gobject_class, PROP_FREEZE_SECONDS, "freeze-seconds", "Freeze seconds",
                  "Seconds of identical pictures before a freeze is reported", 0, 3600,
                  kDefaultFreezeSeconds);
  // stats: a snapshot (application/x-iptvgapprobe-stats) of buffers seen, current and maximum
  // gap, last buffer age, keyframe interval (last, max), measured frame or sample rate, the
  // count of each condition and the time spent in each.
  g_object_class_install_property(
      gobject_class, PROP_STATS,
      g_param_spec_boxed("stats", "Statistics", "Stream-health statistics", GST_TYPE_STRUCTURE,
                         (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "IPTV stream-health probe", "Filter/Analyzer",
      "Pass-through sensor for gaps, keyframe gaps, timestamps, silence, black and freeze",
      "gst-iptv");
  element_class->change_state = gst_iptv_gap_probe_change_state;

  bt_class->passthrough_on_same_caps = TRUE;
  bt_class->transform_ip_on_passthrough = TRUE;
  bt_class->transform_ip = gst_iptv_gap_probe_transform_ip;
  bt_class->set_caps = gst_iptv_gap_probe_set_caps;
  bt_class->sink_event = gst_iptv_gap_probe_sink_event;
  bt_class->start = gst_iptv_gap_probe_start;
}

static void gst_iptv_gap_probe_init(GstIptvGapProbe *self) {
  self->priv = new GstIptvGapProbePrivate();
  gst_video_info_init(&self->priv->vinfo);
  gst_audio_info_init(&self->priv->ainfo);
  reset_stream(self->priv);
  gst_base_transform_set_passthrough(GST_BASE_TRANSFORM(self), TRUE);
  gst_base_transform_set_in_place(GST_BASE_TRANSFORM(self), TRUE);
}
