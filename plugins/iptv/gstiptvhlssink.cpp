/**
 * SECTION:element-iptvhlssink
 * @title: iptvhlssink
 *
 * Multi-rendition HLS: one MPEG-TS media playlist per video rendition, with the AAC audio muxed
 * into every one, and a multivariant playlist over them.
 *
 * Files: `<location>/index.m3u8` (multivariant), `<location>/<rendition>/index.m3u8` (media)
 * and `<location>/<rendition>/seg-<sequence>.ts`.
 *
 * - Request pads `video_%u` (parsed H.264 or H.265, byte-stream, AU-aligned) and `audio` (AAC).
 * - Segments start on keyframes: at the first keyframe in a later multiple of
 *   #GstIptvHlsSink:target-duration (UTC in sequence-mode=epoch, running time in counter mode),
 *   so with iptvabrladder's keyframe grid every segment lasts exactly the target and every
 *   rendition cuts at the same instants.
 * - Media playlists follow RFC 8216: fractional EXTINF, TARGETDURATION at least every rounded
 *   EXTINF, MEDIA-SEQUENCE, PROGRAM-DATE-TIME on every segment, DISCONTINUITY and
 *   DISCONTINUITY-SEQUENCE on caps changes, timestamp jumps and upstream `iptv-discontinuity`
 *   custom events (downstream, serialized), live sliding window, DVR window, EVENT and VOD with
 *   ENDLIST at EOS.
 * - Writes are atomic (temporary file + rename); a segment is listed only once closed; segments
 *   that leave the window stay on disk for #GstIptvHlsSink:segment-retention seconds.
 * - Restarts continue: sequence-mode=epoch numbers the first segment floor(UTC / target), and
 *   the previous playlist on disk (or the state file in counter mode) is continued with a
 *   DISCONTINUITY and its DISCONTINUITY-SEQUENCE.
 * - The multivariant playlist lists variants ordered by BANDWIDTH (measured peak segment rate),
 *   with AVERAGE-BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS from the real SPS and the AAC
 *   config, and EXT-X-INDEPENDENT-SEGMENTS.
 *
 * Messages:
 *  - `iptvhlssink-segment-added`: `rendition` (string), `sequence` (guint64), `duration`
 *    (double, s), `bytes` (guint64), `pts` (guint64 running time of the segment start, ns),
 *    `path` (string), `discontinuity` (boolean).
 *  - `iptvhlssink-playlist-written`: `rendition` (string; "" for the multivariant playlist),
 *    `path` (string), `media-sequence` (guint64), `discontinuity-sequence` (guint64),
 *    `segments` (guint).
 *
 * - Serving: with #GstIptvHlsSink:http-port set, the tree is served over HTTP under
 *   /hls/<channel-id>/ (core/origin), token-gated when #GstIptvHlsSink:token-key-file is set.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true \
 *   ! iptvabrladder profiles=720p-3mbps,360p-600kbps name=l \
 *   audiotestsrc is-live=true ! avenc_aac ! s.audio \
 *   l.src_0 ! s.video_0  l.src_1 ! s.video_1 \
 *   iptvhlssink name=s location=/tmp/ch rendition-names=720p,360p target-duration=4
 * ]|
 */
#include "gstiptvhlssink.h"

#include <gst/video/video.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "gstiptvelements.h"
#include "hls/playlist.h"
#include "origin/origin.h"
#include "hlssink_continuity.h"
#include "hlssink_segmenter.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

GST_DEBUG_CATEGORY_STATIC(hls_sink_debug);
#define GST_CAT_DEFAULT hls_sink_debug

// Lock order: priv->lock (stream state) before priv->settings_lock (properties).
// - settings_lock guards `settings`. Getters take only it, so reading a property never waits for
//   a streaming thread; setters store the value under it and release it before they take `lock`
//   (rendition-names and disabled-renditions then apply the change to the renditions).
// - lock guards everything else, including `cfg`, the settings in force, which streaming code
//   reads. It may take settings_lock inside (settings_snapshot()), never the reverse.
// Neither is held while posting messages, emitting signals or changing element state.

namespace {

enum class SeqMode { kEpoch, kCounter };

struct PendingStart {
  uint64_t sequence;
  bool discontinuity;
  int64_t utc_ms;
  GstClockTime running_time;
  GstClockTime prev_end = GST_CLOCK_TIME_NONE;  // end of the last frame written before it
};

struct Retired {
  std::string path;
  gint64 removed_at;  // monotonic us
};

struct Rendition {
  guint index = 0;
  std::string name;
  GstElement *splitmux = nullptr;
  GstPad *ghost = nullptr;            // our video_%u pad
  GstElement *audio_queue = nullptr;  // branch from the audio tee, if any
  GstPad *audio_tee_pad = nullptr;
  std::unique_ptr<iptv::Segmenter> segmenter;
  std::unique_ptr<iptv::hls::MediaPlaylist> playlist;
  GstSegment segment;
  // Variant facts.
  int width = 0, height = 0;
  double fps = 0;
  std::string video_codec;
  bool hevc = false;
  GstCaps *last_caps = nullptr;
  GstClockTime expected_next = GST_CLOCK_TIME_NONE;
  GstClockTime max_end = GST_CLOCK_TIME_NONE;
  GstClockTime prev_end = GST_CLOCK_TIME_NONE;  // max_end before the current buffer
  bool pending_discontinuity = false;
  // Operator switch (disabled-renditions): a disabled rendition drops its input, leaves the
  // multivariant playlist, and resumes at a keyframe with a discontinuity.
  bool disabled = false;
  bool resync = false;  // re-enabled: drop until a keyframe (audio too)
  // Fragments.
  std::deque<PendingStart> pending;  // decided by the input probe, consumed when files open
  PendingStart open{};               // the fragment being written
  bool have_open = false;
  std::string open_path;
  uint64_t peak_bps = 0;
  double total_seconds = 0;
  uint64_t total_bytes = 0;
  std::deque<Retired> retired;
  // The muxer's output continuity counters, continued across segments (muxer streaming thread).
  iptv::TsContinuity continuity;
};

}  // namespace

// The properties. Guarded by GstIptvHlsSinkPrivate::settings_lock.
struct Settings {
  std::string location = "hls";
  double target = 4.0;
  guint window = 6;
  double dvr = 0;
  iptv::hls::PlaylistType type = iptv::hls::PlaylistType::kLive;
  SeqMode mode = SeqMode::kEpoch;
  std::string state_file;
  std::vector<std::string> names;
  double retention = -1;  // < 0: one window's worth
  std::string channel_id = "live";
  int http_port = -1;  // < 0: do not serve
  std::string http_address = "127.0.0.1";
  std::string token_key_file;
  std::set<std::string> disabled_names;
};

struct GstIptvHlsSinkPrivate {
  std::mutex settings_lock;
  Settings settings;  // as set; read by the getters

  std::mutex lock;
  // The settings in force: copied from `settings` when the element goes READY -> PAUSED;
  // rendition-names and disabled-renditions (mutable in PLAYING) are also copied when set.
  Settings cfg;
  std::unique_ptr<iptv::Origin> origin;
  // Topology.
  std::vector<std::unique_ptr<Rendition>> renditions;
  GstElement *audio_tee = nullptr;
  GstPad *audio_ghost = nullptr;
  std::string audio_codec;
  // Streaming.
  bool have_utc_offset = false;
  gint64 utc_offset = 0;
  std::string last_multivariant;
  size_t eos_count = 0;
};

struct _GstIptvHlsSink {
  GstBin parent;
  GstIptvHlsSinkPrivate *priv;
};

G_DEFINE_TYPE(GstIptvHlsSink, gst_iptv_hls_sink, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(iptvhlssink, "iptvhlssink", GST_RANK_NONE,
                                      GST_TYPE_IPTV_HLS_SINK,
                                      GST_DEBUG_CATEGORY_INIT(hls_sink_debug, "iptvhlssink", 0,
                                                              "IPTV multi-rendition HLS sink"));

enum {
  PROP_0,
  PROP_LOCATION,
  PROP_TARGET_DURATION,
  PROP_PLAYLIST_LENGTH,
  PROP_DVR_SECONDS,
  PROP_PLAYLIST_TYPE,
  PROP_SEQUENCE_MODE,
  PROP_STATE_FILE,
  PROP_RENDITION_NAMES,
  PROP_SEGMENT_RETENTION,
  PROP_CHANNEL_ID,
  PROP_HTTP_PORT,
  PROP_HTTP_ADDRESS,
  PROP_TOKEN_KEY_FILE,
  PROP_DISABLED_RENDITIONS,
};

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE(
    "video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS("video/x-h264, stream-format=(string)byte-stream, alignment=(string)au; "
                    "video/x-h265, stream-format=(string)byte-stream, alignment=(string)au"));
static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE(
    "audio", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS("audio/mpeg, mpegversion=(int)4"));

#define GST_TYPE_IPTV_HLS_SINK_PLAYLIST_TYPE (gst_iptv_hls_sink_playlist_type_get_type())
static GType gst_iptv_hls_sink_playlist_type_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {(gint)iptv::hls::PlaylistType::kLive, "Live sliding window", "live"},
      {(gint)iptv::hls::PlaylistType::kEvent, "EVENT: segments are only appended", "event"},
      {(gint)iptv::hls::PlaylistType::kVod, "VOD: complete at EOS", "vod"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstIptvHlsSinkPlaylistType", values));
  return type;
}

#define GST_TYPE_IPTV_HLS_SINK_SEQUENCE_MODE (gst_iptv_hls_sink_sequence_mode_get_type())
static GType gst_iptv_hls_sink_sequence_mode_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {(gint)SeqMode::kEpoch, "Numbers from UTC: floor(UTC / target) at start", "epoch"},
      {(gint)SeqMode::kCounter, "Numbers continue from the state file", "counter"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstIptvHlsSinkSequenceMode", values));
  return type;
}

// ---- helpers ----

static Settings settings_snapshot(GstIptvHlsSinkPrivate *p) {
  std::lock_guard<std::mutex> lock(p->settings_lock);
  return p->settings;
}

static std::string rendition_dir(GstIptvHlsSinkPrivate *p, const Rendition *r) {
  return p->cfg.location + "/" + r->name;
}

static void post(GstIptvHlsSink *self, GstStructure *s) {
  gst_element_post_message(GST_ELEMENT(self), gst_message_new_element(GST_OBJECT(self), s));
}

static gint64 utc_ns_for(GstIptvHlsSink *self, GstBuffer *buf, GstClockTime running) {
  GstIptvHlsSinkPrivate *p = self->priv;
  // Made once, kept for the life of the process (flagged so the leaks tracer does not report it).
  static GstCaps *unix_caps = [] {
    GstCaps *c = gst_caps_new_empty_simple("timestamp/x-unix");
    GST_MINI_OBJECT_FLAG_SET(c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    return c;
  }();
  if (GstReferenceTimestampMeta *m = gst_buffer_get_reference_timestamp_meta(buf, unix_caps))
    return (gint64)m->timestamp;
  if (!p->have_utc_offset) {
    GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
    if (!clock) return g_get_real_time() * 1000;
    GstClockTime now = gst_clock_get_time(clock);
    gst_object_unref(clock);
    p->utc_offset = g_get_real_time() * 1000 - (gint64)now;
    p->have_utc_offset = true;
  }
  return (gint64)(gst_element_get_base_time(GST_ELEMENT(self)) + running) + p->utc_offset;
}

// Writes the multivariant playlist once every rendition has a segment (and again when a
// variant's figures change). Call with the lock held; returns a message to post, or nullptr.
static GstStructure *write_multivariant_locked(GstIptvHlsSink *self) {
  GstIptvHlsSinkPrivate *p = self->priv;
  std::vector<iptv::hls::Variant> vs;
  for (auto &r : p->renditions) {
    if (r->disabled) continue;
    if (r->total_seconds <= 0) return nullptr;
    iptv::hls::Variant v;
    v.uri = r->name + "/index.m3u8";
    v.bandwidth = r->peak_bps;
    v.average_bandwidth = (uint64_t)(r->total_bytes * 8.0 / r->total_seconds);
    v.width = r->width;
    v.height = r->height;
    v.frame_rate = r->fps;
    v.codecs = r->video_codec;
    if (p->audio_ghost && !p->audio_codec.empty())
      v.codecs += (v.codecs.empty() ? "" : ",") + p->audio_codec;
    vs.push_back(v);
  }
  if (vs.empty()) return nullptr;
  // Rewritten (atomically) only when a figure changed, e.g. a new peak bandwidth.
  std::string text = iptv::hls::render_multivariant(vs);
  if (text == p->last_multivariant) return nullptr;
  std::string path = p->cfg.location + "/index.m3u8";
  std::string err = iptv::write_file_atomic(path, text);
  if (!err.empty()) {
    GST_WARNING_OBJECT(self, "%s", err.c_str());
    return nullptr;
  }
  p->last_multivariant = text;
  return gst_structure_new("iptvhlssink-playlist-written", "rendition", G_TYPE_STRING, "", "path",
                           G_TYPE_STRING, path.c_str(), "media-sequence", G_TYPE_UINT64, (guint64)0,
                           "discontinuity-sequence", G_TYPE_UINT64, (guint64)0, "segments",
                           G_TYPE_UINT, (guint)vs.size(), nullptr);
}

static void save_state_locked(GstIptvHlsSinkPrivate *p) {
  if (p->cfg.state_file.empty()) return;
  nlohmann::json j;
  for (auto &r : p->renditions) {
    if (!r->playlist) continue;
    j["renditions"][r->name] = {{"next_sequence", r->playlist->next_sequence()},
                                {"discontinuity_sequence", r->playlist->discontinuity_sequence()}};
  }
  iptv::write_file_atomic(p->cfg.state_file, j.dump(2) + "\n", true);
}

// ---- segments ----

static void delete_retired_locked(GstIptvHlsSinkPrivate *p, Rendition *r) {
  double keep =
      p->cfg.retention >= 0 ? p->cfg.retention : p->cfg.target * std::max<guint>(p->cfg.window, 1);
  gint64 now = g_get_monotonic_time();
  while (!r->retired.empty() && now - r->retired.front().removed_at >= (gint64)(keep * 1e6)) {
    ::unlink(r->retired.front().path.c_str());
    r->retired.pop_front();
  }
}

static void on_fragment_closed(GstIptvHlsSink *self, const std::string &location,
                               GstClockTime closed_rt) {
  GstIptvHlsSinkPrivate *p = self->priv;
  std::vector<GstStructure *> msgs;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    Rendition *r = nullptr;
    for (auto &x : p->renditions)
      if (x->have_open && x->open_path == location) r = x.get();
    if (!r) return;
    iptv::hls::Segment seg;
    seg.sequence = r->open.sequence;
    seg.discontinuity = r->open.discontinuity;
    seg.pdt_ms = r->open.utc_ms;
    // A fragment closed with no next one pending was closed by EOS: it ends with its last frame.
    if (r->pending.empty() && GST_CLOCK_TIME_IS_VALID(r->max_end) &&
        (!GST_CLOCK_TIME_IS_VALID(closed_rt) || r->max_end > closed_rt))
      closed_rt = r->max_end;
    // A fragment whose input stopped (a disabled rendition) ends with its last frame, not at the
    // keyframe that resumed it much later.
    if (!r->pending.empty() && GST_CLOCK_TIME_IS_VALID(r->pending.front().prev_end) &&
        GST_CLOCK_TIME_IS_VALID(closed_rt) &&
        closed_rt > r->pending.front().prev_end + GST_SECOND / 2)
      closed_rt = r->pending.front().prev_end;
    seg.duration = GST_CLOCK_TIME_IS_VALID(closed_rt) && closed_rt > r->open.running_time
                       ? (double)(closed_rt - r->open.running_time) / GST_SECOND
                       : 0.0;
    struct stat st;
    seg.bytes = ::stat(location.c_str(), &st) == 0 ? (uint64_t)st.st_size : 0;
    seg.uri = std::filesystem::path(location).filename().string();
    r->have_open = false;
    if (seg.duration <= 0 || seg.bytes == 0) {
      GST_DEBUG_OBJECT(self, "empty fragment %s dropped", location.c_str());
      ::unlink(location.c_str());
      return;
    }
    auto removed = r->playlist->add(seg);
    for (auto &x : removed)
      r->retired.push_back({rendition_dir(p, r) + "/" + x.uri, g_get_monotonic_time()});
    delete_retired_locked(p, r);
    r->peak_bps = std::max<uint64_t>(r->peak_bps, (uint64_t)(seg.bytes * 8.0 / seg.duration));
    r->total_bytes += seg.bytes;
    r->total_seconds += seg.duration;
    std::string path = rendition_dir(p, r) + "/index.m3u8";
    std::string err = iptv::write_file_atomic(path, r->playlist->render());
    if (!err.empty()) {
      GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Could not write playlist"), ("%s", err.c_str()));
      return;
    }
    save_state_locked(p);
    msgs.push_back(gst_structure_new(
        "iptvhlssink-segment-added", "rendition", G_TYPE_STRING, r->name.c_str(), "sequence",
        G_TYPE_UINT64, (guint64)seg.sequence, "duration", G_TYPE_DOUBLE, seg.duration, "bytes",
        G_TYPE_UINT64, (guint64)seg.bytes, "pts", G_TYPE_UINT64, (guint64)r->open.running_time,
        "path", G_TYPE_STRING, location.c_str(), "discontinuity", G_TYPE_BOOLEAN, seg.discontinuity,
        nullptr));
    msgs.push_back(gst_structure_new(
        "iptvhlssink-playlist-written", "rendition", G_TYPE_STRING, r->name.c_str(), "path",
        G_TYPE_STRING, path.c_str(), "media-sequence", G_TYPE_UINT64,
        (guint64)r->playlist->media_sequence(), "discontinuity-sequence", G_TYPE_UINT64,
        (guint64)r->playlist->discontinuity_sequence(), "segments", G_TYPE_UINT,
        (guint)r->playlist->segments().size(), nullptr));
    if (GstStructure *m = write_multivariant_locked(self)) msgs.push_back(m);
  }
  for (GstStructure *s : msgs) post(self, s);
}

// The muxer's output: every (re)start of the muxer is a new segment, whose packets continue the
// continuity counters of the previous one. Runs in the muxer's streaming thread, the only user
// of `continuity`.
static gboolean rewrite_buffer(GstBuffer **buf, guint, gpointer user_data) {
  auto *r = static_cast<Rendition *>(user_data);
  *buf = gst_buffer_make_writable(*buf);
  GstMapInfo map;
  if (gst_buffer_map(*buf, &map, GST_MAP_READWRITE)) {
    r->continuity.rewrite(map.data, map.size);
    gst_buffer_unmap(*buf, &map);
  }
  return TRUE;
}

static GstPadProbeReturn mux_output_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data) {
  auto *r = static_cast<Rendition *>(user_data);
  if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_STREAM_START)
      r->continuity.restart();
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    rewrite_buffer(&buf, 0, r);
    GST_PAD_PROBE_INFO_DATA(info) = buf;
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
    gst_buffer_list_foreach(list, rewrite_buffer, r);
    GST_PAD_PROBE_INFO_DATA(info) = list;
  }
  return GST_PAD_PROBE_OK;
}

// splitmuxsink asks for the next file name: the segment the input probe decided on.
static gchar *format_location(GstElement *splitmux, guint, GstSample *, gpointer user_data) {
  auto *self = GST_IPTV_HLS_SINK(user_data);
  GstIptvHlsSinkPrivate *p = self->priv;
  std::lock_guard<std::mutex> lock(p->lock);
  for (auto &r : p->renditions) {
    if (r->splitmux != splitmux) continue;
    PendingStart start{};
    if (!r->pending.empty()) {
      start = r->pending.front();
      r->pending.pop_front();
    } else {
      start.sequence = r->playlist->next_sequence();
    }
    r->open = start;
    r->have_open = true;
    r->open_path = rendition_dir(p, r.get()) + "/seg-" + std::to_string(start.sequence) + ".ts";
    return g_strdup(r->open_path.c_str());
  }
  return g_strdup("/dev/null");
}

// ---- input probes ----

static GstPadProbeReturn video_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
  auto *self = GST_IPTV_HLS_SINK(user_data);
  GstIptvHlsSinkPrivate *p = self->priv;
  Rendition *r = nullptr;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    for (auto &x : p->renditions) {
      GstPad *target = gst_ghost_pad_get_target(GST_GHOST_PAD(x->ghost));
      bool match = target == pad;
      if (target) gst_object_unref(target);
      if (match) r = x.get();
    }
  }
  if (!r) return GST_PAD_PROBE_OK;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    std::lock_guard<std::mutex> lock(p->lock);
    switch (GST_EVENT_TYPE(ev)) {
      case GST_EVENT_SEGMENT:
        gst_event_copy_segment(ev, &r->segment);
        break;
      case GST_EVENT_CAPS: {
        GstCaps *caps;
        gst_event_parse_caps(ev, &caps);
        GstStructure *s = gst_caps_get_structure(caps, 0);
        r->hevc = gst_structure_has_name(s, "video/x-h265");
        gst_structure_get_int(s, "width", &r->width);
        gst_structure_get_int(s, "height", &r->height);
        gint n = 0, d = 1;
        if (gst_structure_get_fraction(s, "framerate", &n, &d) && d > 0) r->fps = (double)n / d;
        // A new picture size, rate or profile mid-stream is a discontinuity (parsers refine caps
        // before the first frame; that is not one).
        GstCaps *key = gst_caps_new_empty_simple(gst_structure_get_name(s));
        for (const char *f : {"width", "height", "framerate", "profile"})
          if (const GValue *v = gst_structure_get_value(s, f)) gst_caps_set_value(key, f, v);
        if (r->last_caps && r->segmenter && r->segmenter->started() &&
            !gst_caps_is_equal(r->last_caps, key)) {
          GST_INFO_OBJECT(self, "%s: caps changed: discontinuity", r->name.c_str());
          r->pending_discontinuity = true;
        }
        gst_caps_replace(&r->last_caps, key);
        gst_caps_unref(key);
        break;
      }
      case GST_EVENT_CUSTOM_DOWNSTREAM:
        if (gst_event_has_name(ev, "iptv-discontinuity")) {
          GST_INFO_OBJECT(self, "%s: upstream discontinuity", r->name.c_str());
          r->pending_discontinuity = true;
        }
        break;
      default:
        break;
    }
    return GST_PAD_PROBE_OK;
  }
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!GST_BUFFER_PTS_IS_VALID(buf)) return GST_PAD_PROBE_OK;
  GstClockTime running;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    if (r->disabled) {
      r->resync = true;
      return GST_PAD_PROBE_DROP;
    }
    if (r->resync) {
      if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) return GST_PAD_PROBE_DROP;
      r->resync = false;
      r->pending_discontinuity = true;
    }
    if (r->segment.format != GST_FORMAT_TIME) return GST_PAD_PROBE_OK;
    running = gst_segment_to_running_time(&r->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
    // A timestamp jump (more than a second off the expected next frame) is a discontinuity;
    // before the first segment there is nothing to be discontinuous with.
    if (GST_CLOCK_TIME_IS_VALID(r->expected_next) && GST_CLOCK_TIME_IS_VALID(running) &&
        r->segmenter && r->segmenter->started()) {
      GstClockTimeDiff diff = GST_CLOCK_DIFF(r->expected_next, running);
      if (diff > (GstClockTimeDiff)GST_SECOND || diff < -(GstClockTimeDiff)GST_SECOND) {
        GST_INFO_OBJECT(self, "%s: timestamp jump of %" GST_STIME_FORMAT, r->name.c_str(),
                        GST_STIME_ARGS(diff));
        r->pending_discontinuity = true;
      }
    }
    if (GST_CLOCK_TIME_IS_VALID(running)) {
      GstClockTime dur = GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf)
                         : r->fps > 0                      ? (GstClockTime)(GST_SECOND / r->fps)
                                                           : 0;
      r->expected_next = running + dur;
      r->prev_end = r->max_end;
      // The end of the latest frame, for the last segment's duration at EOS (splitmuxsink
      // reports the start of the last frame as the closing running time).
      if (!GST_CLOCK_TIME_IS_VALID(r->max_end) || running + dur > r->max_end)
        r->max_end = running + dur;
    }
  }
  if (!GST_CLOCK_TIME_IS_VALID(running)) return GST_PAD_PROBE_OK;
  if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    std::lock_guard<std::mutex> lock(p->lock);
    // Nothing may precede the first keyframe: a segment must start with an IDR.
    return r->segmenter->started() ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
  }
  bool split = false;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    if (r->video_codec.empty()) {
      GstMapInfo map;
      if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
        r->video_codec = r->hevc ? iptv::hls::hvc1_codec_from_annexb(map.data, map.size)
                                 : iptv::hls::avc1_codec_from_annexb(map.data, map.size);
        gst_buffer_unmap(buf, &map);
      }
    }
    gint64 utc = utc_ns_for(self, buf, running);
    gint64 anchor = p->cfg.mode == SeqMode::kEpoch ? utc : (gint64)running;
    bool disc = r->pending_discontinuity;
    auto start = r->segmenter->on_keyframe(anchor, disc);
    if (start) {
      r->pending_discontinuity = false;
      bool first = r->pending.empty() && !r->have_open;
      r->pending.push_back(
          {start->sequence, start->discontinuity, utc / 1000000, running, r->prev_end});
      split = !first;
    }
  }
  // Ask splitmuxsink to start a new fragment at this very keyframe (outside our lock).
  if (split) g_signal_emit_by_name(r->splitmux, "split-at-running-time", (guint64)running);
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn audio_caps_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data) {
  auto *self = GST_IPTV_HLS_SINK(user_data);
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
  if (GST_EVENT_TYPE(ev) != GST_EVENT_CAPS) return GST_PAD_PROBE_OK;
  GstCaps *caps;
  gst_event_parse_caps(ev, &caps);
  const GstStructure *s = gst_caps_get_structure(caps, 0);
  std::string codec = "mp4a.40.2";
  const GValue *cd = gst_structure_get_value(s, "codec_data");
  if (cd && GST_VALUE_HOLDS_BUFFER(cd)) {
    GstMapInfo map;
    GstBuffer *b = gst_value_get_buffer(cd);
    if (gst_buffer_map(b, &map, GST_MAP_READ)) {
      codec = iptv::hls::mp4a_codec_from_asc(map.data, map.size);
      gst_buffer_unmap(b, &map);
    }
  } else if (const char *prof = gst_structure_get_string(s, "profile")) {
    if (g_str_equal(prof, "he-aac-v1")) codec = "mp4a.40.5";
    if (g_str_equal(prof, "he-aac-v2")) codec = "mp4a.40.29";
  }
  std::lock_guard<std::mutex> lock(self->priv->lock);
  self->priv->audio_codec = codec;
  return GST_PAD_PROBE_OK;
}

// ---- topology ----

struct AudioGate {
  GstIptvHlsSink *self;
  Rendition *r;
};

// A disabled (or resyncing) rendition takes no audio either, so its muxer never waits on it and
// the shared audio tee never blocks the other renditions.
static GstPadProbeReturn audio_gate_probe(GstPad *, GstPadProbeInfo *, gpointer user_data) {
  auto *g = static_cast<AudioGate *>(user_data);
  std::lock_guard<std::mutex> lock(g->self->priv->lock);
  return g->r->disabled || g->r->resync ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

// Links the audio tee to one rendition's muxer. Call from the application thread.
static void add_audio_branch(GstIptvHlsSink *self, Rendition *r) {
  GstIptvHlsSinkPrivate *p = self->priv;
  r->audio_queue = gst_element_factory_make("queue", nullptr);
  gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(r->audio_queue)));  // we keep a ref
  r->audio_tee_pad = gst_element_request_pad_simple(p->audio_tee, "src_%u");
  gst_pad_add_probe(r->audio_tee_pad, GST_PAD_PROBE_TYPE_BUFFER, audio_gate_probe,
                    new AudioGate{self, r}, [](gpointer d) { delete static_cast<AudioGate *>(d); });
  GstPad *qsink = gst_element_get_static_pad(r->audio_queue, "sink");
  gst_pad_link(r->audio_tee_pad, qsink);
  gst_object_unref(qsink);
  GstPad *mux_audio = gst_element_request_pad_simple(r->splitmux, "audio_%u");
  GstPad *qsrc = gst_element_get_static_pad(r->audio_queue, "src");
  gst_pad_link(qsrc, mux_audio);
  gst_object_unref(qsrc);
  gst_object_unref(mux_audio);
  gst_element_sync_state_with_parent(r->audio_queue);
}

static GstPad *gst_iptv_hls_sink_request_new_pad(GstElement *element, GstPadTemplate *templ,
                                                 const gchar *name, const GstCaps *) {
  auto *self = GST_IPTV_HLS_SINK(element);
  GstIptvHlsSinkPrivate *p = self->priv;
  if (g_str_equal(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "audio")) {
    if (p->audio_ghost) {
      GST_ERROR_OBJECT(self, "only one audio pad: the same audio goes into every rendition");
      return nullptr;
    }
    p->audio_tee = gst_element_factory_make("tee", "audio_tee");
    g_object_set(p->audio_tee, "allow-not-linked", TRUE, nullptr);
    gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(p->audio_tee)));  // we keep a ref
    GstPad *tsink = gst_element_get_static_pad(p->audio_tee, "sink");
    gst_pad_add_probe(tsink, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, audio_caps_probe, self, nullptr);
    p->audio_ghost = gst_ghost_pad_new_from_template("audio", tsink, templ);
    gst_object_unref(tsink);
    for (auto &r : p->renditions) add_audio_branch(self, r.get());
    gst_element_sync_state_with_parent(p->audio_tee);
    gst_pad_set_active(p->audio_ghost, TRUE);
    gst_element_add_pad(element, p->audio_ghost);
    return p->audio_ghost;
  }
  guint index = (guint)p->renditions.size();
  if (name && sscanf(name, "video_%u", &index) != 1) index = (guint)p->renditions.size();
  for (auto &r : p->renditions)
    if (r->index == index) {
      GST_ERROR_OBJECT(self, "pad video_%u exists", index);
      return nullptr;
    }
  auto r = std::make_unique<Rendition>();
  r->index = index;
  const Settings st = settings_snapshot(p);  // pads are requested before cfg is taken
  r->name = index < st.names.size() && !st.names[index].empty() ? st.names[index]
                                                                : "v" + std::to_string(index);
  gst_segment_init(&r->segment, GST_FORMAT_UNDEFINED);
  {
    std::lock_guard<std::mutex> lock(p->lock);
    r->disabled = st.disabled_names.count(r->name) > 0;
  }
  r->splitmux = gst_element_factory_make("splitmuxsink", nullptr);
  if (!r->splitmux) {
    GST_ERROR_OBJECT(self, "splitmuxsink is missing (gst-plugins-good)");
    return nullptr;
  }
  GstElement *mux = gst_element_factory_make("mpegtsmux", nullptr);
  if (!mux) {
    GST_ERROR_OBJECT(self, "mpegtsmux is missing (gst-plugins-bad)");
    gst_object_unref(gst_object_ref_sink(r->splitmux));
    return nullptr;
  }
  // splitmuxsink resets the muxer at every segment; the probe on its output keeps each PID's
  // continuity counter counting across segments (hlssink_continuity.h).
  GstPad *mux_src = gst_element_get_static_pad(mux, "src");
  gst_pad_add_probe(mux_src,
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                                      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
                    mux_output_probe, r.get(), nullptr);
  gst_object_unref(mux_src);
  // Splits are driven by the input probe (split-at-running-time at the chosen keyframes).
  g_object_set(r->splitmux, "muxer", mux, "max-size-time", (guint64)0, "max-size-bytes", (guint64)0,
               "send-keyframe-requests", FALSE, nullptr);
  g_signal_connect(r->splitmux, "format-location-full", G_CALLBACK(format_location), self);
  gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(r->splitmux)));  // we keep a ref
  GstPad *mux_video = gst_element_request_pad_simple(r->splitmux, "video");
  gst_pad_add_probe(
      mux_video, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      video_probe, self, nullptr);
  gchar *pad_name = g_strdup_printf("video_%u", index);
  r->ghost = gst_ghost_pad_new_from_template(pad_name, mux_video, templ);
  g_free(pad_name);
  gst_object_unref(mux_video);
  Rendition *raw = r.get();
  {
    std::lock_guard<std::mutex> lock(p->lock);
    p->renditions.push_back(std::move(r));
  }
  if (p->audio_tee) add_audio_branch(self, raw);
  gst_element_sync_state_with_parent(raw->splitmux);
  gst_pad_set_active(raw->ghost, TRUE);
  gst_element_add_pad(element, raw->ghost);
  return raw->ghost;
}

// Removes an internal element we hold a reference on (it may already have left the bin when
// the bin is being disposed), and drops our reference.
static void drop_child(GstIptvHlsSink *self, GstElement *&e) {
  if (!e) return;
  if (GST_OBJECT_PARENT(e) == GST_OBJECT(self)) {
    gst_element_set_state(e, GST_STATE_NULL);
    gst_bin_remove(GST_BIN(self), e);
  }
  gst_object_unref(e);
  e = nullptr;
}

static void drop_request_pad(GstElement *owner, GstPad *&pad) {
  if (!pad) return;
  if (owner && GST_OBJECT_PARENT(pad) == GST_OBJECT(owner))
    gst_element_release_request_pad(owner, pad);
  gst_object_unref(pad);
  pad = nullptr;
}

static void gst_iptv_hls_sink_release_pad(GstElement *element, GstPad *pad) {
  auto *self = GST_IPTV_HLS_SINK(element);
  GstIptvHlsSinkPrivate *p = self->priv;
  if (pad == p->audio_ghost) {
    for (auto &r : p->renditions) {
      drop_request_pad(p->audio_tee, r->audio_tee_pad);
      drop_child(self, r->audio_queue);
    }
    drop_child(self, p->audio_tee);
    gst_element_remove_pad(element, pad);
    p->audio_ghost = nullptr;
    return;
  }
  std::unique_ptr<Rendition> gone;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    for (auto it = p->renditions.begin(); it != p->renditions.end(); ++it)
      if ((*it)->ghost == pad) {
        gone = std::move(*it);
        p->renditions.erase(it);
        break;
      }
  }
  if (!gone) return;
  drop_request_pad(p->audio_tee, gone->audio_tee_pad);
  drop_child(self, gone->audio_queue);
  drop_child(self, gone->splitmux);
  gst_caps_replace(&gone->last_caps, nullptr);
  gst_element_remove_pad(element, pad);
}

static void finish(GstIptvHlsSink *self);

// ---- bus messages from the muxers ----

static void gst_iptv_hls_sink_handle_message(GstBin *bin, GstMessage *msg) {
  auto *self = GST_IPTV_HLS_SINK(bin);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT) {
    const GstStructure *s = gst_message_get_structure(msg);
    if (gst_structure_has_name(s, "splitmuxsink-fragment-closed")) {
      const char *loc = gst_structure_get_string(s, "location");
      guint64 rt = GST_CLOCK_TIME_NONE;
      gst_structure_get_uint64(s, "running-time", &rt);
      if (loc) on_fragment_closed(self, loc, rt);
      gst_message_unref(msg);
      return;
    }
    if (gst_structure_has_name(s, "splitmuxsink-fragment-opened")) {
      gst_message_unref(msg);  // internal detail; iptvhlssink-segment-added is ours
      return;
    }
  }
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_EOS) {
    // Each muxer closes its last fragment before it reports EOS; once all have, EVENT and VOD
    // playlists get their ENDLIST.
    bool all = false;
    {
      std::lock_guard<std::mutex> lock(self->priv->lock);
      self->priv->eos_count++;
      all = self->priv->eos_count >= self->priv->renditions.size();
    }
    if (all) finish(self);
  }
  GST_BIN_CLASS(gst_iptv_hls_sink_parent_class)->handle_message(bin, msg);
}

// ---- states ----

// Prepares folders and continues what a previous run left (playlist on disk, state file).
static gboolean prepare(GstIptvHlsSink *self) {
  GstIptvHlsSinkPrivate *p = self->priv;
  std::lock_guard<std::mutex> lock(p->lock);
  p->cfg = settings_snapshot(p);
  nlohmann::json state;
  if (!p->cfg.state_file.empty()) {
    std::string text;
    if (iptv::read_file(p->cfg.state_file, text)) {
      try {
        state = nlohmann::json::parse(text);
      } catch (const std::exception &e) {
        GST_WARNING_OBJECT(self, "state file %s unreadable: %s", p->cfg.state_file.c_str(),
                           e.what());
      }
    }
  }
  p->have_utc_offset = false;
  p->last_multivariant.clear();
  p->eos_count = 0;
  for (auto &r : p->renditions) {
    std::string dir = rendition_dir(p, r.get());
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot create %s", dir.c_str()),
                        ("%s", ec.message().c_str()));
      return FALSE;
    }
    r->playlist = std::make_unique<iptv::hls::MediaPlaylist>(p->cfg.type, p->cfg.target,
                                                             (int)p->cfg.window, p->cfg.dvr);
    r->segmenter = std::make_unique<iptv::Segmenter>(p->cfg.target, p->cfg.mode == SeqMode::kEpoch);
    std::string old;
    uint64_t next = 0;
    bool resumed = false;
    if (p->cfg.type == iptv::hls::PlaylistType::kLive &&
        iptv::read_file(dir + "/index.m3u8", old) && r->playlist->restore(old)) {
      next = r->playlist->next_sequence();
      resumed = true;
    }
    if (state.contains("renditions") && state["renditions"].contains(r->name)) {
      next = std::max<uint64_t>(next, state["renditions"][r->name].value("next_sequence", 0));
      resumed = true;
    }
    if (resumed) {
      r->playlist->resume_at(next);
      r->segmenter->resume(next);
      GST_INFO_OBJECT(self, "%s: continuing at sequence %" G_GUINT64_FORMAT, r->name.c_str(), next);
    }
    r->pending.clear();
    r->have_open = false;
    r->pending_discontinuity = false;
    r->expected_next = GST_CLOCK_TIME_NONE;
    r->peak_bps = r->total_bytes = 0;
    r->total_seconds = 0;
    r->video_codec.clear();
    gst_caps_replace(&r->last_caps, nullptr);
    gst_segment_init(&r->segment, GST_FORMAT_UNDEFINED);
  }
  return TRUE;
}

static void finish(GstIptvHlsSink *self) {
  GstIptvHlsSinkPrivate *p = self->priv;
  std::vector<GstStructure *> msgs;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    if (p->cfg.type == iptv::hls::PlaylistType::kLive) return;
    for (auto &r : p->renditions) {
      if (!r->playlist || r->playlist->ended()) continue;
      r->playlist->end();
      std::string path = rendition_dir(p, r.get()) + "/index.m3u8";
      if (iptv::write_file_atomic(path, r->playlist->render()).empty())
        msgs.push_back(gst_structure_new(
            "iptvhlssink-playlist-written", "rendition", G_TYPE_STRING, r->name.c_str(), "path",
            G_TYPE_STRING, path.c_str(), "media-sequence", G_TYPE_UINT64,
            (guint64)r->playlist->media_sequence(), "discontinuity-sequence", G_TYPE_UINT64,
            (guint64)r->playlist->discontinuity_sequence(), "segments", G_TYPE_UINT,
            (guint)r->playlist->segments().size(), nullptr));
    }
  }
  for (GstStructure *s : msgs) post(self, s);
}

// Starts the HTTP origin over the tree when http-port is set.
static gboolean start_serving(GstIptvHlsSink *self) {
  GstIptvHlsSinkPrivate *p = self->priv;
  Settings st;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    st = p->cfg;
  }
  if (st.http_port < 0 || p->origin) return TRUE;
  iptv::OriginConfig cfg;
  cfg.address = st.http_address;
  cfg.port = st.http_port;
  if (!st.token_key_file.empty()) {
    std::string err;
    if (!cfg.keys.load_file(st.token_key_file, &err)) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Cannot load the token keys"),
                        ("%s", err.c_str()));
      return FALSE;
    }
    cfg.mode = iptv::TokenMode::kEdgeAuth;
  }
  auto origin = std::make_unique<iptv::Origin>(std::move(cfg));
  std::string err;
  if (!origin->start(&err)) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("Cannot serve HTTP"), ("%s", err.c_str()));
    return FALSE;
  }
  origin->add_channel(st.channel_id, st.location);
  GST_INFO_OBJECT(self, "serving %s on http://%s:%d/hls/%s/", st.location.c_str(),
                  st.http_address.c_str(), origin->port(), st.channel_id.c_str());
  p->origin = std::move(origin);
  return TRUE;
}

static GstStateChangeReturn gst_iptv_hls_sink_change_state(GstElement *element,
                                                           GstStateChange transition) {
  auto *self = GST_IPTV_HLS_SINK(element);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    if (self->priv->renditions.empty()) {
      GST_ELEMENT_ERROR(self, CORE, PAD, ("No video pad"), ("link at least one video_%%u pad"));
      return GST_STATE_CHANGE_FAILURE;
    }
    if (!prepare(self)) return GST_STATE_CHANGE_FAILURE;
    if (!start_serving(self)) return GST_STATE_CHANGE_FAILURE;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS(gst_iptv_hls_sink_parent_class)->change_state(element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY && self->priv->origin) {
    self->priv->origin->stop();
    self->priv->origin.reset();
  }
  return ret;
}

// ---- properties ----

static void gst_iptv_hls_sink_set_property(GObject *object, guint prop_id, const GValue *value,
                                           GParamSpec *pspec) {
  auto *self = GST_IPTV_HLS_SINK(object);
  GstIptvHlsSinkPrivate *p = self->priv;
  {
    std::lock_guard<std::mutex> lock(p->settings_lock);
    Settings &st = p->settings;
    switch (prop_id) {
      case PROP_LOCATION: {
        const char *v = g_value_get_string(value);
        st.location = v && *v ? v : "hls";
        break;
      }
      case PROP_TARGET_DURATION:
        st.target = g_value_get_double(value);
        break;
      case PROP_PLAYLIST_LENGTH:
        st.window = g_value_get_uint(value);
        break;
      case PROP_DVR_SECONDS:
        st.dvr = g_value_get_double(value);
        break;
      case PROP_PLAYLIST_TYPE:
        st.type = (iptv::hls::PlaylistType)g_value_get_enum(value);
        break;
      case PROP_SEQUENCE_MODE:
        st.mode = (SeqMode)g_value_get_enum(value);
        break;
      case PROP_STATE_FILE: {
        const char *v = g_value_get_string(value);
        st.state_file = v ? v : "";
        break;
      }
      case PROP_RENDITION_NAMES: {
        const char *v = g_value_get_string(value);
        st.names = iptv::split(v ? v : "", ',', false);
        break;
      }
      case PROP_SEGMENT_RETENTION:
        st.retention = g_value_get_double(value);
        break;
      case PROP_CHANNEL_ID: {
        const char *v = g_value_get_string(value);
        st.channel_id = v && *v ? v : "live";
        break;
      }
      case PROP_HTTP_PORT:
        st.http_port = g_value_get_int(value);
        break;
      case PROP_HTTP_ADDRESS: {
        const char *v = g_value_get_string(value);
        st.http_address = v && *v ? v : "127.0.0.1";
        break;
      }
      case PROP_TOKEN_KEY_FILE: {
        const char *v = g_value_get_string(value);
        st.token_key_file = v ? v : "";
        break;
      }
      case PROP_DISABLED_RENDITIONS: {
        const char *v = g_value_get_string(value);
        st.disabled_names.clear();
        for (const auto &n : iptv::split(v ? v : "", ','))
          if (!iptv::trim(n).empty()) st.disabled_names.insert(iptv::trim(n));
        break;
      }
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        return;
    }
  }
  // The two settings that act on existing renditions at once (settings_lock released first: the
  // lock order is lock, then settings_lock).
  if (prop_id != PROP_RENDITION_NAMES && prop_id != PROP_DISABLED_RENDITIONS) return;
  GstStructure *switch_msg = nullptr;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    const Settings st = settings_snapshot(p);
    if (prop_id == PROP_RENDITION_NAMES) {
      p->cfg.names = st.names;
      for (auto &r : p->renditions)
        if (r->index < p->cfg.names.size() && !p->cfg.names[r->index].empty())
          r->name = p->cfg.names[r->index];
    } else {
      p->cfg.disabled_names = st.disabled_names;
      for (auto &r : p->renditions) {
        bool d = p->cfg.disabled_names.count(r->name) > 0;
        if (d != r->disabled)
          GST_INFO_OBJECT(self, "rendition %s %s", r->name.c_str(), d ? "disabled" : "enabled");
        r->disabled = d;
      }
      // The multivariant playlist lists only enabled renditions, at once.
      p->last_multivariant.clear();
      switch_msg = write_multivariant_locked(self);
    }
  }
  if (switch_msg) post(self, switch_msg);
}

static void gst_iptv_hls_sink_get_property(GObject *object, guint prop_id, GValue *value,
                                           GParamSpec *pspec) {
  auto *self = GST_IPTV_HLS_SINK(object);
  GstIptvHlsSinkPrivate *p = self->priv;
  std::lock_guard<std::mutex> lock(p->settings_lock);
  const Settings &st = p->settings;
  switch (prop_id) {
    case PROP_LOCATION:
      g_value_set_string(value, st.location.c_str());
      break;
    case PROP_TARGET_DURATION:
      g_value_set_double(value, st.target);
      break;
    case PROP_PLAYLIST_LENGTH:
      g_value_set_uint(value, st.window);
      break;
    case PROP_DVR_SECONDS:
      g_value_set_double(value, st.dvr);
      break;
    case PROP_PLAYLIST_TYPE:
      g_value_set_enum(value, (gint)st.type);
      break;
    case PROP_SEQUENCE_MODE:
      g_value_set_enum(value, (gint)st.mode);
      break;
    case PROP_STATE_FILE:
      g_value_set_string(value, st.state_file.c_str());
      break;
    case PROP_RENDITION_NAMES: {
      std::string joined;
      for (size_t i = 0; i < st.names.size(); ++i) joined += (i ? "," : "") + st.names[i];
      g_value_set_string(value, joined.c_str());
      break;
    }
    case PROP_SEGMENT_RETENTION:
      g_value_set_double(value, st.retention);
      break;
    case PROP_CHANNEL_ID:
      g_value_set_string(value, st.channel_id.c_str());
      break;
    case PROP_HTTP_PORT:
      g_value_set_int(value, st.http_port);
      break;
    case PROP_HTTP_ADDRESS:
      g_value_set_string(value, st.http_address.c_str());
      break;
    case PROP_TOKEN_KEY_FILE:
      g_value_set_string(value, st.token_key_file.c_str());
      break;
    case PROP_DISABLED_RENDITIONS: {
      std::string v;
      for (const auto &n : st.disabled_names) v += (v.empty() ? "" : ",") + n;
      g_value_set_string(value, v.c_str());
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_iptv_hls_sink_finalize(GObject *object) {
  auto *self = GST_IPTV_HLS_SINK(object);
  for (auto &r : self->priv->renditions) {
    gst_caps_replace(&r->last_caps, nullptr);
    if (r->audio_tee_pad) gst_object_unref(r->audio_tee_pad);
    if (r->audio_queue) gst_object_unref(r->audio_queue);
    if (r->splitmux) gst_object_unref(r->splitmux);
  }
  if (self->priv->audio_tee) gst_object_unref(self->priv->audio_tee);
  delete self->priv;
  G_OBJECT_CLASS(gst_iptv_hls_sink_parent_class)->finalize(object);
}

static void gst_iptv_hls_sink_class_init(GstIptvHlsSinkClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  GstBinClass *bin_class = GST_BIN_CLASS(klass);
  gobject_class->set_property = gst_iptv_hls_sink_set_property;
  gobject_class->get_property = gst_iptv_hls_sink_get_property;
  gobject_class->finalize = gst_iptv_hls_sink_finalize;
  const GParamFlags rw_ready =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  // location: the folder of the HLS tree (index.m3u8, <rendition>/index.m3u8, segments).
  g_object_class_install_property(
      gobject_class, PROP_LOCATION,
      g_param_spec_string("location", "Location", "Folder of the HLS tree", "hls", rw_ready));
  // target-duration: segment length in seconds; segments start on the first keyframe of each
  // multiple of it. Use a whole multiple of the ladder's keyframe-interval.
  g_object_class_install_property(
      gobject_class, PROP_TARGET_DURATION,
      g_param_spec_double("target-duration", "Target duration", "Segment target in seconds", 0.5,
                          60, 4.0, rw_ready));
  // playlist-length: segments in a live playlist's sliding window.
  g_object_class_install_property(
      gobject_class, PROP_PLAYLIST_LENGTH,
      g_param_spec_uint("playlist-length", "Playlist length", "Segments in the live window", 1,
                        100000, 6, rw_ready));
  // dvr-seconds: keep at least this much time-shift in a live playlist (0: the window only).
  g_object_class_install_property(
      gobject_class, PROP_DVR_SECONDS,
      g_param_spec_double("dvr-seconds", "DVR seconds", "Time-shift window in seconds", 0,
                          7 * 86400, 0, rw_ready));
  // playlist-type: live (sliding window), event (append only), vod (complete at EOS).
  g_object_class_install_property(
      gobject_class, PROP_PLAYLIST_TYPE,
      g_param_spec_enum("playlist-type", "Playlist type", "live, event or vod",
                        GST_TYPE_IPTV_HLS_SINK_PLAYLIST_TYPE, (gint)iptv::hls::PlaylistType::kLive,
                        rw_ready));
  // sequence-mode: epoch (numbers from UTC, restart-safe, identical across redundant encoders)
  // or counter (continue from the state file; for sources without a trustworthy clock).
  g_object_class_install_property(
      gobject_class, PROP_SEQUENCE_MODE,
      g_param_spec_enum("sequence-mode", "Sequence mode", "How segments are numbered",
                        GST_TYPE_IPTV_HLS_SINK_SEQUENCE_MODE, (gint)SeqMode::kEpoch, rw_ready));
  // state-file: JSON with each rendition's next sequence and discontinuity sequence, written
  // atomically after every segment; read at start.
  g_object_class_install_property(
      gobject_class, PROP_STATE_FILE,
      g_param_spec_string("state-file", "State file", "Packaging state (JSON) for restarts", "",
                          rw_ready));
  // rendition-names: comma-separated folder names for video_0, video_1, ... (default v0, v1).
  g_object_class_install_property(
      gobject_class, PROP_RENDITION_NAMES,
      g_param_spec_string("rendition-names", "Rendition names",
                          "Comma-separated names for video_0, video_1, ...", "", rw_ready));
  // segment-retention: seconds a segment stays on disk after leaving the playlist, so players
  // holding the previous playlist can still fetch it (-1: one window's worth).
  g_object_class_install_property(
      gobject_class, PROP_SEGMENT_RETENTION,
      g_param_spec_double("segment-retention", "Segment retention",
                          "Seconds a segment stays on disk after leaving the playlist", -1, 86400,
                          -1, rw_ready));

  // channel-id: the path the tree is served under: /hls/<channel-id>/...
  g_object_class_install_property(
      gobject_class, PROP_CHANNEL_ID,
      g_param_spec_string("channel-id", "Channel id", "Served under /hls/<channel-id>/", "live",
                          rw_ready));
  // http-port: serve the tree over HTTP on this port (0: any free port; -1: do not serve).
  g_object_class_install_property(
      gobject_class, PROP_HTTP_PORT,
      g_param_spec_int("http-port", "HTTP port", "Serve the tree on this port (-1: off)", -1, 65535,
                       -1, rw_ready));
  // http-address: the address to serve on.
  g_object_class_install_property(
      gobject_class, PROP_HTTP_ADDRESS,
      g_param_spec_string("http-address", "HTTP address", "Address to serve on", "127.0.0.1",
                          rw_ready));
  // token-key-file: "KID HEXSECRET" lines (the first signs); when set, every request needs a
  // token in its path: /hls/<channel-id>/<token>/index.m3u8 (mint with `iptvctl token`).
  g_object_class_install_property(
      gobject_class, PROP_TOKEN_KEY_FILE,
      g_param_spec_string("token-key-file", "Token key file",
                          "Keys for EdgeAuth-style playback tokens (empty: no tokens)", "",
                          rw_ready));

  // disabled-renditions: comma-separated rendition names to take off the air (e.g. a broken
  // 1080p) while the others go on: the multivariant playlist drops them at once, their input
  // (video and their copy of the audio) is dropped, and setting them back resumes them at the
  // next keyframe with an EXT-X-DISCONTINUITY and continuing sequence numbers. Changeable while
  // PLAYING.
  g_object_class_install_property(
      gobject_class, PROP_DISABLED_RENDITIONS,
      g_param_spec_string(
          "disabled-renditions", "Disabled renditions",
          "Rendition names taken off the air (comma-separated)", "",
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));

  gst_element_class_add_static_pad_template(element_class, &video_template);
  gst_element_class_add_static_pad_template(element_class, &audio_template);
  gst_element_class_set_static_metadata(
      element_class, "IPTV multi-rendition HLS sink", "Sink/Muxer",
      "MPEG-TS HLS renditions with a multivariant playlist, restart-safe numbering", "gst-iptv");
  element_class->change_state = gst_iptv_hls_sink_change_state;
  element_class->request_new_pad = gst_iptv_hls_sink_request_new_pad;
  element_class->release_pad = gst_iptv_hls_sink_release_pad;
  bin_class->handle_message = gst_iptv_hls_sink_handle_message;
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_HLS_SINK_PLAYLIST_TYPE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_HLS_SINK_SEQUENCE_MODE, (GstPluginAPIFlags)0);
}

static void gst_iptv_hls_sink_init(GstIptvHlsSink *self) {
  self->priv = new GstIptvHlsSinkPrivate();
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}
