/**
 * SECTION:element-iptvabrladder
 * @title: iptvabrladder
 *
 * One raw video input, an ABR ladder of H.264 encoders whose keyframes fall on the same grid, so
 * every rendition can be cut into segments at the same instants and a player can switch rungs at
 * any segment boundary.
 *
 * - The sink pad takes any raw video; each rung converts and scales it itself
 *   (`videoconvertscale`), keeping the source's display aspect ratio.
 * - One source pad per rung (`src_0`, `src_1`, ... in #GstIptvAbrLadder:profiles order), created
 *   when the profiles are set, carrying parsed H.264 (byte-stream, AU-aligned, profile and level
 *   in the caps).
 * - Keyframes: a downstream force-key-unit event goes to every rung for the first frame at or
 *   after each multiple of #GstIptvAbrLadder:keyframe-interval, in UTC
 *   (#GstIptvAbrLadder:keyframe-anchor=epoch: from the frame's reference timestamp meta when the
 *   source carries one, else from the pipeline clock) or in running time. Encoders never add
 *   keyframes of their own (no scene cuts; their GOP limit is twice the interval).
 * - Rate control: VBV-constrained (maxrate = the target bitrate, buffer 0.8 s of it).
 * - Each rung encodes on its own thread (a queue). On a live input, a rung that cannot keep up
 *   drops frames before its queue, counts them in #GstIptvAbrLadder:stats, and never stalls
 *   the others.
 * - Cascade scaling (#GstIptvAbrLadder:cascade, default on): each rung is scaled from the next
 *   larger rung's picture (same frame-rate cap) rather than from the input; measured against
 *   ffmpeg's bicubic scaling it is as good at 720p and 0.13 dB better at 480p than direct
 *   scaling (docs/benchmarks.md).
 * - x264 threads (#GstIptvAbrLadder:threads): by default 1.5 threads per core shared among the
 *   rungs by pixel count (x264's own default gives each encoder 1.5 per core).
 * - Per-rung pause (#GstIptvAbrLadder:disabled-rungs, changeable while playing): a paused rung's
 *   encoder gets no frames (no CPU) and its pad no buffers; enabled again, it resumes with an
 *   IDR at the next keyframe of the grid, the same frame as the other rungs' (one grid step
 *   later when the encoder still held a keyframe request from before the pause).
 * - Memory: x264enc is handed a view of each frame so the frame goes back to its pool once
 *   x264 has copied it, instead of being held for x264's whole delay.
 * - Input size: the sink pad answers caps queries preferring the top (tallest) rung's size, its
 *   frame rate when the rung caps it, and I420, keeping the source's aspect ratio: a source that
 *   can produce any size (videotestsrc, or a videoscale before the ladder) then negotiates the
 *   top rung with no caps filter (a videoscale keeps a 4:3 source 4:3: 1440x1080 for 1080p).
 * - A rung taller than the source is dropped (upscaling wastes bits): its pad sends EOS, with a
 *   warning. When no rung fits the source, the element posts an error naming the source size
 *   and the smallest rung (gst-launch-1.0 exits non-zero), never a silent EOS.
 *
 * Messages (element messages on the bus):
 *  - `iptvabrladder-encoder-selected`, one per rung when the ladder starts: `pad` (string),
 *    `rung` (guint), `profile` (string), `encoder` (string: the element factory),
 *    `hardware` (boolean), `fallback-reason` (string; why better encoders were skipped, "" if
 *    none).
 *  - `iptvabrladder-rung-dropped`: `pad`, `rung`, `profile`, `reason` (string). A GStreamer
 *    WARNING message naming the rung is posted too.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! iptvabrladder profiles=720p-3mbps,480p-1mbps name=l \
 *   l.src_0 ! queue ! mpegtsmux ! filesink location=720p.ts \
 *   l.src_1 ! queue ! mpegtsmux ! filesink location=480p.ts
 * gst-launch-1.0 filesrc location=in.mp4 ! decodebin3 \
 *   ! iptvabrladder keyframe-anchor=running-time profiles=1280x720@3000,640x360@800@30 \
 *   preset=faster name=l l.src_0 ! fakesink l.src_1 ! fakesink
 * gst-launch-1.0 videotestsrc is-live=true ! iptvabrladder name=l \
 *   profiles=1080p-6mbps,720p-3mbps,480p-1mbps disabled-rungs=src_2 threads=0 \
 *   l.src_0 ! queue ! fakesink l.src_1 ! queue ! fakesink l.src_2 ! queue ! fakesink
 * ]|
 */
// Locks. `settings_lock` guards the properties (`settings`); `lock` guards the streaming state
// that other threads read (the rung plans and counters, `profile_list` for caps queries). They
// are never held together: code takes a snapshot of the settings under `settings_lock`, releases
// it, then builds or streams; `lock` is taken alone and released before posting a message or
// pushing. Streaming reads `cfg`, the copy of the settings taken at READY->PAUSED.
#include "gstiptvabrladder.h"

#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "gstiptvelements.h"
#include "abrladder_plan.h"
#include "profiles/profiles.h"

GST_DEBUG_CATEGORY_STATIC(abr_ladder_debug);
#define GST_CAT_DEFAULT abr_ladder_debug

// Lock order: priv->lock only (one lock). Never held while posting messages, sending events or
// changing element state.

enum class Anchor { kAuto, kEpoch, kRunningTime };

namespace {

constexpr guint kQueueBuffers = 8;  // per queue; a live rung drops above this (4 lost more
                                    // live frames at start under load)

// The encoder's input gate (per-rung pause): open, closed (the rung is disabled: nothing reaches
// the encoder), or waiting for the next grid keyframe after being enabled again.
enum Gate : int { kGateOpen, kGateClosed, kGateWaitKey, kGateOpenAtNext };

struct Rung {
  guint index = 0;
  iptv::Profile profile;
  iptv::RungPlan plan;
  std::string encoder_factory;
  std::string fallback_reason;
  bool hardware = false;
  GstElement *in_tee = nullptr;   // what feeds the queue: the input's tee or the parent's rtee
  GstPad *tee_pad = nullptr;      // request pad on in_tee (ref held)
  GstPad *enc_tee_pad = nullptr;  // request pad on rtee feeding the encoder (ref held; null when
                                  // the rung was dropped during this run)
  GstElement *queue = nullptr, *scale = nullptr, *scale_caps = nullptr, *rate = nullptr,
             *rate_caps = nullptr, *rtee = nullptr, *enc_queue = nullptr, *encoder = nullptr,
             *parse = nullptr, *out_caps = nullptr;
  GstPad *ghost = nullptr;
  GstIptvAbrLadder *self = nullptr;
  int parent = -1;            // cascade: the rung this one is scaled from (-1: the input)
  std::vector<int> children;  // cascade: the rungs scaled from this one
  GstPadChainFunction encoder_chain = nullptr;  // x264enc's own chain (see x264_input_chain)
  std::atomic<bool> dropped{false};
  std::atomic<bool> enabled{true};  // disabled-rungs
  std::atomic<bool> needed{true};   // enabled and not dropped, or feeding such a rung
  std::atomic<int> gate{kGateOpen};
  // After a resume: encoder output before this running time is left over from before the pause.
  std::atomic<guint64> drop_before{GST_CLOCK_TIME_NONE};
  std::atomic<guint64> frames_in{0}, frames_out{0}, frames_dropped{0}, frames_encoded{0};
  // fps over the last second of output (guarded by priv->lock)
  GstClockTime fps_window_start = GST_CLOCK_TIME_NONE;
  guint64 fps_window_frames = 0;
  double fps = 0;
};

}  // namespace

// The properties.
struct LadderSettings {
  std::string profiles;
  iptv::EncoderKind encoder = iptv::EncoderKind::kAuto;
  iptv::HwFallback fallback = iptv::HwFallback::kSoftware;
  double keyframe_interval = 2.0;
  Anchor anchor = Anchor::kAuto;
  std::string preset = "veryfast";
  gboolean cascade = TRUE;
  gint threads = 0;            // x264 threads per rung: 0 automatic, -1 x264's own default
  std::string disabled_rungs;  // mutable in PLAYING
};

struct GstIptvAbrLadderPrivate {
  std::mutex settings_lock;
  LadderSettings settings;  // settings_lock
  std::mutex lock;          // the streaming state other threads read (see the top of the file)
  LadderSettings cfg;       // the settings the rungs were built with / the run uses

  // Topology (built in the application thread when profiles are set, in NULL/READY).
  GstElement *tee = nullptr;
  GstPad *sink_ghost = nullptr;
  std::vector<std::unique_ptr<Rung>> rungs;
  std::vector<iptv::Profile> profile_list;  // the rungs' profiles, for caps queries (lock)

  // Streaming state.
  GstSegment segment;
  iptv::KeyframeGrid grid{2 * GST_SECOND};
  bool live = false;
  bool live_known = false;
  std::atomic<bool> no_rung_fits{false};  // every rung dropped: the input refuses data
  // Set while the input's caps are applied to the rungs' filters (in the streaming thread).
  std::atomic<bool> applying_caps{false};
  bool use_epoch = false;
  bool have_utc_offset = false;
  gint64 utc_offset = 0;  // realtime - clock time, ns
};

struct _GstIptvAbrLadder {
  GstBin parent;
  GstIptvAbrLadderPrivate *priv;
};

G_DEFINE_TYPE(GstIptvAbrLadder, gst_iptv_abr_ladder, GST_TYPE_BIN)
GST_ELEMENT_REGISTER_DEFINE_WITH_CODE(iptvabrladder, "iptvabrladder", GST_RANK_NONE,
                                      GST_TYPE_IPTV_ABR_LADDER,
                                      GST_DEBUG_CATEGORY_INIT(abr_ladder_debug, "iptvabrladder", 0,
                                                              "IPTV ABR ladder"));

enum {
  PROP_0,
  PROP_PROFILES,
  PROP_ENCODER,
  PROP_KEYFRAME_INTERVAL,
  PROP_KEYFRAME_ANCHOR,
  PROP_HW_FALLBACK,
  PROP_PRESET,
  PROP_CASCADE,
  PROP_THREADS,
  PROP_DISABLED_RUNGS,
  PROP_STATS,
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw(ANY)"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS("video/x-h264, stream-format=(string)byte-stream, alignment=(string)au"));

#define GST_TYPE_IPTV_ABR_LADDER_ENCODER (gst_iptv_abr_ladder_encoder_get_type())
static GType gst_iptv_abr_ladder_encoder_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {(gint)iptv::EncoderKind::kAuto, "Best available: NVENC, then VA-API, then x264", "auto"},
      {(gint)iptv::EncoderKind::kX264, "x264 (software)", "x264"},
      {(gint)iptv::EncoderKind::kVaapi, "VA-API (vah264enc or vaapih264enc)", "vaapi"},
      {(gint)iptv::EncoderKind::kNvenc, "NVIDIA NVENC (nvh264enc)", "nvenc"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstIptvAbrLadderEncoder", values));
  return type;
}

#define GST_TYPE_IPTV_ABR_LADDER_ANCHOR (gst_iptv_abr_ladder_anchor_get_type())
static GType gst_iptv_abr_ladder_anchor_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {(gint)Anchor::kAuto, "epoch for live sources, running-time otherwise", "auto"},
      {(gint)Anchor::kEpoch, "Keyframes where the frame's UTC time is a multiple of the interval",
       "epoch"},
      {(gint)Anchor::kRunningTime, "Keyframes on multiples of the interval in running time",
       "running-time"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstIptvAbrLadderAnchor", values));
  return type;
}

#define GST_TYPE_IPTV_ABR_LADDER_FALLBACK (gst_iptv_abr_ladder_fallback_get_type())
static GType gst_iptv_abr_ladder_fallback_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {(gint)iptv::HwFallback::kSoftware, "Fall back to x264 when hardware is missing or fails",
       "software"},
      {(gint)iptv::HwFallback::kFail, "Fail when the chosen hardware encoder is unavailable",
       "fail"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstIptvAbrLadderFallback", values));
  return type;
}

// ---- encoders ----

static bool factory_exists(const std::string &name) {
  GstElementFactory *f = gst_element_factory_find(name.c_str());
  if (!f) return false;
  gst_object_unref(f);
  return true;
}

// A hardware encoder opens its device going to READY (NVENC: a full session budget shows up as
// an out-of-memory error there); try it in isolation.
static bool encoder_opens(const std::string &name) {
  if (name == "x264enc") return true;
  GstElement *e = gst_element_factory_make(name.c_str(), nullptr);
  if (!e) return false;
  bool ok = gst_element_set_state(e, GST_STATE_READY) != GST_STATE_CHANGE_FAILURE;
  gst_element_set_state(e, GST_STATE_NULL);
  gst_object_unref(e);
  return ok;
}

static bool has_property(GstElement *e, const char *name) {
  return g_object_class_find_property(G_OBJECT_GET_CLASS(e), name) != nullptr;
}

// Configures an encoder for HLS: VBV-constrained bitrate, GOP limit twice the keyframe interval
// (the grid forces the real keyframes), no scene-cut keyframes, the speed preset; x264's threads
// (`threads` > 0; otherwise x264 picks).
static void configure_encoder(GstElement *enc, const std::string &factory, int kbps,
                              double interval, const std::string &preset, int threads) {
  iptv::RateControl rc = iptv::rate_control_for(kbps);
  guint gop = (guint)(interval * 120 + 1);  // frames at up to 60 fps, twice the interval
  if (factory == "x264enc") {
    // pass=cbr is x264's ABR with VBV: maxrate = bitrate, buffer = vbv-buf-capacity (ms).
    gst_util_set_object_arg(G_OBJECT(enc), "speed-preset", preset.c_str());
    gst_util_set_object_arg(G_OBJECT(enc), "pass", "cbr");
    g_object_set(enc, "bitrate", (guint)rc.bitrate_kbps, "vbv-buf-capacity",
                 (guint)(rc.bufsize_kbits * 1000 / std::max(1, rc.bitrate_kbps)), "key-int-max",
                 gop, "option-string", "scenecut=0", nullptr);
    if (threads > 0) g_object_set(enc, "threads", (guint)threads, nullptr);
    return;
  }
  // Hardware encoders (properties checked, as they vary between elements and versions).
  if (has_property(enc, "bitrate")) g_object_set(enc, "bitrate", (guint)rc.bitrate_kbps, nullptr);
  if (has_property(enc, "max-bitrate"))
    g_object_set(enc, "max-bitrate", (guint)rc.maxrate_kbps, nullptr);
  if (has_property(enc, "rate-control"))
    gst_util_set_object_arg(G_OBJECT(enc), "rate-control", "cbr");
  if (has_property(enc, "rc-mode")) gst_util_set_object_arg(G_OBJECT(enc), "rc-mode", "cbr");
  if (has_property(enc, "gop-size")) g_object_set(enc, "gop-size", (gint)gop, nullptr);
  if (has_property(enc, "key-int-max")) g_object_set(enc, "key-int-max", gop, nullptr);
  if (has_property(enc, "bframes")) g_object_set(enc, "bframes", 0, nullptr);
}

// x264enc keeps every input buffer (mapped) until its frame comes out of the encoder, i.e. for
// the whole of x264's delay (rc-lookahead + B-frames + frame threads: 16 frames at veryfast on
// 2 cores), although libx264 copies the picture into its own frame inside x264_encoder_encode()
// (x264_frame_copy_picture) and never reads the caller's planes again. With three rungs that is
// ~80 MB of raw frames (and the decoder's pool grows to match) that ffmpeg does not hold. So the
// encoder is handed a view of the frame (the same bytes, wrapped without a reference to the
// frame) and the frame itself is released as soon as the encoder's chain returns, by when x264
// has copied it. Only used for x264enc, whose handle_frame encodes synchronously in its chain.
static GQuark rung_quark() {
  static GQuark q = g_quark_from_static_string("iptvabrladder-rung");
  return q;
}

static GstFlowReturn x264_input_chain(GstPad *pad, GstObject *parent, GstBuffer *buf) {
  auto *r = static_cast<Rung *>(g_object_get_qdata(G_OBJECT(pad), rung_quark()));
  GstMapInfo map;
  r->frames_encoded++;
  if (gst_buffer_n_memory(buf) != 1 || !gst_buffer_map(buf, &map, GST_MAP_READ))
    return r->encoder_chain(pad, parent, buf);
  GstBuffer *view = gst_buffer_new();
  gst_buffer_append_memory(view, gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, map.data,
                                                        map.size, 0, map.size, nullptr, nullptr));
  gst_buffer_copy_into(view, buf,
                       (GstBufferCopyFlags)(GST_BUFFER_COPY_FLAGS | GST_BUFFER_COPY_TIMESTAMPS |
                                            GST_BUFFER_COPY_META),
                       0, -1);
  // The frame's layout (a decoder's padded strides and plane offsets) is a memory meta, which a
  // copy without the memory leaves out: copied by hand.
  if (GstVideoMeta *vm = gst_buffer_get_video_meta(buf)) {
    GstVideoMeta *copy = gst_buffer_add_video_meta_full(
        view, vm->flags, vm->format, vm->width, vm->height, vm->n_planes, vm->offset, vm->stride);
    copy->id = vm->id;
  }
  GstFlowReturn ret = r->encoder_chain(pad, parent, view);
  gst_buffer_unmap(buf, &map);
  gst_buffer_unref(buf);
  return ret;
}

// ---- topology ----

static void clear_rungs(GstIptvAbrLadder *self) {
  GstIptvAbrLadderPrivate *p = self->priv;
  // Request pads first (a rung's queue may hang off another rung's tee), then the elements.
  for (auto &r : p->rungs) {
    if (r->ghost) {
      gst_pad_set_active(r->ghost, FALSE);
      gst_element_remove_pad(GST_ELEMENT(self), r->ghost);
    }
    if (r->tee_pad) {
      gst_element_release_request_pad(r->in_tee, r->tee_pad);
      gst_object_unref(r->tee_pad);
      r->tee_pad = nullptr;
    }
    if (r->enc_tee_pad) {
      gst_element_release_request_pad(r->rtee, r->enc_tee_pad);
      gst_object_unref(r->enc_tee_pad);
      r->enc_tee_pad = nullptr;
    }
  }
  for (auto &r : p->rungs) {
    GstElement *els[] = {r->queue, r->scale,     r->scale_caps, r->rate,  r->rate_caps,
                         r->rtee,  r->enc_queue, r->encoder,    r->parse, r->out_caps};
    for (GstElement *e : els)
      if (e) {
        gst_element_set_state(e, GST_STATE_NULL);
        gst_bin_remove(GST_BIN(self), e);
      }
  }
  p->rungs.clear();
}

static GstPadProbeReturn rung_in_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data);
static GstPadProbeReturn queue_full_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data);
static GstPadProbeReturn rung_out_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data);
static GstPadProbeReturn encoder_gate_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data);
static GstPadProbeReturn encoder_out_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data);
static void apply_disabled(GstIptvAbrLadder *self, const std::string &list, bool streaming);

// Links the rung's encoder (its queue, if any) to its own tee (again, after it was dropped in a
// previous run).
static void link_encoder(Rung *r) {
  r->enc_tee_pad = gst_element_request_pad_simple(r->rtee, "src_%u");
  GstPad *esink = gst_element_get_static_pad(r->enc_queue ? r->enc_queue : r->encoder, "sink");
  gst_pad_link(r->enc_tee_pad, esink);
  gst_object_unref(esink);
}

static gboolean build_rungs(GstIptvAbrLadder *self, const LadderSettings &cfg, GError **error) {
  GstIptvAbrLadderPrivate *p = self->priv;
  const std::string &list = cfg.profiles;
  p->cfg = cfg;
  iptv::ProfileCatalog catalog;
  std::vector<iptv::Profile> profiles;
  std::string err;
  if (!iptv::parse_profile_list(list, catalog, profiles, &err)) {
    g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED, "profiles: %s", err.c_str());
    return FALSE;
  }
  clear_rungs(self);
  {
    std::lock_guard<std::mutex> lock(p->lock);
    p->profile_list.clear();
  }
  std::vector<int> parents =
      cfg.cascade ? iptv::cascade_parents(profiles) : std::vector<int>(profiles.size(), -1);
  std::vector<int> threads = iptv::x264_threads(profiles, (int)g_get_num_processors());
  std::vector<bool> has_children(profiles.size(), false);
  for (int par : parents)
    if (par >= 0) has_children[par] = true;
  for (size_t i = 0; i < profiles.size(); ++i) {
    auto r = std::make_unique<Rung>();
    r->self = self;
    r->index = (guint)i;
    r->profile = profiles[i];
    r->parent = parents[i];
    auto candidates = iptv::encoder_candidates(cfg.encoder, cfg.fallback);
    auto chosen =
        iptv::choose_encoder(candidates, factory_exists, encoder_opens, &r->fallback_reason);
    if (!chosen) {
      g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                  "rung %zu (%s): no usable encoder (%s)", i, profiles[i].name.c_str(),
                  r->fallback_reason.c_str());
      clear_rungs(self);
      return FALSE;
    }
    r->encoder_factory = *chosen;
    r->hardware = *chosen != "x264enc";
    // Threads: a rung scaled from the input starts with a queue (its own thread); a cascade
    // scales on its root's thread. An encoder whose picture also feeds other rungs, or that hangs
    // off such a picture, gets its own queue, so a blocked or slow encoder never holds up the
    // scaling of the others.
    bool in_queue = r->parent < 0;
    bool enc_queue = r->parent >= 0 || has_children[i];
    if (in_queue) r->queue = gst_element_factory_make("queue", nullptr);
    r->scale = gst_element_factory_make("videoconvertscale", nullptr);
    r->scale_caps = gst_element_factory_make("capsfilter", nullptr);
    if (profiles[i].max_fps > 0) {
      r->rate = gst_element_factory_make("videorate", nullptr);
      r->rate_caps = gst_element_factory_make("capsfilter", nullptr);
    }
    r->rtee = gst_element_factory_make("tee", nullptr);
    if (enc_queue) r->enc_queue = gst_element_factory_make("queue", nullptr);
    r->encoder = gst_element_factory_make(chosen->c_str(), nullptr);
    r->parse = gst_element_factory_make("h264parse", nullptr);
    r->out_caps = gst_element_factory_make("capsfilter", nullptr);
    if ((in_queue && !r->queue) || !r->scale || !r->scale_caps || !r->rtee ||
        (enc_queue && !r->enc_queue) || !r->encoder || !r->parse || !r->out_caps ||
        (profiles[i].max_fps > 0 && (!r->rate || !r->rate_caps))) {
      g_set_error(error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
                  "missing elements for rung %zu (videoconvertscale, videorate, tee, h264parse, "
                  "%s)",
                  i, chosen->c_str());
      for (GstElement *e : {r->queue, r->scale, r->scale_caps, r->rate, r->rate_caps, r->rtee,
                            r->enc_queue, r->encoder, r->parse, r->out_caps})
        if (e) gst_object_unref(e);
      clear_rungs(self);
      return FALSE;
    }
    // Rung sizes keep the aspect ratio to the nearest even pixel: stretch that last fraction of
    // a pixel rather than letterbox (add-borders would paint a black line and shift the picture).
    g_object_set(r->scale, "add-borders", FALSE, nullptr);
    for (GstElement *q : {r->queue, r->enc_queue})
      if (q)
        g_object_set(q, "max-size-buffers", kQueueBuffers, "max-size-bytes", 0, "max-size-time",
                     (guint64)0, nullptr);
    configure_encoder(r->encoder, *chosen, profiles[i].kbps, cfg.keyframe_interval, cfg.preset,
                      cfg.threads == 0 ? threads[i] : cfg.threads);
    g_object_set(r->rtee, "allow-not-linked", TRUE, nullptr);
    GstCaps *oc = gst_caps_from_string("video/x-h264,stream-format=byte-stream,alignment=au");
    g_object_set(r->out_caps, "caps", oc, nullptr);
    gst_caps_unref(oc);
    std::vector<GstElement *> chain;
    if (r->queue) chain.push_back(r->queue);
    chain.insert(chain.end(), {r->scale, r->scale_caps});
    if (r->rate) {
      chain.push_back(r->rate);
      chain.push_back(r->rate_caps);
    }
    chain.push_back(r->rtee);
    std::vector<GstElement *> enc_chain;
    if (r->enc_queue) enc_chain.push_back(r->enc_queue);
    enc_chain.insert(enc_chain.end(), {r->encoder, r->parse, r->out_caps});
    for (GstElement *e : chain) gst_bin_add(GST_BIN(self), e);
    for (GstElement *e : enc_chain) gst_bin_add(GST_BIN(self), e);
    for (size_t k = 0; k + 1 < chain.size(); ++k) gst_element_link(chain[k], chain[k + 1]);
    for (size_t k = 0; k + 1 < enc_chain.size(); ++k)
      gst_element_link(enc_chain[k], enc_chain[k + 1]);
    link_encoder(r.get());
    // The rung's input: the ladder's tee, or in a cascade its parent's tee (linked below, once
    // every rung exists).
    GstPad *in = gst_element_get_static_pad(chain[0], "sink");
    gst_pad_add_probe(in, GST_PAD_PROBE_TYPE_BUFFER, rung_in_probe, r.get(), nullptr);
    gst_object_unref(in);
    // The gate sits where the encoder's input starts (its queue, if any): frames of a paused
    // rung are dropped before they wake its threads. Before the queue-full drop, so the frame
    // a resume opens at is the grid's.
    GstPad *gate = gst_element_get_static_pad(enc_chain[0], "sink");
    gst_pad_add_probe(
        gate, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        encoder_gate_probe, r.get(), nullptr);
    gst_object_unref(gate);
    for (GstElement *q : {r->queue, r->enc_queue}) {
      if (!q) continue;
      GstPad *qsink = gst_element_get_static_pad(q, "sink");
      gst_pad_add_probe(qsink, GST_PAD_PROBE_TYPE_BUFFER, queue_full_probe, r.get(), nullptr);
      gst_object_unref(qsink);
    }
    GstPad *esink = gst_element_get_static_pad(r->encoder, "sink");
    if (*chosen == "x264enc") {
      g_object_set_qdata(G_OBJECT(esink), rung_quark(), r.get());
      r->encoder_chain = GST_PAD_CHAINFUNC(esink);
      gst_pad_set_chain_function(esink, x264_input_chain);
    }
    gst_object_unref(esink);
    GstPad *esrc = gst_element_get_static_pad(r->encoder, "src");
    gst_pad_add_probe(esrc, GST_PAD_PROBE_TYPE_BUFFER, encoder_out_probe, r.get(), nullptr);
    gst_object_unref(esrc);
    GstPad *target = gst_element_get_static_pad(r->out_caps, "src");
    gst_pad_add_probe(target, GST_PAD_PROBE_TYPE_BUFFER, rung_out_probe, r.get(), nullptr);
    gchar *name = g_strdup_printf("src_%zu", i);
    GstPadTemplate *templ = gst_static_pad_template_get(&src_template);
    r->ghost = gst_ghost_pad_new_from_template(name, target, templ);
    gst_object_unref(templ);
    g_free(name);
    gst_object_unref(target);
    gst_pad_set_active(r->ghost, TRUE);
    gst_element_add_pad(GST_ELEMENT(self), r->ghost);
    p->rungs.push_back(std::move(r));
  }
  for (auto &r : p->rungs) {
    r->in_tee = r->parent >= 0 ? p->rungs[r->parent]->rtee : p->tee;
    if (r->parent >= 0) p->rungs[r->parent]->children.push_back((int)r->index);
    r->tee_pad = gst_element_request_pad_simple(r->in_tee, "src_%u");
    GstPad *in = gst_element_get_static_pad(r->queue ? r->queue : r->scale, "sink");
    gst_pad_link(r->tee_pad, in);
    gst_object_unref(in);
  }
  gst_element_no_more_pads(GST_ELEMENT(self));
  {
    std::lock_guard<std::mutex> lock(p->lock);
    p->profile_list = profiles;
  }
  apply_disabled(self, cfg.disabled_rungs, false);
  return TRUE;
}

// ---- streaming ----

// Whether each rung's scaled picture is wanted: its own encoder is on (enabled, not dropped),
// or a rung scaled from it (a cascade) needs it. Rungs that are not needed drop their input
// before the queue: no scaling, no encoding.
static void update_needed(GstIptvAbrLadderPrivate *p) {
  std::lock_guard<std::mutex> lock(p->lock);
  std::vector<bool> need(p->rungs.size(), false);
  // Children are shorter than (or after) their parents: iterate until stable (a few passes).
  for (size_t pass = 0; pass <= p->rungs.size(); ++pass) {
    bool changed = false;
    for (auto &r : p->rungs) {
      bool n = (r->enabled && !r->dropped);
      for (int c : r->children) n = n || need[c];
      if (n != need[r->index]) {
        need[r->index] = n;
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (auto &r : p->rungs) r->needed = need[r->index];
}

static GstPadProbeReturn rung_in_probe(GstPad *, GstPadProbeInfo *, gpointer user_data) {
  auto *r = static_cast<Rung *>(user_data);
  if (!r->needed) return GST_PAD_PROBE_DROP;
  r->frames_in++;
  return GST_PAD_PROBE_OK;
}

// Live input: a rung whose queue is full drops this frame rather than stalling the tee (and with
// it every other rung).
static GstPadProbeReturn queue_full_probe(GstPad *pad, GstPadProbeInfo *, gpointer user_data) {
  auto *r = static_cast<Rung *>(user_data);
  if (!r->self->priv->live) return GST_PAD_PROBE_OK;
  GstObject *queue = gst_pad_get_parent(pad);
  guint level = 0;
  if (queue) {
    g_object_get(queue, "current-level-buffers", &level, nullptr);
    gst_object_unref(queue);
  }
  if (level < kQueueBuffers) return GST_PAD_PROBE_OK;
  r->frames_dropped++;
  return GST_PAD_PROBE_DROP;
}

// The encoder's input gate (per-rung pause). A disabled rung's encoder gets no frames (and no
// keyframe requests). Enabled again, it waits for the next keyframe request of the grid (sent to
// every rung ahead of the same frame) and opens at that frame, so the rung resumes with an IDR
// on the grid, aligned with the other rungs.
// A buffer's running time on `pad` (its sticky segment); GST_CLOCK_TIME_NONE when unknown.
static GstClockTime running_time_on(GstPad *pad, GstBuffer *buf) {
  if (!GST_BUFFER_PTS_IS_VALID(buf)) return GST_CLOCK_TIME_NONE;
  GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
  if (!ev) return GST_CLOCK_TIME_NONE;
  const GstSegment *seg;
  gst_event_parse_segment(ev, &seg);
  GstClockTime rt = gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
  gst_event_unref(ev);
  return rt;
}

static GstPadProbeReturn encoder_gate_probe(GstPad *pad, GstPadProbeInfo *info,
                                            gpointer user_data) {
  auto *r = static_cast<Rung *>(user_data);
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (!gst_video_event_is_force_key_unit(ev)) return GST_PAD_PROBE_OK;
    int g = r->gate;
    if (g == kGateClosed) return GST_PAD_PROBE_DROP;
    if (g == kGateWaitKey) r->gate.compare_exchange_strong(g, kGateOpenAtNext);
    return GST_PAD_PROBE_OK;
  }
  int g = r->gate;
  if (g == kGateOpen) return GST_PAD_PROBE_OK;
  if (g == kGateOpenAtNext && r->gate.compare_exchange_strong(g, kGateOpen)) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    // The encoder may still hold frames from before the pause: they come out first, and go.
    // Compared in running time: x264enc shifts its output timestamps (and segment) by 1000 h.
    GstClockTime rt = running_time_on(pad, buf);
    r->drop_before = rt;
    GST_INFO_OBJECT(r->self, "rung %u resumes at running time %" GST_TIME_FORMAT, r->index,
                    GST_TIME_ARGS(rt));
    return GST_PAD_PROBE_OK;
  }
  return GST_PAD_PROBE_DROP;
}

static GstPadProbeReturn encoder_out_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
  auto *r = static_cast<Rung *>(user_data);
  guint64 before = r->drop_before;
  if (before == GST_CLOCK_TIME_NONE) return GST_PAD_PROBE_OK;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  GstClockTime rt = running_time_on(pad, buf);
  if (GST_CLOCK_TIME_IS_VALID(rt) && rt < before) return GST_PAD_PROBE_DROP;
  // The resume frame may not have become a keyframe: when the pause began the encoder still held
  // a frame it was asked to make a keyframe (x264's lookahead), and GstVideoEncoder does not ask
  // again while such a request is pending. Then the rung resumes at the next grid keyframe.
  if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) return GST_PAD_PROBE_DROP;
  r->drop_before = GST_CLOCK_TIME_NONE;  // the resume keyframe: from here on, all goes out
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn rung_out_probe(GstPad *, GstPadProbeInfo *, gpointer user_data) {
  auto *r = static_cast<Rung *>(user_data);
  GstIptvAbrLadderPrivate *p = r->self->priv;
  GstClock *clock = gst_element_get_clock(GST_ELEMENT(r->self));
  GstClockTime now = clock ? gst_clock_get_time(clock) : GST_CLOCK_TIME_NONE;
  if (clock) gst_object_unref(clock);
  std::lock_guard<std::mutex> lock(p->lock);
  r->frames_out++;
  if (GST_CLOCK_TIME_IS_VALID(now)) {
    if (!GST_CLOCK_TIME_IS_VALID(r->fps_window_start)) r->fps_window_start = now;
    r->fps_window_frames++;
    if (now - r->fps_window_start >= GST_SECOND) {
      r->fps = r->fps_window_frames * (double)GST_SECOND / (now - r->fps_window_start);
      r->fps_window_start = now;
      r->fps_window_frames = 0;
    }
  }
  return GST_PAD_PROBE_OK;
}

// Parses disabled-rungs ("1,src_2": rung indices or pad names) and applies it: a rung switched
// off closes its encoder's gate at once; one switched on waits for the next grid keyframe.
// `streaming`: the ladder is running (a rung enabled again must resume on a keyframe), as
// opposed to being set up (gates start open or closed).
static void apply_disabled(GstIptvAbrLadder *self, const std::string &list, bool streaming) {
  GstIptvAbrLadderPrivate *p = self->priv;
  std::vector<bool> off(p->rungs.size(), false);
  gchar **parts = g_strsplit(list.c_str(), ",", -1);
  for (gchar **it = parts; *it; ++it) {
    gchar *n = g_strstrip(*it);
    if (!*n) continue;
    const char *num = g_str_has_prefix(n, "src_") ? n + 4 : n;
    gchar *end = nullptr;
    guint64 idx = g_ascii_strtoull(num, &end, 10);
    if (end == num || *end || idx >= p->rungs.size()) {
      GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("Unknown rung '%s' in disabled-rungs", n),
                          ("disabled-rungs takes rung indices or pad names, 0 to %zu (src_0 to "
                           "src_%zu)",
                           p->rungs.size() - 1, p->rungs.size() - 1));
      continue;
    }
    off[idx] = true;
  }
  g_strfreev(parts);
  for (auto &r : p->rungs) {
    bool en = !off[r->index];
    bool was = r->enabled.exchange(en);
    if (!streaming) {
      r->gate = en ? kGateOpen : kGateClosed;
    } else if (was != en) {
      r->gate = en ? kGateWaitKey : kGateClosed;
      GST_INFO_OBJECT(self, "rung %u %s", r->index,
                      en ? "enabled: resumes at the next grid keyframe" : "disabled");
    }
  }
  update_needed(p);
}

// Sets a capsfilter's caps (taking `caps`) unless it has them already: a change sends a
// reconfigure upstream, which makes the source renegotiate and run a serialized allocation query
// through every rung's queue; a source that re-sends the same caps (with an extra field) needs
// none of that.
static void set_filter_caps(GstElement *filter, GstCaps *caps) {
  GstCaps *cur = nullptr;
  g_object_get(filter, "caps", &cur, nullptr);
  if (!cur || !gst_caps_is_equal(cur, caps)) g_object_set(filter, "caps", caps, nullptr);
  if (cur) gst_caps_unref(cur);
  gst_caps_unref(caps);
}

// Plans the rungs for the source's caps: sizes (aspect kept), frame-rate caps, dropped rungs.
static void apply_caps_to_rungs(GstIptvAbrLadder *self, GstCaps *caps);

// Setting a rung's filter caps sends a reconfigure event upstream, which marks the rung's scaler
// to renegotiate its output (wanted) and, past the ladder's input, makes the source renegotiate
// its own caps and run a serialized allocation query through every rung's queues, which waits
// for them to drain (in a cascade, for the encoders' queues too) while a live source's frames
// are lost. The input's caps are the ones being applied, so the source has nothing to
// renegotiate: the event stops at the ladder's input (input_reconfigure_probe).
static void apply_caps(GstIptvAbrLadder *self, GstCaps *caps) {
  self->priv->applying_caps = true;
  apply_caps_to_rungs(self, caps);
  self->priv->applying_caps = false;
}

static GstPadProbeReturn input_reconfigure_probe(GstPad *, GstPadProbeInfo *info,
                                                 gpointer user_data) {
  auto *self = GST_IPTV_ABR_LADDER(user_data);
  if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_RECONFIGURE &&
      self->priv->applying_caps)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

static void apply_caps_to_rungs(GstIptvAbrLadder *self, GstCaps *caps) {
  GstIptvAbrLadderPrivate *p = self->priv;
  GstVideoInfo info;
  if (!gst_video_info_from_caps(&info, caps)) return;
  std::vector<iptv::Profile> profiles;
  for (auto &r : p->rungs) profiles.push_back(r->profile);  // rungs change only in NULL/READY
  auto plans = iptv::plan_rungs(profiles, GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info),
                                GST_VIDEO_INFO_PAR_N(&info), GST_VIDEO_INFO_PAR_D(&info),
                                GST_VIDEO_INFO_FPS_N(&info), GST_VIDEO_INFO_FPS_D(&info));
  bool none_fits = !plans.empty() && std::all_of(plans.begin(), plans.end(),
                                                 [](const iptv::RungPlan &r) { return r.dropped; });
  p->no_rung_fits = none_fits;
  if (none_fits) {
    // Never a silent EOS: with every rung dropped nothing would come out at all. Posted before
    // the rungs are dropped, whose EOS would otherwise reach the bus first.
    auto low = iptv::smallest_rung(profiles);
    int w = GST_VIDEO_INFO_WIDTH(&info), h = GST_VIDEO_INFO_HEIGHT(&info);
    std::string low_name = low ? low->name : "?";
    int low_w = low ? low->width : 0, low_h = low ? low->height : 0;
    GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                      ("No rung fits the %dx%d source: the smallest rung, %s, is %dx%d", w, h,
                       low_name.c_str(), low_w, low_h),
                      ("every rung is taller than the source's %d lines (upscaling wastes bits); "
                       "feed a taller source (a videoscale before the ladder) or add a rung of at "
                       "most %d lines",
                       h, h));
  }
  for (size_t i = 0; i < plans.size() && i < p->rungs.size(); ++i) {
    Rung *r = p->rungs[i].get();
    {
      std::lock_guard<std::mutex> lock(p->lock);  // stats read the plan
      r->plan = plans[i];
    }
    // A YUV source's colorimetry is kept: otherwise SD-sized rungs default to BT.601 and get a
    // colour matrix conversion (and a mismatch with how players decode them). Not an RGB one
    // (sRGB) which cannot describe I420, and a source that renegotiates from RGB to YUV would
    // otherwise meet a stale sRGB filter (not negotiated).
    gchar *cm =
        GST_VIDEO_INFO_IS_YUV(&info) ? gst_video_colorimetry_to_string(&info.colorimetry) : nullptr;
    GstCaps *sc = nullptr;
    if (plans[i].dropped) {
      if (!r->dropped.exchange(true)) {
        GST_ELEMENT_WARNING(self, STREAM, FORMAT, ("Dropping rung %s", r->profile.name.c_str()),
                            ("%s", plans[i].drop_reason.c_str()));
        gchar *pad = gst_pad_get_name(r->ghost);
        gst_element_post_message(
            GST_ELEMENT(self),
            gst_message_new_element(
                GST_OBJECT(self),
                gst_structure_new("iptvabrladder-rung-dropped", "pad", G_TYPE_STRING, pad, "rung",
                                  G_TYPE_UINT, r->index, "profile", G_TYPE_STRING,
                                  r->profile.name.c_str(), "reason", G_TYPE_STRING,
                                  plans[i].drop_reason.c_str(), nullptr)));
        g_free(pad);
        // Detach the encoder from the rung's tee (so no data, event or serialized query waits
        // on it) and tell downstream nothing will come: from another thread, never from inside
        // the input pad's caps handling. Its scaler goes on only while rungs are scaled from it.
        gst_element_call_async(
            GST_ELEMENT(self),
            [](GstElement *el, gpointer data) {
              auto *ladder = GST_IPTV_ABR_LADDER(el);
              Rung *rung = static_cast<Rung *>(data);
              GstPad *esink = gst_element_get_static_pad(
                  rung->enc_queue ? rung->enc_queue : rung->encoder, "sink");
              GstPad *tee_pad = nullptr;
              {
                std::lock_guard<std::mutex> lock(ladder->priv->lock);
                tee_pad = rung->enc_tee_pad;
                rung->enc_tee_pad = nullptr;
              }
              if (tee_pad) {
                gst_pad_unlink(tee_pad, esink);
                gst_element_release_request_pad(rung->rtee, tee_pad);
                gst_object_unref(tee_pad);
              }
              gst_pad_send_event(esink, gst_event_new_eos());
              gst_object_unref(esink);
            },
            r, nullptr);
      }
      // Feeding a cascade: pass the source's picture on unscaled (it is shorter than this rung).
      if (!r->children.empty())
        sc = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width",
                                 G_TYPE_INT, GST_VIDEO_INFO_WIDTH(&info), "height", G_TYPE_INT,
                                 GST_VIDEO_INFO_HEIGHT(&info), "pixel-aspect-ratio",
                                 GST_TYPE_FRACTION, GST_VIDEO_INFO_PAR_N(&info),
                                 GST_VIDEO_INFO_PAR_D(&info), nullptr);
    } else {
      r->dropped = false;
      sc = gst_caps_new_simple("video/x-raw", "format", G_TYPE_STRING, "I420", "width", G_TYPE_INT,
                               plans[i].width, "height", G_TYPE_INT, plans[i].height,
                               "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
    }
    if (sc) {
      if (cm) gst_caps_set_simple(sc, "colorimetry", G_TYPE_STRING, cm, nullptr);
      set_filter_caps(r->scale_caps, sc);
      if (r->rate_caps) {
        GstCaps *rc = plans[i].fps_n > 0
                          ? gst_caps_new_simple("video/x-raw", "framerate", GST_TYPE_FRACTION,
                                                plans[i].fps_n, plans[i].fps_d, nullptr)
                          : gst_caps_new_any();
        set_filter_caps(r->rate_caps, rc);
      }
    }
    g_free(cm);
  }
  update_needed(p);
}

// The frame's anchor time for the keyframe grid (ns): UTC or running time.
static gint64 anchor_time(GstIptvAbrLadder *self, GstBuffer *buf, GstClockTime running) {
  GstIptvAbrLadderPrivate *p = self->priv;
  if (!p->use_epoch) return (gint64)running;
  // Made once, kept for the life of the process (flagged so the leaks tracer does not report it).
  static GstCaps *unix_caps = [] {
    GstCaps *c = gst_caps_new_empty_simple("timestamp/x-unix");
    GST_MINI_OBJECT_FLAG_SET(c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    return c;
  }();
  GstReferenceTimestampMeta *meta = gst_buffer_get_reference_timestamp_meta(buf, unix_caps);
  if (meta) return (gint64)meta->timestamp;
  if (!p->have_utc_offset) {
    GstClock *clock = gst_element_get_clock(GST_ELEMENT(self));
    if (!clock) return (gint64)running;
    GstClockTime c = gst_clock_get_time(clock);
    gint64 real = g_get_real_time() * 1000;
    gst_object_unref(clock);
    p->utc_offset = real - (gint64)c;
    p->have_utc_offset = true;
  }
  GstClockTime base = gst_element_get_base_time(GST_ELEMENT(self));
  return (gint64)(base + running) + p->utc_offset;
}

static GstPadProbeReturn input_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
  auto *self = GST_IPTV_ABR_LADDER(user_data);
  GstIptvAbrLadderPrivate *p = self->priv;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps(ev, &caps);
      apply_caps(self, caps);
    } else if (GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT) {
      gst_event_copy_segment(ev, &p->segment);
    } else if (GST_EVENT_TYPE(ev) == GST_EVENT_STREAM_START ||
               GST_EVENT_TYPE(ev) == GST_EVENT_FLUSH_STOP) {
      p->grid.reset();
      p->live_known = false;
    }
    return GST_PAD_PROBE_OK;
  }
  if (p->no_rung_fits) {  // the error is posted; stop the source rather than feed nothing
    gst_buffer_unref(GST_PAD_PROBE_INFO_BUFFER(info));
    GST_PAD_PROBE_INFO_DATA(info) = nullptr;
    GST_PAD_PROBE_INFO_FLOW_RETURN(info) = GST_FLOW_NOT_NEGOTIATED;
    return GST_PAD_PROBE_HANDLED;
  }
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!p->live_known) {
    GstQuery *q = gst_query_new_latency();
    gboolean live = FALSE;
    if (gst_pad_peer_query(pad, q)) gst_query_parse_latency(q, &live, nullptr, nullptr);
    gst_query_unref(q);
    p->live = live;
    p->live_known = true;
    p->use_epoch = p->cfg.anchor == Anchor::kEpoch || (p->cfg.anchor == Anchor::kAuto && live);
    GST_INFO_OBJECT(self, "input is %s; keyframe anchor %s", live ? "live" : "not live",
                    p->use_epoch ? "epoch (UTC)" : "running time");
  }
  if (!GST_BUFFER_PTS_IS_VALID(buf) || p->segment.format != GST_FORMAT_TIME)
    return GST_PAD_PROBE_OK;
  GstClockTime running =
      gst_segment_to_running_time(&p->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
  if (!GST_CLOCK_TIME_IS_VALID(running)) return GST_PAD_PROBE_OK;
  if (p->grid.should_force(anchor_time(self, buf, running))) {
    // Serialized, so it reaches every rung's encoder just ahead of this very frame. Its running
    // time is left unset ("the next frame"): GstVideoEncoder 1.22 compares it with frame times
    // that x264enc shifts by its minimum PTS (+1000 h), which would skip every later request.
    GstEvent *fku = gst_video_event_new_downstream_force_key_unit(
        GST_BUFFER_PTS(buf), GST_CLOCK_TIME_NONE, GST_CLOCK_TIME_NONE, TRUE, 0);
    gst_pad_send_event(pad, fku);
  }
  return GST_PAD_PROBE_OK;
}

// The sink pad's caps query: what downstream of the tee accepts (any raw video the rungs can
// convert), with the top rung's size and frame rate first, so a flexible source (videotestsrc, a
// videoscale before the ladder) negotiates the top rung instead of its own default size. A
// fixed-size source does not intersect the preference and keeps its size.
static GstCaps *prefer_top_rung(GstIptvAbrLadder *self, GstCaps *caps, GstCaps *filter) {
  std::vector<iptv::Profile> profiles;
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    profiles = self->priv->profile_list;
  }
  // The source's pixel aspect ratio, when its offer (the query's filter) fixes it.
  bool aspect_fixed = true;
  int par_n = 1, par_d = 1;
  if (filter && !gst_caps_is_empty(filter) && !gst_caps_is_any(filter)) {
    const GValue *par =
        gst_structure_get_value(gst_caps_get_structure(filter, 0), "pixel-aspect-ratio");
    if (par && GST_VALUE_HOLDS_FRACTION(par)) {
      par_n = gst_value_get_fraction_numerator(par);
      par_d = gst_value_get_fraction_denominator(par);
    } else if (par) {
      aspect_fixed = false;  // a range: a scaler that keeps the display aspect ratio itself
    }
  }
  auto pref = iptv::preferred_input(profiles, aspect_fixed, par_n, par_d);
  if (!pref || gst_caps_is_empty(caps)) return caps;
  GstCaps *preferred = gst_caps_new_empty();
  for (guint i = 0; i < gst_caps_get_size(caps); ++i) {
    const GstStructure *s = gst_caps_get_structure(caps, i);
    // Size, frame rate, and I420 (what every encoder takes: no per-rung format conversion);
    // then without the format, then without the frame rate, for sources that cannot do them.
    // Width left open: square pixels, so an upstream scaler picks the width that keeps the
    // source's display aspect ratio.
    GstStructure *want = gst_structure_new(gst_structure_get_name(s), "height", G_TYPE_INT,
                                           pref->height, "format", G_TYPE_STRING, "I420", nullptr);
    if (pref->width > 0)
      gst_structure_set(want, "width", G_TYPE_INT, pref->width, nullptr);
    else
      gst_structure_set(want, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
    if (pref->fps_n > 0)
      gst_structure_set(want, "framerate", GST_TYPE_FRACTION, pref->fps_n, pref->fps_d, nullptr);
    GstStructure *both = gst_structure_intersect(s, want);
    for (const char *relax : {"format", "framerate"}) {
      if (both) break;
      gst_structure_remove_field(want, relax);
      both = gst_structure_intersect(s, want);
    }
    gst_structure_free(want);
    if (both)
      gst_caps_append_structure_full(preferred, both,
                                     gst_caps_features_copy(gst_caps_get_features(caps, i)));
  }
  if (filter) {
    GstCaps *f = gst_caps_intersect_full(preferred, filter, GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref(preferred);
    preferred = f;
  }
  GST_DEBUG_OBJECT(self, "preferring %" GST_PTR_FORMAT, preferred);
  return gst_caps_merge(preferred, caps);
}

static gboolean sink_query(GstPad *pad, GstObject *parent, GstQuery *query) {
  if (GST_QUERY_TYPE(query) != GST_QUERY_CAPS) return gst_pad_query_default(pad, parent, query);
  if (!gst_pad_query_default(pad, parent, query)) return FALSE;
  GstCaps *filter = nullptr, *caps = nullptr;
  gst_query_parse_caps(query, &filter);
  gst_query_parse_caps_result(query, &caps);
  if (!caps) return TRUE;
  GstCaps *result = prefer_top_rung(GST_IPTV_ABR_LADDER(parent), gst_caps_ref(caps), filter);
  gst_query_set_caps_result(query, result);
  gst_caps_unref(result);
  return TRUE;
}

// ---- states, properties ----

static void post_encoder_selected(GstIptvAbrLadder *self) {
  std::vector<GstMessage *> msgs;
  {
    std::lock_guard<std::mutex> lock(self->priv->lock);
    for (auto &r : self->priv->rungs) {
      gchar *pad = gst_pad_get_name(r->ghost);
      msgs.push_back(gst_message_new_element(
          GST_OBJECT(self),
          gst_structure_new(
              "iptvabrladder-encoder-selected", "pad", G_TYPE_STRING, pad, "rung", G_TYPE_UINT,
              r->index, "profile", G_TYPE_STRING, r->profile.name.c_str(), "encoder", G_TYPE_STRING,
              r->encoder_factory.c_str(), "hardware", G_TYPE_BOOLEAN, r->hardware,
              "fallback-reason", G_TYPE_STRING, r->fallback_reason.c_str(), nullptr)));
      g_free(pad);
    }
  }
  for (GstMessage *m : msgs) gst_element_post_message(GST_ELEMENT(self), m);
}

static GstStateChangeReturn gst_iptv_abr_ladder_change_state(GstElement *element,
                                                             GstStateChange transition) {
  auto *self = GST_IPTV_ABR_LADDER(element);
  GstIptvAbrLadderPrivate *p = self->priv;
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    if (p->rungs.empty()) {
      GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("No profiles set"),
                        ("set the 'profiles' property, e.g. profiles=720p-3mbps,480p-1mbps"));
      return GST_STATE_CHANGE_FAILURE;
    }
    gst_segment_init(&p->segment, GST_FORMAT_UNDEFINED);
    {
      // The run uses the settings the rungs were built with (properties change only in NULL or
      // READY, and rebuild the rungs when they do); anchor and interval as set now.
      std::lock_guard<std::mutex> lock(p->settings_lock);
      p->cfg.anchor = p->settings.anchor;
      p->cfg.keyframe_interval = p->settings.keyframe_interval;
    }
    p->grid = iptv::KeyframeGrid((int64_t)(p->cfg.keyframe_interval * GST_SECOND));
    p->live_known = false;
    p->have_utc_offset = false;
    p->no_rung_fits = false;
    std::string disabled;
    {
      std::lock_guard<std::mutex> lock(p->settings_lock);
      disabled = p->settings.disabled_rungs;
    }
    for (auto &r : p->rungs) {
      if (!r->enc_tee_pad) link_encoder(r.get());  // detached when dropped in a previous run
      r->dropped = false;
      r->drop_before = GST_CLOCK_TIME_NONE;
      r->frames_in = r->frames_out = r->frames_dropped = r->frames_encoded = 0;
      r->fps = 0;
      r->fps_window_start = GST_CLOCK_TIME_NONE;
      r->fps_window_frames = 0;
    }
    apply_disabled(self, disabled, false);
    post_encoder_selected(self);
  }
  return GST_ELEMENT_CLASS(gst_iptv_abr_ladder_parent_class)->change_state(element, transition);
}

static GstStructure *make_stats(GstIptvAbrLadder *self) {
  GstIptvAbrLadderPrivate *p = self->priv;
  std::lock_guard<std::mutex> lock(p->lock);
  GValue rungs = G_VALUE_INIT;
  gst_value_array_init(&rungs, p->rungs.size());
  for (auto &r : p->rungs) {
    GValue v = G_VALUE_INIT;
    g_value_init(&v, GST_TYPE_STRUCTURE);
    gchar *pad = gst_pad_get_name(r->ghost);
    GstStructure *s = gst_structure_new(
        "rung", "pad", G_TYPE_STRING, pad, "profile", G_TYPE_STRING, r->profile.name.c_str(),
        "encoder", G_TYPE_STRING, r->encoder_factory.c_str(), "hardware", G_TYPE_BOOLEAN,
        r->hardware, "width", G_TYPE_INT, r->plan.width, "height", G_TYPE_INT, r->plan.height,
        "bitrate", G_TYPE_INT, r->profile.kbps, "dropped", G_TYPE_BOOLEAN, (gboolean)r->dropped,
        "enabled", G_TYPE_BOOLEAN, (gboolean)r->enabled, "scaled-from", G_TYPE_INT, r->parent,
        "frames-encoded", G_TYPE_UINT64, (guint64)r->frames_encoded, "frames-in", G_TYPE_UINT64,
        (guint64)r->frames_in, "frames-out", G_TYPE_UINT64, (guint64)r->frames_out,
        "frames-dropped", G_TYPE_UINT64, (guint64)r->frames_dropped, "fps", G_TYPE_DOUBLE, r->fps,
        nullptr);
    g_free(pad);
    g_value_take_boxed(&v, s);
    gst_value_array_append_and_take_value(&rungs, &v);
  }
  GstStructure *st =
      gst_structure_new("application/x-iptvabrladder-stats", "live", G_TYPE_BOOLEAN, p->live,
                        "anchor", G_TYPE_STRING, p->use_epoch ? "epoch" : "running-time", nullptr);
  gst_structure_take_value(st, "rungs", &rungs);
  return st;
}

static void gst_iptv_abr_ladder_set_property(GObject *object, guint prop_id, const GValue *value,
                                             GParamSpec *pspec) {
  auto *self = GST_IPTV_ABR_LADDER(object);
  GstIptvAbrLadderPrivate *p = self->priv;
  LadderSettings snapshot;
  {
    std::lock_guard<std::mutex> lock(p->settings_lock);
    LadderSettings &st = p->settings;
    switch (prop_id) {
      case PROP_PROFILES: {
        const char *v = g_value_get_string(value);
        st.profiles = v ? v : "";
        break;
      }
      case PROP_ENCODER:
        st.encoder = (iptv::EncoderKind)g_value_get_enum(value);
        break;
      case PROP_KEYFRAME_INTERVAL:
        st.keyframe_interval = g_value_get_double(value);
        break;
      case PROP_KEYFRAME_ANCHOR:
        st.anchor = (Anchor)g_value_get_enum(value);
        break;
      case PROP_HW_FALLBACK:
        st.fallback = (iptv::HwFallback)g_value_get_enum(value);
        break;
      case PROP_PRESET: {
        const char *v = g_value_get_string(value);
        st.preset = v ? v : "veryfast";
        break;
      }
      case PROP_CASCADE:
        st.cascade = g_value_get_boolean(value);
        break;
      case PROP_THREADS:
        st.threads = g_value_get_int(value);
        break;
      case PROP_DISABLED_RUNGS: {
        const char *v = g_value_get_string(value);
        st.disabled_rungs = v ? v : "";
        break;
      }
      default:
        G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
        return;
    }
    snapshot = st;
  }
  // Switching rungs off and on needs no rebuild (and works while playing).
  if (prop_id == PROP_DISABLED_RUNGS) {
    GstState state = GST_STATE(self);
    apply_disabled(self, snapshot.disabled_rungs,
                   state == GST_STATE_PAUSED || state == GST_STATE_PLAYING);
    return;
  }
  // The rungs are built from the profiles; encoder settings follow them, so a change after the
  // profiles rebuilds them too.
  if (prop_id == PROP_PROFILES) {
    GError *err = nullptr;
    if (!build_rungs(self, snapshot, &err)) {
      // Reported at once, and again (as an error message) when the ladder is started.
      GST_ELEMENT_WARNING(self, RESOURCE, SETTINGS, ("Invalid profiles"), ("%s", err->message));
      GST_WARNING_OBJECT(self, "%s", err->message);
      g_error_free(err);
    }
  } else if (!snapshot.profiles.empty()) {
    GError *err = nullptr;
    if (!build_rungs(self, snapshot, &err)) {
      GST_WARNING_OBJECT(self, "%s", err->message);
      g_error_free(err);
    }
  }
}

static void gst_iptv_abr_ladder_get_property(GObject *object, guint prop_id, GValue *value,
                                             GParamSpec *pspec) {
  auto *self = GST_IPTV_ABR_LADDER(object);
  GstIptvAbrLadderPrivate *p = self->priv;
  if (prop_id == PROP_STATS) {  // streaming state, under `lock` alone
    g_value_take_boxed(value, make_stats(self));
    return;
  }
  std::lock_guard<std::mutex> lock(p->settings_lock);
  switch (prop_id) {
    case PROP_PROFILES:
      g_value_set_string(value, p->settings.profiles.c_str());
      break;
    case PROP_ENCODER:
      g_value_set_enum(value, (gint)p->settings.encoder);
      break;
    case PROP_KEYFRAME_INTERVAL:
      g_value_set_double(value, p->settings.keyframe_interval);
      break;
    case PROP_KEYFRAME_ANCHOR:
      g_value_set_enum(value, (gint)p->settings.anchor);
      break;
    case PROP_HW_FALLBACK:
      g_value_set_enum(value, (gint)p->settings.fallback);
      break;
    case PROP_PRESET:
      g_value_set_string(value, p->settings.preset.c_str());
      break;
    case PROP_CASCADE:
      g_value_set_boolean(value, p->settings.cascade);
      break;
    case PROP_THREADS:
      g_value_set_int(value, p->settings.threads);
      break;
    case PROP_DISABLED_RUNGS:
      g_value_set_string(value, p->settings.disabled_rungs.c_str());
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
      break;
  }
}

static void gst_iptv_abr_ladder_finalize(GObject *object) {
  auto *self = GST_IPTV_ABR_LADDER(object);
  // The bin's dispose has already removed the tees (releasing their request pads); drop the
  // references build_rungs() kept on them.
  for (auto &r : self->priv->rungs) {
    if (r->tee_pad) gst_object_unref(r->tee_pad);
    if (r->enc_tee_pad) gst_object_unref(r->enc_tee_pad);
  }
  delete self->priv;
  G_OBJECT_CLASS(gst_iptv_abr_ladder_parent_class)->finalize(object);
}

static void gst_iptv_abr_ladder_class_init(GstIptvAbrLadderClass *klass) {
  GObjectClass *gobject_class = G_OBJECT_CLASS(klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS(klass);
  gobject_class->set_property = gst_iptv_abr_ladder_set_property;
  gobject_class->get_property = gst_iptv_abr_ladder_get_property;
  gobject_class->finalize = gst_iptv_abr_ladder_finalize;
  const GParamFlags rw_ready =
      (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  // profiles: comma-separated rungs, from the same catalog as channel records ("720p-3mbps")
  // or explicit WIDTHxHEIGHT@KBPS[@FPS]; one src_N pad per entry, in order.
  g_object_class_install_property(
      gobject_class, PROP_PROFILES,
      g_param_spec_string("profiles", "Profiles",
                          "Comma-separated rungs: catalog names (720p-3mbps) or "
                          "WIDTHxHEIGHT@KBPS[@FPS]",
                          "", rw_ready));
  // encoder: auto picks, per rung, NVENC, then VA-API, then x264 from what the registry has.
  g_object_class_install_property(
      gobject_class, PROP_ENCODER,
      g_param_spec_enum("encoder", "Encoder", "Encoder family", GST_TYPE_IPTV_ABR_LADDER_ENCODER,
                        (gint)iptv::EncoderKind::kAuto, rw_ready));
  // keyframe-interval: the keyframe grid in seconds (HLS segments are whole multiples of it).
  g_object_class_install_property(
      gobject_class, PROP_KEYFRAME_INTERVAL,
      g_param_spec_double("keyframe-interval", "Keyframe interval", "Keyframe grid in seconds", 0.1,
                          60.0, 2.0, rw_ready));
  // keyframe-anchor: epoch puts keyframes where the frame's UTC time is a multiple of the
  // interval, so redundant or restarted encoders cut at identical instants.
  g_object_class_install_property(
      gobject_class, PROP_KEYFRAME_ANCHOR,
      g_param_spec_enum("keyframe-anchor", "Keyframe anchor", "What the keyframe grid follows",
                        GST_TYPE_IPTV_ABR_LADDER_ANCHOR, (gint)Anchor::kAuto, rw_ready));
  // hw-fallback: what to do when a hardware encoder is missing or fails to open.
  g_object_class_install_property(
      gobject_class, PROP_HW_FALLBACK,
      g_param_spec_enum("hw-fallback", "Hardware fallback",
                        "Fall back to x264 or fail when hardware is unavailable",
                        GST_TYPE_IPTV_ABR_LADDER_FALLBACK, (gint)iptv::HwFallback::kSoftware,
                        rw_ready));
  // preset: speed/quality trade-off, x264 speed-preset names (ultrafast ... veryslow).
  g_object_class_install_property(
      gobject_class, PROP_PRESET,
      g_param_spec_string("preset", "Preset", "Speed/quality preset (x264 speed-preset name)",
                          "veryfast", rw_ready));
  // cascade: scale each rung from the next larger rung's picture instead of from the input.
  g_object_class_install_property(
      gobject_class, PROP_CASCADE,
      g_param_spec_boolean("cascade", "Cascade",
                           "Scale each rung from the next larger rung instead of from the input",
                           TRUE, rw_ready));
  // threads: x264 threads per rung. 0: the machine's cores shared among the rungs by pixel
  // count (1080p/720p/480p on 2 cores: 2, 1, 1); -1: x264's own default (1.5 per core, per rung).
  g_object_class_install_property(
      gobject_class, PROP_THREADS,
      g_param_spec_int(
          "threads", "Threads",
          "x264 threads per rung (0: share the cores by rung size, -1: x264's default)", -1, 64, 0,
          rw_ready));
  // disabled-rungs: rungs to pause (indices or pad names, "1,src_2"), changeable while playing.
  // A paused rung's encoder gets no frames (no CPU) and its pad no buffers; enabled again, it
  // resumes at the next keyframe of the grid, aligned with the other rungs.
  g_object_class_install_property(
      gobject_class, PROP_DISABLED_RUNGS,
      g_param_spec_string(
          "disabled-rungs", "Disabled rungs",
          "Comma-separated rungs (indices or pad names) whose encoders are paused", "",
          (GParamFlags)(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING)));
  // stats: {live, anchor, rungs: < {pad, profile, encoder, hardware, width, height, bitrate,
  // dropped, enabled, scaled-from, frames-encoded, frames-in, frames-out, frames-dropped, fps},
  // ... >}
  g_object_class_install_property(
      gobject_class, PROP_STATS,
      g_param_spec_boxed("stats", "Statistics", "Per-rung statistics", GST_TYPE_STRUCTURE,
                         (GParamFlags)(G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template(element_class, &sink_template);
  gst_element_class_add_static_pad_template(element_class, &src_template);
  gst_element_class_set_static_metadata(
      element_class, "IPTV ABR ladder", "Codec/Encoder/Video/Bin",
      "One input, an ABR ladder of H.264 encoders with keyframes on a shared grid", "gst-iptv");
  element_class->change_state = gst_iptv_abr_ladder_change_state;
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_ABR_LADDER_ENCODER, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_ABR_LADDER_ANCHOR, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_ABR_LADDER_FALLBACK, (GstPluginAPIFlags)0);
}

static void gst_iptv_abr_ladder_init(GstIptvAbrLadder *self) {
  self->priv = new GstIptvAbrLadderPrivate();
  GstIptvAbrLadderPrivate *p = self->priv;
  gst_segment_init(&p->segment, GST_FORMAT_UNDEFINED);
  p->tee = gst_element_factory_make("tee", "tee");
  g_object_set(p->tee, "allow-not-linked", TRUE, nullptr);
  gst_bin_add(GST_BIN(self), p->tee);
  GstPad *tsink = gst_element_get_static_pad(p->tee, "sink");
  gst_pad_add_probe(
      tsink, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      input_probe, self, nullptr);
  gst_pad_add_probe(tsink, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, input_reconfigure_probe, self,
                    nullptr);
  GstPadTemplate *templ = gst_static_pad_template_get(&sink_template);
  p->sink_ghost = gst_ghost_pad_new_from_template("sink", tsink, templ);
  gst_object_unref(templ);
  gst_object_unref(tsink);
  gst_pad_set_query_function(p->sink_ghost, sink_query);
  gst_element_add_pad(GST_ELEMENT(self), p->sink_ghost);
}
