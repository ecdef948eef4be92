/**
 * SECTION:element-iptvhlssink
 * @title: iptvhlssink
 *
 * Multi-rendition HLS: one media playlist per video rendition and a multivariant playlist over
 * them. With #GstIptvHlsSink:segment-format=mpegts (the default) the segments are MPEG-TS with
 * the AAC audio muxed into every rendition; with segment-format=fmp4 they are CMAF fragmented MP4
 * and the audio is a rendition of its own.
 *
 * Files: `<location>/index.m3u8` (multivariant), `<location>/<rendition>/index.m3u8` (media)
 * and `<location>/<rendition>/seg-<sequence>.ts`; with fmp4, `<location>/<rendition>/init.mp4`
 * and `seg-<sequence>.m4s` instead, and `<location>/audio/` for the audio.
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
 * - MPEG-TS timestamps (sequence-mode=epoch) are the wall clock: PTS = UTC in 90 kHz modulo
 *   2^33, so two processes or nodes packaging the same source write the same PTS (within their
 *   clocks' agreement), and a restart, a failover or a takeover continues the timeline instead
 *   of starting again at one hour. (A pad offset on the muxers' inputs, set at the first
 *   buffer; the segment messages' `pts` stays the pipeline's running time.)
 * - Restarts continue: sequence-mode=epoch numbers the first segment floor(UTC / target), and
 *   the previous playlist on disk (or the state file in counter mode) is continued with a
 *   DISCONTINUITY and its DISCONTINUITY-SEQUENCE. If the restart skipped numbers, the window
 *   restarts at the new number (implied numbers stay the segments' own).
 * - The multivariant playlist lists variants ordered by BANDWIDTH (measured peak segment rate),
 *   with AVERAGE-BANDWIDTH, RESOLUTION, FRAME-RATE and CODECS from the real SPS and the AAC
 *   config, and EXT-X-INDEPENDENT-SEGMENTS.
 *
 * Messages:
 *  - `iptvhlssink-segment-added`: `rendition` (string), `sequence` (guint64), `duration`
 *    (double, s), `bytes` (guint64), `pts` (guint64 running time of the segment start, ns),
 *    `path` (string), `discontinuity` (boolean), `key-id` (string: the AES-128 key that
 *    encrypts it, "" when clear).
 *  - `iptvhlssink-playlist-written`: `rendition` (string; "" for the multivariant playlist),
 *    `path` (string), `media-sequence` (guint64), `discontinuity-sequence` (guint64),
 *    `segments` (guint).
 *  - `iptvhlssink-part-added` (part-duration > 0): `rendition` (string), `sequence` (guint64,
 *    the segment the part belongs to), `part` (guint, its index from 0), `duration` (double, s),
 *    `independent` (boolean, starts with a keyframe), `bytes` (guint64), `path` (string).
 *
 * - fMP4 (segment-format=fmp4, CMAF): per rendition one init segment (`ftyp` + `moov` with
 *   `avcC`/`hvcC` or `esds`, `mvex`) and media segments of one track (`moof` + `mdat`); `tfdt`
 *   is the sample's UTC in the track timescale (90 kHz video, the sample rate for audio), so it
 *   continues across segments and grows across restarts; `mfhd` carries the media sequence.
 *   H.265 is `hvc1` with every parameter set in `hvcC` (none in band), which Apple devices
 *   play. Playlists carry `EXT-X-MAP`, `EXT-X-VERSION:7` and `EXT-X-INDEPENDENT-SEGMENTS`;
 *   the audio is `audio/index.m3u8`, an `EXT-X-MEDIA:TYPE=AUDIO` in group "audio" that every
 *   variant names (its BANDWIDTH includes the audio), cut at the video's segment starts with
 *   the same numbers. A new `init-<sequence>.mp4` follows a change of parameter sets. The
 *   video needs its parameter sets in band at keyframes (x264enc/x265enc and the parsers'
 *   config-interval=-1 do that); the audio needs AAC with codec_data (stream-format=raw):
 *   anything else is refused with an error naming segment-format.
 * - DASH (manifests=hls,dash, with fmp4): `<location>/manifest.mpd` over the very same files:
 *   a dynamic MPD whose SegmentTemplate `$Number$` is the HLS media sequence number, with a
 *   SegmentTimeline of the playlist's window (the segments' tfdt and durations), codecs and
 *   bandwidth as in the HLS CODECS/BANDWIDTH, minimumUpdatePeriod = target-duration,
 *   timeShiftBufferDepth = the window, suggestedPresentationDelay = 3 targets, and
 *   availabilityStartTime = the start of the run's first segment (whole second; the Period's
 *   presentationTimeOffset is the same instant in each track's timescale). EVENT/VOD streams get
 *   a static MPD with mediaPresentationDuration at EOS. Every URL in it is relative.
 * - Low-latency HLS (#GstIptvHlsSink:part-duration > 0, fmp4 only): every segment is also
 *   written as parts `seg-<sequence>.<part>.m4s` (one moof+mdat each; the segment file is the
 *   parts end to end), and the media playlist is republished at every part with EXT-X-PART,
 *   EXT-X-PART-INF, EXT-X-SERVER-CONTROL, EXT-X-PRELOAD-HINT and EXT-X-RENDITION-REPORT
 *   (EXT-X-VERSION:9). Players that do not do low latency read it as ordinary HLS.
 * - AES-128 (#GstIptvHlsSink:key-rotation > 0): every segment file, TS or fMP4, is encrypted
 *   whole with AES-128-CBC and PKCS7 padding, with the key of its key period (a new key and IV
 *   every key-rotation segments) given by the `add-key` action signal; playlists carry
 *   `EXT-X-KEY:METHOD=AES-128,URI="<key-uri-format>",IV=0x...` where the key changes. fMP4 init
 *   segments stay clear (the EXT-X-KEY is lifted before an EXT-X-MAP). See docs/encryption.md.
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
 * CMAF (fMP4) renditions and an audio rendition of their own:
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=320,height=180 \
 *   ! iptvabrladder profiles=320x180@300,160x90@120 name=l \
 *   audiotestsrc is-live=true ! avenc_aac ! s.audio \
 *   l.src_0 ! s.video_0  l.src_1 ! s.video_1 \
 *   iptvhlssink name=s location=/tmp/ch-fmp4 segment-format=fmp4 rendition-names=hi,lo \
 *   target-duration=2
 * ]|
 * Low-latency HLS (0.5 s parts of 2 s fMP4 segments):
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=320,height=180 \
 *   ! iptvabrladder profiles=320x180@300,160x90@120 name=l keyframe-interval=2 \
 *   audiotestsrc is-live=true ! avenc_aac ! s.audio \
 *   l.src_0 ! s.video_0  l.src_1 ! s.video_1 \
 *   iptvhlssink name=s location=/tmp/ch-ll segment-format=fmp4 rendition-names=hi,lo \
 *   target-duration=2 part-duration=0.5
 * ]|
 */
#include "gstiptvhlssink.h"

#include <gst/video/video.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cmaf/boxes.h"
#include "cmaf/fragmenter.h"
#include "cmaf/mpd.h"
#include "crypto/aes.h"
#include "gstiptvelements.h"
#include "hls/playlist.h"
#include "hlssink_fmp4.h"
#include "origin/origin.h"
#include "hlssink_continuity.h"
#include "hlssink_segmenter.h"
#include "hlssink_tsfile.h"
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
  GstElement *sink = nullptr;  // splitmuxsink (mpegts), or a fakesink behind our probe (fmp4)
  GstPad *ghost = nullptr;     // our video_%u pad
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
  // fMP4 (segment-format=fmp4): the probe writes the segments itself.
  std::unique_ptr<iptv::cmaf::TrackFragmenter> frag;
  iptv::cmaf::Bytes init_bytes;  // the init segment in force
  std::string map_uri;           // its name (init.mp4, or init-<sequence>.mp4 after a change)
  std::string open_map;          // the init segment of the open fragment
  std::vector<iptv::cmaf::Bytes> vps, sps, pps;  // latest parameter sets seen
  uint32_t timescale = 90000;
  std::deque<iptv::cmaf::MpdSegment> timeline;  // the listed segments' tfdt/durations (DASH)
  // Low latency (part-duration, fmp4): the open segment is written part by part; each part is
  // one moof+mdat of the fragmenter, and the segment is the concatenation of its parts.
  uint32_t part_index = 0;        // parts of the open segment written so far
  uint64_t part_start = 0;        // decode time of the open part's first sample
  bool part_independent = false;  // the open part starts with a sync sample
  uint64_t seg_first = 0;         // decode time of the open segment's first sample
  uint64_t last_add_dts = 0;      // the latest sample's decode time
  // Audio (fmp4, low latency): the open segment's start on the video's clock (its keyframe's
  // media time, in this rendition's timescale). Audio parts are cut on the video's part grid
  // from there, so the audio segment has as many parts as the video's, at the same times.
  std::optional<uint64_t> part_anchor;
  iptv::cmaf::Bytes seg_bytes;  // the open segment's parts so far
  gint64 last_part_utc_us = 0;  // when the newest part was published
  std::string closed_key_id;    // AES-128: the key of the segment being listed ("" clear)
};

struct HeldAudio {
  GstClockTime running;
  GstBuffer *buf;
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
  bool fmp4 = false;                            // segment-format
  bool dash = false;                            // manifests=hls,dash
  std::string utc_timing_url = "time";          // MPD UTCTiming (relative to the MPD); "" for none
  std::string audio_name = "audio";             // fMP4 audio rendition: EXT-X-MEDIA NAME
  std::string audio_language;                   // EXT-X-MEDIA LANGUAGE and the MPD's lang (BCP 47)
  double part = 0;                              // part-duration (s); 0: low latency off
  guint key_rotation = 0;                       // AES-128: segments per key period (0: clear)
  std::string key_uri_format = "{key-id}.key";  // EXT-X-KEY URI; {key-id} is replaced
};

// One AES-128 content key (add-key): used for the segments of its period.
struct ContentKey {
  std::string id;
  std::string key;  // 16 bytes
  std::string iv;   // 16 bytes
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
  std::vector<uint64_t> last_average_bps;  // AVERAGE-BANDWIDTH per variant, as last written
  size_t eos_count = 0;
  // fMP4: the topology's format (fixed by the first requested pad), the audio rendition, its
  // fakesink, the segment starts it follows (the lead video rendition's), and audio held until
  // the video has decided where the segments around it start.
  std::optional<bool> built_fmp4;
  std::unique_ptr<Rendition> audio;
  GstElement *audio_sink = nullptr;
  std::deque<PendingStart> audio_starts;
  std::deque<HeldAudio> audio_hold;
  GstClockTime video_frontier = GST_CLOCK_TIME_NONE;
  bool video_ended = false;  // the lead video rendition got EOS: every segment start is known
  bool audio_ended = false;  // the audio got EOS; its last segment waits for video_ended
  bool have_media_epoch = false;
  gint64 media_epoch_ns = 0;  // UTC (ns) of running time 0: tfdt = UTC of the sample
  // MPEG-TS in epoch mode: the offset added to the muxers' running time so that their PTS are
  // UTC (ts_offset_probe); 0 until the first buffer.
  bool have_ts_offset = false;
  gint64 ts_offset = 0;
  // DASH: this run's Period start (s since the epoch; -1: not yet), from the first segment
  // numbered at least mpd_first_number (the first of this run).
  double mpd_period_start = -1;
  uint64_t mpd_first_number = 0;
  // The lowest last segment number over the MPD's renditions when it was last written.
  uint64_t mpd_written_number = UINT64_MAX;
  // AES-128 (key-rotation > 0): the keys add-key gave, by key period (sequence / key-rotation).
  // Guarded by `lock`.
  std::map<uint64_t, ContentKey> keys;
  uint64_t keyless_warned_period = UINT64_MAX;
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

static gboolean gst_iptv_hls_sink_add_key(GstIptvHlsSink *self, guint64 period, const gchar *key_id,
                                          const gchar *key_hex, const gchar *iv_hex);

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
  PROP_SEGMENT_FORMAT,
  PROP_MANIFESTS,
  PROP_UTC_TIMING_URL,
  PROP_AUDIO_NAME,
  PROP_AUDIO_LANGUAGE,
  PROP_PART_DURATION,
  PROP_KEY_ROTATION,
  PROP_KEY_URI_FORMAT,
};

enum { SIGNAL_ADD_KEY, LAST_SIGNAL };
static guint hls_sink_signals[LAST_SIGNAL];

static GstStaticPadTemplate video_template = GST_STATIC_PAD_TEMPLATE(
    "video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS("video/x-h264, stream-format=(string)byte-stream, alignment=(string)au; "
                    "video/x-h265, stream-format=(string)byte-stream, alignment=(string)au"));
static GstStaticPadTemplate audio_template = GST_STATIC_PAD_TEMPLATE(
    "audio", GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS("audio/mpeg, mpegversion=(int)4"));

// What fMP4 here can carry on the audio pad: AAC with its AudioSpecificConfig (raw).
static GstCaps *fmp4_audio_caps() {
  return gst_caps_from_string("audio/mpeg, mpegversion=(int)4, stream-format=(string)raw");
}

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

#define GST_TYPE_IPTV_HLS_SINK_SEGMENT_FORMAT (gst_iptv_hls_sink_segment_format_get_type())
static GType gst_iptv_hls_sink_segment_format_get_type() {
  static GType type = 0;
  static const GEnumValue values[] = {
      {0, "MPEG-TS segments, audio muxed into every rendition", "mpegts"},
      {1, "CMAF fragmented MP4: init segment plus .m4s, one track each, audio on its own", "fmp4"},
      {0, nullptr, nullptr}};
  if (g_once_init_enter(&type))
    g_once_init_leave(&type, g_enum_register_static("GstIptvHlsSinkSegmentFormat", values));
  return type;
}

// ---- helpers ----

static Settings settings_snapshot(GstIptvHlsSinkPrivate *p) {
  std::lock_guard<std::mutex> lock(p->settings_lock);
  return p->settings;
}

// The bytes of a box writer's output as text, without a copy (an element-by-element copy of
// every segment into a std::string took ~5% of the fMP4 path's CPU samples).
static std::string_view as_text(const iptv::cmaf::Bytes &b) {
  return {reinterpret_cast<const char *>(b.data()), b.size()};
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

// ---- epoch-locked MPEG-TS timestamps ----

// mpegtsmux writes PTS = running time + one hour (its CLOCK_BASE), in 90 kHz ticks modulo 2^33.
// The offset that makes that UTC: (UTC of running time 0 - one hour) modulo 2^33 ticks, in ns.
static gint64 ts_offset_for_epoch(gint64 epoch_ns) {
  constexpr uint64_t kWrap = 1ULL << 33;
  constexpr uint64_t kMuxBase = 3600ULL * 90000;
  uint64_t ticks =
      (uint64_t)gst_util_uint64_scale((guint64)std::max<gint64>(epoch_ns, 0), 9, 100000) % kWrap;
  uint64_t off = (ticks + kWrap - kMuxBase) % kWrap;
  return (gint64)gst_util_uint64_scale_ceil(off, 100000, 9);
}

// On the pads that feed the muxers (each video pad's inside and the audio's, before the tee):
// at the first buffer of a run, fixes the element's offset from that buffer's UTC and sets it
// on the pad. A blocking-type probe runs before the pad re-sends its sticky events, so the
// segment the muxer sees already carries the offset. Epoch mode, MPEG-TS only.
static GstPadProbeReturn ts_offset_probe(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
  auto *self = GST_IPTV_HLS_SINK(user_data);
  GstIptvHlsSinkPrivate *p = self->priv;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
  gint64 offset;
  {
    std::lock_guard<std::mutex> lock(p->lock);
    if (p->cfg.fmp4 || p->cfg.mode != SeqMode::kEpoch) return GST_PAD_PROBE_PASS;
    if (!p->have_ts_offset) {
      if (!GST_BUFFER_PTS_IS_VALID(buf)) return GST_PAD_PROBE_PASS;
      GstEvent *ev = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
      if (!ev) return GST_PAD_PROBE_PASS;
      const GstSegment *seg;
      gst_event_parse_segment(ev, &seg);
      GstClockTime running =
          seg->format == GST_FORMAT_TIME
              ? gst_segment_to_running_time(seg, GST_FORMAT_TIME, GST_BUFFER_PTS(buf))
              : GST_CLOCK_TIME_NONE;
      gst_event_unref(ev);
      if (!GST_CLOCK_TIME_IS_VALID(running)) return GST_PAD_PROBE_PASS;
      p->ts_offset = ts_offset_for_epoch(utc_ns_for(self, buf, running) - (gint64)running);
      p->have_ts_offset = true;
      GST_INFO_OBJECT(self, "MPEG-TS timestamps: running time + %" GST_STIME_FORMAT,
                      GST_STIME_ARGS(p->ts_offset));
    }
    offset = p->ts_offset;
  }
  if (gst_pad_get_offset(pad) != offset) gst_pad_set_offset(pad, offset);
  return GST_PAD_PROBE_PASS;
}

static void add_ts_offset_probe(GstIptvHlsSink *self, GstPad *ghost) {
  GstProxyPad *inner = gst_proxy_pad_get_internal(GST_PROXY_PAD(ghost));
  gst_pad_add_probe(GST_PAD(inner),
                    (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BLOCK),
                    ts_offset_probe, self, nullptr);
  gst_object_unref(inner);
}

// The pipeline running time of a muxer's running time (MPEG-TS carries the offset above).
static GstClockTime unshifted_locked(GstIptvHlsSinkPrivate *p, GstClockTime muxer_running) {
  if (p->cfg.fmp4 || !GST_CLOCK_TIME_IS_VALID(muxer_running)) return muxer_running;
  gint64 v = (gint64)muxer_running - p->ts_offset;
  return v > 0 ? (GstClockTime)v : 0;
}

// Writes the multivariant playlist once every rendition has a segment (and again when a
// variant's figures change). Call with the lock held; returns a message to post, or nullptr.
static GstStructure *write_multivariant_locked(GstIptvHlsSink *self) {
  GstIptvHlsSinkPrivate *p = self->priv;
  std::vector<iptv::hls::Variant> vs;
  std::vector<iptv::hls::AudioMedia> audio;
  Rendition *a = p->cfg.fmp4 && p->audio_ghost ? p->audio.get() : nullptr;
  if (a) {
    // fMP4: the audio is a rendition of its own that every variant names.
    if (a->total_seconds <= 0) return nullptr;
    audio.push_back({"audio", p->cfg.audio_name, p->cfg.audio_language, "audio/index.m3u8"});
  }
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
    if (a) {
      // BANDWIDTH covers every rendition a player fetches with this variant.
      v.bandwidth += a->peak_bps;
      v.average_bandwidth += (uint64_t)(a->total_bytes * 8.0 / a->total_seconds);
      v.audio_group = "audio";
    }
    vs.push_back(v);
  }
  if (vs.empty()) return nullptr;
  // Rewritten (atomically) only when a figure changed, e.g. a new peak bandwidth. The average
  // moves with every segment, so it alone rewrites the playlist only once it is more than 10%
  // off the one written (every rewrite is a new file, the costliest step of the packaging).
  if (p->last_average_bps.size() == vs.size())
    for (size_t i = 0; i < vs.size(); i++) {
      uint64_t was = p->last_average_bps[i], now = vs[i].average_bandwidth;
      if ((now > was ? now - was : was - now) * 10 <= was) vs[i].average_bandwidth = was;
    }
  std::string text = iptv::hls::render_multivariant(vs, audio);
  if (text == p->last_multivariant) return nullptr;
  p->last_average_bps.clear();
  for (const auto &v : vs) p->last_average_bps.push_back(v.average_bandwidth);
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

static void list_segment_locked(GstIptvHlsSink *self, Rendition *r, const iptv::hls::Segment &seg,
                                const std::string &location, std::vector<GstStructure *> &msgs);

// AES-128 (key-rotation > 0): encrypts a whole segment in place with the key of its period and
// sets seg->key (the EXT-X-KEY attributes) and r->closed_key_id. False (nothing to publish) when
// there is no key at all. With key-rotation 0 it does nothing. Lock held.
static bool encrypt_segment_locked(GstIptvHlsSink *self, Rendition *r, iptv::hls::Segment *seg,
                                   std::string &bytes) {
  GstIptvHlsSinkPrivate *p = self->priv;
  r->closed_key_id.clear();
  if (p->cfg.key_rotation == 0) return true;
  uint64_t period = seg->sequence / p->cfg.key_rotation;
  auto it = p->keys.find(period);
  if (it == p->keys.end()) {
    // The nearest period with a key: the newest before, else the oldest after.
    it = p->keys.upper_bound(period);
    if (it != p->keys.begin()) --it;
    if (it == p->keys.end()) {
      GST_ELEMENT_WARNING(self, RESOURCE, NOT_FOUND, ("No encryption key yet"),
                          ("%s: segment %" G_GUINT64_FORMAT " not published: no key was given "
                           "(add-key)",
                           r->name.c_str(), seg->sequence));
      return false;
    }
    if (p->keyless_warned_period != period) {
      p->keyless_warned_period = period;
      GST_WARNING_OBJECT(self, "no key for period %" G_GUINT64_FORMAT ": using key %s", period,
                         it->second.id.c_str());
    }
  }
  const ContentKey &k = it->second;
  bytes = iptv::crypto::aes128_cbc_encrypt(k.key, k.iv, bytes);
  std::string uri = p->cfg.key_uri_format;
  for (size_t at; (at = uri.find("{key-id}")) != std::string::npos;) uri.replace(at, 8, k.id);
  seg->key = "METHOD=AES-128,URI=\"" + uri + "\",IV=0x" + iptv::crypto::to_hex(k.iv);
  r->closed_key_id = k.id;
  return true;
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
    if (p->cfg.key_rotation > 0 && seg.duration > 0 && seg.bytes > 0) {
      // The muxer wrote the clear file (not listed yet): it is replaced by its encryption (a
      // new file renamed over it), so nothing clear is ever published or archived.
      std::string bytes, err;
      if (!iptv::read_file(location, bytes) || !encrypt_segment_locked(self, r, &seg, bytes) ||
          !(err = iptv::write_file_atomic(location, bytes)).empty()) {
        if (!err.empty())
          GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Could not write a segment"),
                              ("%s", err.c_str()));
        ::unlink(location.c_str());
        return;
      }
      seg.bytes = bytes.size();
    }
    if (seg.duration <= 0 || seg.bytes == 0) {
      GST_DEBUG_OBJECT(self, "empty fragment %s dropped", location.c_str());
      ::unlink(location.c_str());
      return;
    }
    list_segment_locked(self, r, seg, location, msgs);
  }
  for (GstStructure *s : msgs) post(self, s);
}

// manifest.mpd over the fMP4 files (manifests=hls,dash): dynamic while live, static at EOS for
// EVENT/VOD. Written once every enabled rendition (and the audio) has a segment. Lock held.
static void write_mpd_locked(GstIptvHlsSink *self, bool dynamic) {
  GstIptvHlsSinkPrivate *p = self->priv;
  if (!p->cfg.fmp4 || !p->cfg.dash) return;
  std::vector<iptv::cmaf::MpdRepresentation> reps;
  std::vector<Rendition *> all;
  for (auto &r : p->renditions)
    if (!r->disabled) all.push_back(r.get());
  if (p->audio && p->audio_ghost) all.push_back(p->audio.get());
  uint64_t lowest = UINT64_MAX, highest = 0;
  for (Rendition *r : all) {
    if (r->timeline.empty() || r->total_seconds <= 0) return;
    lowest = std::min(lowest, r->timeline.back().number);
    highest = std::max(highest, r->timeline.back().number);
  }
  // Live, the MPD is rewritten once per segment number: when the last rendition lists it (a
  // rendition listing number N before the others leaves the MPD as it is), or when a rendition
  // has run two numbers ahead of a stalled one. Not once per rendition's segment: every rewrite
  // is a new file (temporary + rename), the costliest step of the packaging.
  if (dynamic && lowest == p->mpd_written_number && highest < lowest + 2) return;
  p->mpd_written_number = lowest;
  for (Rendition *r : all) {
    iptv::cmaf::MpdRepresentation m;
    m.id = r->name;
    m.video = r != p->audio.get();
    m.codecs = m.video ? r->video_codec : p->audio_codec;
    m.bandwidth = r->peak_bps;
    m.width = (uint32_t)std::max(r->width, 0);
    m.height = (uint32_t)std::max(r->height, 0);
    m.frame_rate = r->fps;
    m.timescale = r->timescale;
    m.init = r->map_uri;
    if (!m.video) {
      m.language = p->cfg.audio_language;
      m.sample_rate = r->timescale;
      auto info = iptv::cmaf::read_init_segment(r->init_bytes, nullptr);
      m.channels = info ? info->track.channels : 2;
    }
    m.segments.assign(r->timeline.begin(), r->timeline.end());
    reps.push_back(std::move(m));
  }
  if (reps.empty()) return;
  iptv::cmaf::MpdConfig c;
  c.dynamic = dynamic;
  c.target_seconds = p->cfg.target;
  double window = 0;
  for (const auto &s : p->renditions.front()->playlist->segments()) window += s.duration;
  c.window_seconds = std::max(window, p->cfg.target);
  c.presentation_delay = 3 * p->cfg.target;
  c.publish_ms = g_get_real_time() / 1000;
  c.utc_timing_url = p->cfg.utc_timing_url;
  // The Period of this run starts at its first video segment (fixed until the next start).
  if (p->mpd_period_start < 0) {
    const Rendition *v = p->renditions.front().get();
    double first = 0;
    for (const auto &s : v->timeline)
      if (s.number >= p->mpd_first_number) {
        first = (double)s.time / v->timescale;
        break;
      }
    p->mpd_period_start = std::floor(first);
  }
  c.period_start = p->mpd_period_start;
  std::string err =
      iptv::write_file_atomic(p->cfg.location + "/manifest.mpd", iptv::cmaf::render_mpd(c, reps));
  if (!err.empty()) GST_WARNING_OBJECT(self, "%s", err.c_str());
}

// ---- low latency (part-duration) ----

// A part's file: seg-<sequence>.<index>.m4s beside seg-<sequence>.m4s.
static std::string part_uri(uint64_t sequence, uint32_t index) {
  return "seg-" + std::to_string(sequence) + "." + std::to_string(index) + ".m4s";
}

// Before a media playlist is written (low latency): the preload hint for the next part and a
// rendition report for every other rendition that has published something. Lock held.
// The hint is never a guess:
// - With a segment open, this playlist follows a part cut inside it (fmp4_add_locked cuts the
//   open part when a sample would take it past the target, then adds that sample to the same
//   segment: a segment start closes the segment first). So the next part of this segment
//   already holds a sample and will be published: seg-N.<parts so far>. This holds however
//   long the segment lasts (a passthrough source whose GOPs are longer than the target makes
//   segments of several target durations, with as many parts).
// - With none open, this playlist lists a segment just closed (a keyframe started the next):
//   the next part is the next segment's first.
static void ll_prepare_locked(GstIptvHlsSinkPrivate *p, Rendition *r) {
  if (p->cfg.part <= 0 || !r->playlist) return;
  std::string hint = r->have_open ? part_uri(r->open.sequence, r->part_index)
                                  : part_uri(r->playlist->next_sequence(), 0);
  r->playlist->set_preload_hint(hint);
  std::vector<iptv::hls::RenditionReport> reports;
  auto report = [&](Rendition *o) {
    if (o == r || o->disabled || !o->playlist) return;
    const auto &pl = *o->playlist;
    if (pl.segments().empty() && (!pl.has_open() || pl.open().parts.empty())) return;
    reports.push_back(pl.report("../" + o->name + "/index.m3u8"));
  };
  for (auto &o : p->renditions) report(o.get());
  if (p->cfg.fmp4 && p->audio && p->audio_ghost) report(p->audio.get());
  r->playlist->set_rendition_reports(std::move(reports));
}

// Writes the open part of `r` (ending at `end`, the next sample's decode time, or after its
// last sample at EOS and before a discontinuity) as seg-<sequence>.<index>.m4s, complete before
// any playlist names it, and appends its moof+mdat to the open segment's bytes. `publish`:
// republish the playlist now (not for a segment's last part: listing the segment does that).
// Lock held.
static bool fmp4_part_locked(GstIptvHlsSink *self, Rendition *r, std::optional<uint64_t> end,
                             uint32_t frame, bool publish, std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  if (r->frag->empty()) return true;
  // mfhd: the segment's first moof carries the media sequence, the next ones count up.
  if (r->part_index == 0) r->frag->set_next_sequence_number((uint32_t)r->open.sequence);
  std::string err;
  auto bytes = end ? r->frag->cut(*end, &err) : r->frag->finish(frame, &err);
  if (!bytes) {
    GST_WARNING_OBJECT(self, "%s: part %" G_GUINT64_FORMAT ".%u dropped: %s", r->name.c_str(),
                       r->open.sequence, r->part_index, err.c_str());
    return false;
  }
  iptv::hls::Part part;
  part.duration = (double)(r->frag->written_end() - r->part_start) / r->timescale;
  part.uri = part_uri(r->open.sequence, r->part_index);
  part.independent = r->part_independent;
  std::string path = rendition_dir(p, r) + "/" + part.uri;
  err = iptv::write_file_atomic(path, as_text(*bytes));
  if (!err.empty()) {
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Could not write a part"), ("%s", err.c_str()));
    return false;
  }
  r->seg_bytes.insert(r->seg_bytes.end(), bytes->begin(), bytes->end());
  r->playlist->add_part(part);
  r->last_part_utc_us = g_get_real_time();
  msgs.push_back(gst_structure_new(
      "iptvhlssink-part-added", "rendition", G_TYPE_STRING, r->name.c_str(), "sequence",
      G_TYPE_UINT64, (guint64)r->open.sequence, "part", G_TYPE_UINT, r->part_index, "duration",
      G_TYPE_DOUBLE, part.duration, "independent", G_TYPE_BOOLEAN, part.independent, "bytes",
      G_TYPE_UINT64, (guint64)bytes->size(), "path", G_TYPE_STRING, path.c_str(), nullptr));
  r->part_index++;
  if (!publish) return true;
  ll_prepare_locked(p, r);
  std::string pl = rendition_dir(p, r) + "/index.m3u8";
  err = iptv::write_file_atomic(pl, r->playlist->render());
  if (!err.empty())
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Could not write playlist"), ("%s", err.c_str()));
  return true;
}

// Adds a sample to the open fragment of `r`. With low latency the open part is cut first when
// this sample (lasting about as long as the spacing before it) would take the part past
// part-duration, so no part exceeds PART-TARGET. Lock held.
static bool fmp4_add_locked(GstIptvHlsSink *self, Rendition *r, uint64_t dts, int64_t cto,
                            bool sync, std::span<const uint8_t> data, std::string *err,
                            std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  if (p->cfg.part > 0) {
    if (!r->frag->empty() && dts > r->last_add_dts) {
      uint64_t target = (uint64_t)std::llround(p->cfg.part * r->timescale);
      uint64_t est = dts - r->last_add_dts;
      bool cut = r->part_anchor ? dts >= *r->part_anchor + (uint64_t)(r->part_index + 1) * target
                                : dts + est > r->part_start + target + r->timescale / 1000;
      if (cut) fmp4_part_locked(self, r, dts, 0, true, msgs);
    }
    if (r->frag->empty()) {
      if (r->part_index == 0) r->seg_first = dts;
      r->part_start = dts;
      r->part_independent = sync;
    }
  }
  r->last_add_dts = dts;
  return r->frag->add(dts, cto, sync, data, err);
}

// Lists a closed segment (file written) in its rendition's playlist, retires what left the
// window, updates the figures and the multivariant playlist. Lock held; messages to post are
// appended to `msgs`.
static void list_segment_locked(GstIptvHlsSink *self, Rendition *r, const iptv::hls::Segment &seg,
                                const std::string &location, std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  {
    auto removed = r->playlist->add(seg);
    for (auto &x : removed) {
      r->retired.push_back({rendition_dir(p, r) + "/" + x.uri, g_get_monotonic_time()});
      // Its parts leave with it (listed or not: parts of old segments are no longer listed).
      for (auto &part : x.parts)
        r->retired.push_back({rendition_dir(p, r) + "/" + part.uri, g_get_monotonic_time()});
    }
    delete_retired_locked(p, r);
    r->peak_bps = std::max<uint64_t>(r->peak_bps, (uint64_t)(seg.bytes * 8.0 / seg.duration));
    r->total_bytes += seg.bytes;
    r->total_seconds += seg.duration;
    std::string path = rendition_dir(p, r) + "/index.m3u8";
    ll_prepare_locked(p, r);
    std::string err = iptv::write_file_atomic(path, r->playlist->render());
    if (!err.empty()) {
      GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Could not write playlist"), ("%s", err.c_str()));
      return;
    }
    save_state_locked(p);
    msgs.push_back(gst_structure_new(
        "iptvhlssink-segment-added", "rendition", G_TYPE_STRING, r->name.c_str(), "sequence",
        G_TYPE_UINT64, (guint64)seg.sequence, "duration", G_TYPE_DOUBLE, seg.duration, "bytes",
        G_TYPE_UINT64, (guint64)seg.bytes, "pts", G_TYPE_UINT64,
        (guint64)unshifted_locked(self->priv, r->open.running_time), "path", G_TYPE_STRING,
        location.c_str(), "discontinuity", G_TYPE_BOOLEAN, seg.discontinuity, "key-id",
        G_TYPE_STRING, r->closed_key_id.c_str(), nullptr));
    msgs.push_back(gst_structure_new(
        "iptvhlssink-playlist-written", "rendition", G_TYPE_STRING, r->name.c_str(), "path",
        G_TYPE_STRING, path.c_str(), "media-sequence", G_TYPE_UINT64,
        (guint64)r->playlist->media_sequence(), "discontinuity-sequence", G_TYPE_UINT64,
        (guint64)r->playlist->discontinuity_sequence(), "segments", G_TYPE_UINT,
        (guint)r->playlist->segments().size(), nullptr));
    if (GstStructure *m = write_multivariant_locked(self)) msgs.push_back(m);
    // DASH lists the same window as the playlist.
    while (!r->timeline.empty() && r->timeline.front().number < r->playlist->media_sequence())
      r->timeline.pop_front();
    write_mpd_locked(self, true);
  }
}

// ---- fMP4 ----

// Media time of a running time in a track timescale: the UTC of the sample (running time plus
// the run's UTC anchor), so tfdt grows across segments, restarts and renditions alike.
static uint64_t media_time_locked(GstIptvHlsSinkPrivate *p, GstClockTimeDiff running,
                                  uint32_t timescale) {
  gint64 ns = p->media_epoch_ns + running;
  return iptv::ns_to_timescale(ns > 0 ? (uint64_t)ns : 0, timescale);
}

// Writes the init segment for `track` if it differs from the one in force: init.mp4 for the
// first of a run (unless a previous run left a different init.mp4 that its listed segments
// still use), init-<sequence>.mp4 after a change. Lock held.
static bool write_init_locked(GstIptvHlsSink *self, Rendition *r, const iptv::cmaf::TrackConfig &t,
                              uint64_t sequence) {
  GstIptvHlsSinkPrivate *p = self->priv;
  std::string err;
  auto bytes = iptv::cmaf::write_init_segment(t, &err);
  auto codecs = bytes ? iptv::cmaf::codec_string(t, &err) : std::nullopt;
  if (!bytes || !codecs) {
    GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                      ("segment-format=fmp4 cannot carry %s's stream", r->name.c_str()),
                      ("%s", err.c_str()));
    return false;
  }
  if (*bytes == r->init_bytes) return true;
  std::string dir = rendition_dir(p, r), name = "init.mp4", old;
  bool first = r->init_bytes.empty();
  if (!first || (iptv::read_file(dir + "/init.mp4", old) && old != as_text(*bytes)))
    name = "init-" + std::to_string(sequence) + ".mp4";
  err = iptv::write_file_atomic(dir + "/" + name, as_text(*bytes));
  if (!err.empty()) {
    GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("Could not write the init segment"),
                      ("%s", err.c_str()));
    return false;
  }
  GST_INFO_OBJECT(self, "%s: init segment %s (%s)", r->name.c_str(), name.c_str(), codecs->c_str());
  r->init_bytes = std::move(*bytes);
  r->map_uri = name;
  if (r == p->audio.get())
    p->audio_codec = *codecs;
  else
    r->video_codec = *codecs;
  return true;
}

// Closes the open fMP4 fragment of `r`: at `end` (the next segment's first decode time), or,
// at EOS and before a discontinuity, after its last sample. Writes seg-<sequence>.m4s and
// lists it. Lock held.
static void fmp4_close_locked(GstIptvHlsSink *self, Rendition *r, std::optional<uint64_t> end,
                              std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  if (!r->have_open) return;
  r->have_open = false;
  const bool ll = p->cfg.part > 0;
  if (r->frag->empty() && (!ll || r->seg_bytes.empty())) return;
  std::string err;
  uint32_t frame =
      r == p->audio.get() ? 1024 : (uint32_t)(r->timescale / (r->fps > 0 ? r->fps : 25));
  uint64_t first;
  std::optional<iptv::cmaf::Bytes> bytes;
  if (ll) {
    // Low latency: the last part, then the segment is its parts' moof+mdat pairs end to end
    // (the very bytes of the part files).
    first = r->seg_first;
    bool ok = fmp4_part_locked(self, r, end, frame, false, msgs);
    bytes = std::move(r->seg_bytes);
    r->seg_bytes.clear();
    if (!ok || bytes->empty()) {
      GST_WARNING_OBJECT(self, "%s: segment %" G_GUINT64_FORMAT " dropped: its last part failed",
                         r->name.c_str(), r->open.sequence);
      return;
    }
  } else {
    first = r->frag->first_dts();
    r->frag->set_next_sequence_number((uint32_t)r->open.sequence);
    bytes = end ? r->frag->cut(*end, &err) : r->frag->finish(frame, &err);
    if (!bytes) {
      GST_WARNING_OBJECT(self, "%s: segment %" G_GUINT64_FORMAT " dropped: %s", r->name.c_str(),
                         r->open.sequence, err.c_str());
      return;
    }
  }
  iptv::hls::Segment seg;
  seg.sequence = r->open.sequence;
  seg.discontinuity = r->open.discontinuity;
  seg.pdt_ms = r->open.utc_ms;
  seg.duration = (double)(r->frag->written_end() - first) / r->timescale;
  seg.bytes = bytes->size();
  seg.uri = "seg-" + std::to_string(seg.sequence) + ".m4s";
  seg.map_uri = r->open_map;
  std::string path = rendition_dir(p, r) + "/" + seg.uri;
  std::string data(as_text(*bytes));
  if (!encrypt_segment_locked(self, r, &seg, data)) return;
  r->timeline.push_back({seg.sequence, first, r->frag->written_end() - first});
  seg.bytes = data.size();
  err = iptv::write_file_atomic(path, data);
  if (!err.empty()) {
    GST_ELEMENT_WARNING(self, RESOURCE, WRITE, ("Could not write a segment"), ("%s", err.c_str()));
    return;
  }
  list_segment_locked(self, r, seg, path, msgs);
}

// Opens the next fragment of `r` at `start`: closes the open one first (ending it at `dts`, or
// after its last sample at a discontinuity). Lock held.
static void fmp4_open_locked(GstIptvHlsSink *self, Rendition *r, const PendingStart &start,
                             uint64_t dts, std::vector<GstStructure *> &msgs) {
  fmp4_close_locked(self, r, start.discontinuity ? std::nullopt : std::optional<uint64_t>(dts),
                    msgs);
  if (start.discontinuity || r->frag->empty()) r->frag->reset_timeline();
  r->open = start;
  r->have_open = true;
  r->open_map = r->map_uri;
  r->part_index = 0;
  r->seg_bytes.clear();
  r->part_anchor.reset();
  if (r == self->priv->audio.get() && GST_CLOCK_TIME_IS_VALID(start.running_time))
    r->part_anchor =
        media_time_locked(self->priv, (GstClockTimeDiff)start.running_time, r->timescale);
  if (self->priv->cfg.part > 0)
    r->playlist->open_segment(start.sequence, start.discontinuity, start.utc_ms, r->open_map);
}

// Places held audio: each buffer goes into the segment whose start (decided by the lead video
// rendition) it follows. Buffers past what the video has decided wait, unless the video has
// ended or is more than 60 s behind (all renditions disabled, or a video stall): then
// the audio goes on in its open segment. Lock held.
static void fmp4_drain_audio_locked(GstIptvHlsSink *self, bool eos,
                                    std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  Rendition *a = p->audio.get();
  while (!p->audio_hold.empty()) {
    HeldAudio h = p->audio_hold.front();
    bool decided = eos || p->video_ended ||
                   (GST_CLOCK_TIME_IS_VALID(p->video_frontier) && h.running < p->video_frontier) ||
                   (p->audio_hold.back().running - h.running > 60 * GST_SECOND);
    if (!decided) break;
    p->audio_hold.pop_front();
    uint64_t ts = media_time_locked(p, (GstClockTimeDiff)h.running, a->timescale);
    while (!p->audio_starts.empty() && h.running >= p->audio_starts.front().running_time) {
      PendingStart st = p->audio_starts.front();
      p->audio_starts.pop_front();
      if (a->have_open && st.sequence <= a->open.sequence) continue;
      // The audio segment starts at its own first sample, up to an AAC frame after the video's
      // keyframe, so its PROGRAM-DATE-TIME is that sample's: then each audio segment's PDT plus
      // its EXTINF is the next one's PDT. With the video's PDT instead, the audio timeline
      // had a hole or an overlap of a frame at every boundary, and hls.js, which places an
      // audio playlist on the video's by PDT, skipped the last part of a segment and stalled
      // (bufferStalledError, then bufferSeekOverHole) behind a hole in the audio buffer.
      if (GST_CLOCK_TIME_IS_VALID(st.running_time) && h.running > st.running_time)
        st.utc_ms += (int64_t)((h.running - st.running_time + GST_MSECOND / 2) / GST_MSECOND);
      fmp4_open_locked(self, a, st, ts, msgs);
    }
    if (a->have_open && !a->init_bytes.empty()) {
      GstMapInfo map;
      if (gst_buffer_map(h.buf, &map, GST_MAP_READ)) {
        std::string err;
        if (!fmp4_add_locked(self, a, ts, 0, true, {map.data, map.size}, &err, msgs))
          GST_WARNING_OBJECT(self, "audio sample dropped: %s", err.c_str());
        gst_buffer_unmap(h.buf, &map);
      }
    }
    gst_buffer_unref(h.buf);
  }
  if (eos) fmp4_close_locked(self, a, std::nullopt, msgs);
}

// One video access unit (fmp4): at a segment start (`start`, decided by the probe) the open
// fragment is closed and the init segment (re)written when the parameter sets changed; the
// access unit goes into the open fragment. Lock held.
static void fmp4_video_locked(GstIptvHlsSink *self, Rendition *r, GstBuffer *buf,
                              const std::optional<PendingStart> &start,
                              std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  if (!start && !r->have_open) return;
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_READ)) return;
  iptv::AccessUnit au = iptv::annexb_access_unit({map.data, map.size}, r->hevc);
  gst_buffer_unmap(buf, &map);
  if (!au.sps.empty()) r->sps = au.sps;
  if (!au.pps.empty()) r->pps = au.pps;
  if (!au.vps.empty()) r->vps = au.vps;
  GstClockTime ts_in = GST_BUFFER_DTS_IS_VALID(buf) ? GST_BUFFER_DTS(buf) : GST_BUFFER_PTS(buf);
  GstClockTime pts_rt = 0, dts_rt = 0;
  int pts_sign =
      gst_segment_to_running_time_full(&r->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf), &pts_rt);
  int dts_sign = gst_segment_to_running_time_full(&r->segment, GST_FORMAT_TIME, ts_in, &dts_rt);
  if (pts_sign == 0 || dts_sign == 0) return;
  GstClockTimeDiff pts_run = pts_sign > 0 ? (GstClockTimeDiff)pts_rt : -(GstClockTimeDiff)pts_rt;
  GstClockTimeDiff dts_run = dts_sign > 0 ? (GstClockTimeDiff)dts_rt : -(GstClockTimeDiff)dts_rt;
  if (!p->have_media_epoch) {
    p->media_epoch_ns =
        utc_ns_for(self, buf, (GstClockTime)std::max<GstClockTimeDiff>(pts_run, 0)) -
        std::max<GstClockTimeDiff>(pts_run, 0);
    p->have_media_epoch = true;
  }
  uint64_t dts = media_time_locked(p, dts_run, r->timescale);
  uint64_t pts = media_time_locked(p, pts_run, r->timescale);
  if (start) {
    iptv::cmaf::TrackConfig t;
    t.kind = iptv::cmaf::TrackKind::kVideo;
    t.fourcc = r->hevc ? "hvc1" : "avc1";
    t.timescale = r->timescale;
    std::string err;
    std::optional<iptv::cmaf::Bytes> cfg = r->hevc
                                               ? iptv::cmaf::make_hvcc(r->vps, r->sps, r->pps, &err)
                                               : iptv::cmaf::make_avcc(r->sps, r->pps, &err);
    if (cfg && r->hevc) {
      if (auto s = iptv::cmaf::hvcc_sps(*cfg, &err)) t.width = s->width, t.height = s->height;
    } else if (cfg) {
      if (auto s = iptv::cmaf::avcc_sps(*cfg, &err)) t.width = s->width, t.height = s->height;
    }
    if (!cfg || t.width == 0) {
      GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                        ("segment-format=fmp4: %s has no usable parameter sets at its first "
                         "keyframe",
                         r->name.c_str()),
                        ("%s (the sample entry needs them; h264parse/h265parse config-interval=-1 "
                         "repeats them)",
                         err.c_str()));
      return;
    }
    t.decoder_config = std::move(*cfg);
    if (!write_init_locked(self, r, t, start->sequence)) return;
    fmp4_open_locked(self, r, *start, dts, msgs);
    if (p->audio && p->audio_ghost) {
      // The lead (first enabled) video rendition tells the audio where segments start.
      Rendition *lead = nullptr;
      for (auto &x : p->renditions)
        if (!x->disabled) {
          lead = x.get();
          break;
        }
      if (lead == r) p->audio_starts.push_back(*start);
    }
  }
  if (!r->have_open) return;
  std::string err;
  if (!fmp4_add_locked(self, r, dts, (int64_t)pts - (int64_t)dts,
                       !GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT), au.sample, &err,
                       msgs)) {
    GST_WARNING_OBJECT(self, "%s: access unit dropped: %s", r->name.c_str(), err.c_str());
    r->pending_discontinuity = true;
  }
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
    if (r->sink != splitmux) continue;
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

// The first enabled video rendition: its segment starts are the audio rendition's (fmp4).
static Rendition *lead_locked(GstIptvHlsSinkPrivate *p) {
  for (auto &x : p->renditions)
    if (!x->disabled) return x.get();
  return nullptr;
}

// fmp4: the lead rendition reached running time `running` (or ended): audio before it can be
// placed. Lock held.
static void fmp4_video_progress_locked(GstIptvHlsSink *self, Rendition *r, GstClockTime running,
                                       bool eos, std::vector<GstStructure *> &msgs) {
  GstIptvHlsSinkPrivate *p = self->priv;
  if (!p->audio || !p->audio_ghost) return;
  if (r != lead_locked(p)) return;
  if (eos) {
    p->video_ended = true;
  } else if (!GST_CLOCK_TIME_IS_VALID(p->video_frontier) || running > p->video_frontier) {
    p->video_frontier = running;
  }
  // The audio's last segment closes once the video has told where every segment starts.
  fmp4_drain_audio_locked(self, p->audio_ended && p->video_ended, msgs);
}

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
    std::vector<GstStructure *> msgs;
    std::unique_lock<std::mutex> lock(p->lock);
    switch (GST_EVENT_TYPE(ev)) {
      case GST_EVENT_SEGMENT:
        gst_event_copy_segment(ev, &r->segment);
        break;
      case GST_EVENT_EOS:
        // fmp4: the last segment ends after its last access unit (before the sink's EOS
        // message, so the playlists are complete when the bin reports EOS).
        if (p->cfg.fmp4) {
          fmp4_close_locked(self, r, std::nullopt, msgs);
          fmp4_video_progress_locked(self, r, GST_CLOCK_TIME_NONE, true, msgs);
        }
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
    lock.unlock();
    for (GstStructure *m : msgs) post(self, m);
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
  std::vector<GstStructure *> msgs;
  if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT)) {
    {
      std::lock_guard<std::mutex> lock(p->lock);
      // Nothing may precede the first keyframe: a segment must start with an IDR.
      if (!r->segmenter->started()) return GST_PAD_PROBE_DROP;
      if (p->cfg.fmp4) {
        fmp4_video_locked(self, r, buf, std::nullopt, msgs);
        fmp4_video_progress_locked(self, r, running, false, msgs);
      }
    }
    for (GstStructure *m : msgs) post(self, m);
    return GST_PAD_PROBE_OK;
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
    gint64 utc = utc_ns_for(self, buf, unshifted_locked(p, running));
    gint64 anchor = p->cfg.mode == SeqMode::kEpoch ? utc : (gint64)running;
    bool disc = r->pending_discontinuity;
    auto start = r->segmenter->on_keyframe(anchor, disc);
    if (start) r->pending_discontinuity = false;
    if (p->cfg.fmp4) {
      std::optional<PendingStart> st;
      if (start)
        st = PendingStart{start->sequence, start->discontinuity, utc / 1000000, running,
                          r->prev_end};
      fmp4_video_locked(self, r, buf, st, msgs);
      fmp4_video_progress_locked(self, r, running, false, msgs);
    } else if (start) {
      bool first = r->pending.empty() && !r->have_open;
      r->pending.push_back(
          {start->sequence, start->discontinuity, utc / 1000000, running, r->prev_end});
      split = !first;
    }
  }
  for (GstStructure *m : msgs) post(self, m);
  // Ask splitmuxsink to start a new fragment at this very keyframe (outside our lock).
  if (split) g_signal_emit_by_name(r->sink, "split-at-running-time", (guint64)running);
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

// fmp4: the audio rendition's input (AAC, raw with codec_data). Buffers are held until the lead
// video rendition has decided the segment starts around them.
static GstPadProbeReturn audio_fmp4_probe(GstPad *, GstPadProbeInfo *info, gpointer user_data) {
  auto *self = GST_IPTV_HLS_SINK(user_data);
  GstIptvHlsSinkPrivate *p = self->priv;
  std::vector<GstStructure *> msgs;
  std::unique_lock<std::mutex> lock(p->lock);
  Rendition *a = p->audio.get();
  if (!a || !a->playlist) return GST_PAD_PROBE_OK;
  if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(ev) == GST_EVENT_SEGMENT) {
      gst_event_copy_segment(ev, &a->segment);
    } else if (GST_EVENT_TYPE(ev) == GST_EVENT_EOS) {
      // The audio may end before the video has decided where its last segments start: the
      // last segment closes when the lead video rendition ends (or at once without video).
      p->audio_ended = true;
      fmp4_drain_audio_locked(self, p->video_ended || !lead_locked(p), msgs);
    } else if (GST_EVENT_TYPE(ev) == GST_EVENT_CAPS) {
      GstCaps *caps;
      gst_event_parse_caps(ev, &caps);
      const GstStructure *st = gst_caps_get_structure(caps, 0);
      const GValue *cd = gst_structure_get_value(st, "codec_data");
      const char *fmt = gst_structure_get_string(st, "stream-format");
      iptv::cmaf::TrackConfig t;
      t.kind = iptv::cmaf::TrackKind::kAudio;
      t.fourcc = "mp4a";
      std::string err = "no codec_data (stream-format=" + std::string(fmt ? fmt : "?") +
                        "); put `aacparse ! audio/mpeg,stream-format=raw` before the audio pad";
      if (cd && GST_VALUE_HOLDS_BUFFER(cd)) {
        GstMapInfo map;
        GstBuffer *b = gst_value_get_buffer(cd);
        if (gst_buffer_map(b, &map, GST_MAP_READ)) {
          t.decoder_config.assign(map.data, map.data + map.size);
          gst_buffer_unmap(b, &map);
        }
        if (auto c = iptv::cmaf::parse_audio_specific_config(t.decoder_config, &err)) {
          gint ch = 0;
          gst_structure_get_int(st, "channels", &ch);
          t.sample_rate = c->sample_rate;
          t.timescale = c->sample_rate;
          t.channels = c->channels ? c->channels : (uint32_t)ch;
          err.clear();
        }
      }
      if (!err.empty()) {
        lock.unlock();
        GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("segment-format=fmp4 cannot carry this audio"),
                          ("%s", err.c_str()));
        return GST_PAD_PROBE_DROP;
      }
      a->timescale = t.timescale;
      // Audio parts follow the video's part grid in whole AAC frames (1024 samples), so one
      // may be a frame longer than part-duration: the audio playlist's PART-TARGET is
      // part-duration rounded up to whole frames (0.512 s for 0.5 s at 48 kHz).
      if (p->cfg.part > 0 && t.timescale > 0) {
        double frames = std::ceil(p->cfg.part * t.timescale / 1024.0 - 1e-9);
        a->playlist->set_part_target(frames * 1024.0 / t.timescale);
      }
      if (!write_init_locked(self, a, t, a->playlist->next_sequence())) return GST_PAD_PROBE_DROP;
    }
  } else {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    if (a->segment.format != GST_FORMAT_TIME || !GST_BUFFER_PTS_IS_VALID(buf))
      return GST_PAD_PROBE_OK;
    GstClockTime running =
        gst_segment_to_running_time(&a->segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buf));
    if (!GST_CLOCK_TIME_IS_VALID(running)) return GST_PAD_PROBE_OK;
    p->audio_hold.push_back({running, gst_buffer_ref(buf)});
    fmp4_drain_audio_locked(self, false, msgs);
  }
  lock.unlock();
  for (GstStructure *m : msgs) post(self, m);
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
  GstPad *mux_audio = gst_element_request_pad_simple(r->sink, "audio_%u");
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
  const Settings st = settings_snapshot(p);  // pads are requested before cfg is taken
  if (p->built_fmp4 && *p->built_fmp4 != st.fmp4) {
    GST_ERROR_OBJECT(self, "segment-format changed after the first pad was requested");
    return nullptr;
  }
  p->built_fmp4 = st.fmp4;
  if (g_str_equal(GST_PAD_TEMPLATE_NAME_TEMPLATE(templ), "audio") && st.fmp4) {
    if (p->audio_ghost) {
      GST_ERROR_OBJECT(self, "only one audio pad");
      return nullptr;
    }
    // fmp4: the audio is a rendition of its own; our probe writes it, a fakesink ends it.
    p->audio_sink = gst_element_factory_make("fakesink", "audio_sink");
    g_object_set(p->audio_sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE,
                 nullptr);
    gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(p->audio_sink)));  // we keep a ref
    GstPad *asink = gst_element_get_static_pad(p->audio_sink, "sink");
    gst_pad_add_probe(
        asink, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        audio_fmp4_probe, self, nullptr);
    p->audio_ghost = gst_ghost_pad_new_from_template("audio", asink, templ);
    gst_object_unref(asink);
    {
      std::lock_guard<std::mutex> lock(p->lock);
      p->audio = std::make_unique<Rendition>();
      p->audio->name = "audio";
      gst_segment_init(&p->audio->segment, GST_FORMAT_UNDEFINED);
    }
    gst_element_sync_state_with_parent(p->audio_sink);
    gst_pad_set_active(p->audio_ghost, TRUE);
    gst_element_add_pad(element, p->audio_ghost);
    return p->audio_ghost;
  }
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
    add_ts_offset_probe(self, p->audio_ghost);
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
  r->name = index < st.names.size() && !st.names[index].empty() ? st.names[index]
                                                                : "v" + std::to_string(index);
  gst_segment_init(&r->segment, GST_FORMAT_UNDEFINED);
  {
    std::lock_guard<std::mutex> lock(p->lock);
    r->disabled = st.disabled_names.count(r->name) > 0;
  }
  GstPad *mux_video = nullptr;
  if (st.fmp4) {
    // fmp4: the input probe writes the segments itself; a fakesink ends the stream.
    r->sink = gst_element_factory_make("fakesink", nullptr);
    g_object_set(r->sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
    gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(r->sink)));  // we keep a ref
    mux_video = gst_element_get_static_pad(r->sink, "sink");
  } else {
    r->sink = gst_element_factory_make("splitmuxsink", nullptr);
    if (!r->sink) {
      GST_ERROR_OBJECT(self, "splitmuxsink is missing (gst-plugins-good)");
      return nullptr;
    }
    GstElement *mux = gst_element_factory_make("mpegtsmux", nullptr);
    if (!mux) {
      GST_ERROR_OBJECT(self, "mpegtsmux is missing (gst-plugins-bad)");
      gst_object_unref(gst_object_ref_sink(r->sink));
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
    // Its file sink survives a full hot folder (hlssink_tsfile.h): the fragment is dropped, the
    // pipeline goes on.
    g_object_set(r->sink, "muxer", mux, "sink", iptv_ts_file_sink_new(), "max-size-time",
                 (guint64)0, "max-size-bytes", (guint64)0, "send-keyframe-requests", FALSE,
                 nullptr);
    g_signal_connect(r->sink, "format-location-full", G_CALLBACK(format_location), self);
    gst_bin_add(GST_BIN(self), GST_ELEMENT(gst_object_ref(r->sink)));  // we keep a ref
    mux_video = gst_element_request_pad_simple(r->sink, "video");
  }
  gst_pad_add_probe(
      mux_video, (GstPadProbeType)(GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
      video_probe, self, nullptr);
  gchar *pad_name = g_strdup_printf("video_%u", index);
  r->ghost = gst_ghost_pad_new_from_template(pad_name, mux_video, templ);
  g_free(pad_name);
  gst_object_unref(mux_video);
  if (!st.fmp4) add_ts_offset_probe(self, r->ghost);
  Rendition *raw = r.get();
  {
    std::lock_guard<std::mutex> lock(p->lock);
    p->renditions.push_back(std::move(r));
  }
  if (p->audio_tee && !st.fmp4) add_audio_branch(self, raw);
  gst_element_sync_state_with_parent(raw->sink);
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
    drop_child(self, p->audio_sink);
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
  drop_child(self, gone->sink);
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
      // fmp4: the audio rendition's sink reports EOS too.
      size_t sinks = self->priv->renditions.size() + (self->priv->audio_sink ? 1 : 0);
      all = self->priv->eos_count >= sinks;
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
  p->last_average_bps.clear();
  p->eos_count = 0;
  p->have_media_epoch = false;
  p->have_ts_offset = false;
  p->audio_starts.clear();
  for (auto &h : p->audio_hold) gst_buffer_unref(h.buf);
  p->audio_hold.clear();
  p->video_frontier = GST_CLOCK_TIME_NONE;
  p->video_ended = false;
  p->audio_ended = false;
  p->mpd_period_start = -1;
  p->mpd_first_number = 0;
  p->mpd_written_number = UINT64_MAX;
  // Without DASH, an MPD a previous run left in the tree (manifests=hls,dash before a change to
  // hls or to mpegts) is removed: nobody would update it, and a DASH client would follow a
  // frozen manifest (and its segments, once swept, would 404) instead of getting a clear 404.
  if (!p->cfg.dash) {
    std::string mpd = p->cfg.location + "/manifest.mpd";
    if (::unlink(mpd.c_str()) == 0)
      GST_INFO_OBJECT(self, "removed %s left by a run with manifests=hls,dash", mpd.c_str());
  }
  std::vector<Rendition *> all;
  for (auto &r : p->renditions) all.push_back(r.get());
  if (p->cfg.fmp4 && p->audio && p->audio_ghost) all.push_back(p->audio.get());
  for (Rendition *r : all) {
    // fmp4 state: a fresh fragmenter; the init segment is written again at the first keyframe.
    r->frag = std::make_unique<iptv::cmaf::TrackFragmenter>(1);
    r->init_bytes.clear();
    r->map_uri.clear();
    r->open_map.clear();
    r->vps.clear();
    r->sps.clear();
    r->pps.clear();
    r->timescale = 90000;
    r->timeline.clear();
    std::string dir = rendition_dir(p, r);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("Cannot create %s", dir.c_str()),
                        ("%s", ec.message().c_str()));
      return FALSE;
    }
    r->playlist = std::make_unique<iptv::hls::MediaPlaylist>(p->cfg.type, p->cfg.target,
                                                             (int)p->cfg.window, p->cfg.dvr);
    r->playlist->set_part_target(p->cfg.part);
    r->part_index = 0;
    r->seg_bytes.clear();
    r->last_add_dts = 0;
    r->last_part_utc_us = 0;
    r->segmenter = std::make_unique<iptv::Segmenter>(p->cfg.target, p->cfg.mode == SeqMode::kEpoch);
    std::string old;
    uint64_t next = 0;
    bool resumed = false;
    if (p->cfg.type == iptv::hls::PlaylistType::kLive &&
        iptv::read_file(dir + "/index.m3u8", old) && r->playlist->restore(old)) {
      next = r->playlist->next_sequence();
      resumed = true;
      // Parts of a segment the previous run never completed: nothing will list them again.
      for (const auto &part : r->playlist->orphan_parts()) ::unlink((dir + "/" + part.uri).c_str());
      // The previous run wrote the other segment format (segment-format changed): its segments
      // leave the window, the numbers go on behind one discontinuity.
      const auto &segs = r->playlist->segments();
      const char *ext = p->cfg.fmp4 ? ".m4s" : ".ts";
      if (!segs.empty() && !iptv::ends_with(segs.back().uri, ext)) {
        GST_INFO_OBJECT(self, "%s: previous run wrote %s; new window at %" G_GUINT64_FORMAT,
                        r->name.c_str(), segs.back().uri.c_str(), next);
        for (const auto &s : segs)
          r->retired.push_back({dir + "/" + s.uri, g_get_monotonic_time()});
        r->playlist->drop_window();
      }
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
    std::vector<Rendition *> all;
    for (auto &r : p->renditions) all.push_back(r.get());
    if (p->cfg.fmp4 && p->audio) all.push_back(p->audio.get());
    write_mpd_locked(self, false);  // EVENT/VOD at EOS: a static MPD
    for (Rendition *r : all) {
      if (!r->playlist || r->playlist->ended()) continue;
      r->playlist->end();
      std::string path = rendition_dir(p, r) + "/index.m3u8";
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

// Settings and inputs refused before anything runs (READY -> PAUSED), each error naming the
// property: audio-language/audio-name that would break the playlist, and with
// segment-format=fmp4 an audio input that can only be something fMP4 here cannot carry (AAC
// without codec_data: ADTS, LOAS). Returns the property refused, or nullptr.
static const char *refuse_settings(GstIptvHlsSink *self) {
  GstIptvHlsSinkPrivate *p = self->priv;
  const Settings st = settings_snapshot(p);
  if (!st.audio_language.empty() &&
      (st.audio_language.size() > 35 ||
       st.audio_language.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-") != std::string::npos ||
       !g_ascii_isalpha(st.audio_language[0]))) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                      ("audio-language=%s is not a BCP 47 language tag", st.audio_language.c_str()),
                      ("use a tag such as en, de or pt-BR (letters, digits and '-')"));
    return "audio-language";
  }
  if (st.part > 0 && st.part >= st.target) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                      ("part-duration=%g must be below target-duration=%g", st.part, st.target),
                      ("a part is a piece of a segment; use e.g. part-duration=0.5 with "
                       "target-duration=2, or 0 for no low latency"));
    return "part-duration";
  }
  if (st.part > 0 && !st.fmp4) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS, ("part-duration needs segment-format=fmp4"),
                      ("parts here are the CMAF segment's moof+mdat pairs; MPEG-TS segments "
                       "have no parts (set part-duration=0 or segment-format=fmp4)"));
    return "part-duration";
  }
  if (st.part > 0 && st.key_rotation > 0) {
    GST_ELEMENT_ERROR(
        self, LIBRARY, SETTINGS,
        ("part-duration=%g cannot be combined with key-rotation=%u", st.part, st.key_rotation),
        ("AES-128 here encrypts whole segment files; the parts would be written "
         "and served in the clear (set part-duration=0 or key-rotation=0)"));
    return "part-duration";
  }
  if (st.audio_name.find_first_of("\"\r\n") != std::string::npos) {
    GST_ELEMENT_ERROR(self, LIBRARY, SETTINGS,
                      ("audio-name may not contain a double quote or a line break"),
                      ("it is the quoted NAME of the EXT-X-MEDIA line"));
    return "audio-name";
  }
  if (st.fmp4 && p->audio_ghost && gst_pad_is_linked(p->audio_ghost)) {
    GstCaps *want = fmp4_audio_caps();
    GstCaps *peer = gst_pad_peer_query_caps(p->audio_ghost, nullptr);
    bool ok = gst_caps_can_intersect(peer, want);
    if (!ok) {
      // What upstream offers, briefly: "stream-format=adts" (or the whole caps if not AAC).
      std::string what;
      for (guint i = 0; i < gst_caps_get_size(peer); i++) {
        const GValue *v = gst_structure_get_value(gst_caps_get_structure(peer, i), "stream-format");
        gchar *t = v ? gst_value_serialize(v) : nullptr;
        if (t) what += (what.empty() ? "" : "; ") + std::string("stream-format=") + t;
        g_free(t);
      }
      gchar *offered = what.empty() ? gst_caps_to_string(peer) : g_strdup(what.c_str());
      GST_ELEMENT_ERROR(self, STREAM, FORMAT,
                        ("segment-format=fmp4 cannot carry the audio input (AAC %s)", offered),
                        ("fMP4 here carries AAC with codec_data (stream-format=raw); put "
                         "`aacparse ! audio/mpeg,stream-format=raw` before the audio pad, or use "
                         "segment-format=mpegts"));
      g_free(offered);
    }
    gst_caps_unref(peer);
    gst_caps_unref(want);
    if (!ok) return "segment-format";
  }
  return nullptr;
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
    {
      // The pads were built for one segment format; refuse another one named at this point.
      bool fmp4 = settings_snapshot(self->priv).fmp4;
      if (settings_snapshot(self->priv).dash && !fmp4) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION, ("manifests=hls,dash needs segment-format=fmp4"),
                          ("DASH here lists the CMAF segments; MPEG-TS segments cannot be listed"));
        return GST_STATE_CHANGE_FAILURE;
      }
      if (refuse_settings(self)) return GST_STATE_CHANGE_FAILURE;
      if (self->priv->built_fmp4 && *self->priv->built_fmp4 != fmp4) {
        GST_ELEMENT_ERROR(self, CORE, NEGOTIATION,
                          ("segment-format changed to %s after the pads were requested",
                           fmp4 ? "fmp4" : "mpegts"),
                          ("set segment-format before linking the video_%%u and audio pads"));
        return GST_STATE_CHANGE_FAILURE;
      }
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
      case PROP_SEGMENT_FORMAT:
        st.fmp4 = g_value_get_enum(value) == 1;
        break;
      case PROP_MANIFESTS: {
        const char *v = g_value_get_string(value);
        bool hls = false, dash = false, bad = false;
        for (const auto &n : iptv::split(v ? v : "hls", ',')) {
          if (n == "hls")
            hls = true;
          else if (n == "dash")
            dash = true;
          else
            bad = true;
        }
        if (bad || !hls) {
          GST_WARNING_OBJECT(self, "manifests=%s: use hls or hls,dash; kept %s", v ? v : "",
                             st.dash ? "hls,dash" : "hls");
          break;
        }
        st.dash = dash;
        break;
      }
      case PROP_UTC_TIMING_URL: {
        const char *v = g_value_get_string(value);
        st.utc_timing_url = v ? v : "";
        break;
      }
      case PROP_AUDIO_NAME: {
        const char *v = g_value_get_string(value);
        st.audio_name = v && *v ? v : "audio";
        break;
      }
      case PROP_AUDIO_LANGUAGE: {
        const char *v = g_value_get_string(value);
        st.audio_language = v ? v : "";
        break;
      }
      case PROP_PART_DURATION:
        st.part = g_value_get_double(value);
        break;
      case PROP_KEY_ROTATION:
        st.key_rotation = g_value_get_uint(value);
        break;
      case PROP_KEY_URI_FORMAT: {
        const char *v = g_value_get_string(value);
        st.key_uri_format = v && *v ? v : "{key-id}.key";
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
      p->last_average_bps.clear();
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
    case PROP_SEGMENT_FORMAT:
      g_value_set_enum(value, st.fmp4 ? 1 : 0);
      break;
    case PROP_MANIFESTS:
      g_value_set_string(value, st.dash ? "hls,dash" : "hls");
      break;
    case PROP_UTC_TIMING_URL:
      g_value_set_string(value, st.utc_timing_url.c_str());
      break;
    case PROP_AUDIO_NAME:
      g_value_set_string(value, st.audio_name.c_str());
      break;
    case PROP_AUDIO_LANGUAGE:
      g_value_set_string(value, st.audio_language.c_str());
      break;
    case PROP_PART_DURATION:
      g_value_set_double(value, st.part);
      break;
    case PROP_KEY_ROTATION:
      g_value_set_uint(value, st.key_rotation);
      break;
    case PROP_KEY_URI_FORMAT:
      g_value_set_string(value, st.key_uri_format.c_str());
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

// add-key (see class_init).
static gboolean gst_iptv_hls_sink_add_key(GstIptvHlsSink *self, guint64 period, const gchar *key_id,
                                          const gchar *key_hex, const gchar *iv_hex) {
  if (!key_id || !*key_id || !key_hex || !iv_hex) return FALSE;
  auto key = iptv::crypto::from_hex(key_hex);
  auto iv = iptv::crypto::from_hex(iv_hex);
  if (!key || !iv || key->size() != 16 || iv->size() != 16) {
    GST_WARNING_OBJECT(self,
                       "add-key: period %" G_GUINT64_FORMAT
                       ": key and IV must be 32 hex "
                       "digits each",
                       period);
    return FALSE;
  }
  for (char c : std::string(key_id))
    if (!g_ascii_isalnum(c) && c != '-' && c != '_' && c != '.') {
      GST_WARNING_OBJECT(self, "add-key: key id must be [A-Za-z0-9._-]");
      return FALSE;
    }
  GstIptvHlsSinkPrivate *p = self->priv;
  std::lock_guard<std::mutex> lock(p->lock);
  p->keys[period] = ContentKey{key_id, *key, *iv};
  while (p->keys.size() > 16) p->keys.erase(p->keys.begin());
  GST_DEBUG_OBJECT(self, "key %s for period %" G_GUINT64_FORMAT, key_id, period);
  return TRUE;
}

static void gst_iptv_hls_sink_finalize(GObject *object) {
  auto *self = GST_IPTV_HLS_SINK(object);
  for (auto &r : self->priv->renditions) {
    gst_caps_replace(&r->last_caps, nullptr);
    if (r->audio_tee_pad) gst_object_unref(r->audio_tee_pad);
    if (r->audio_queue) gst_object_unref(r->audio_queue);
    if (r->sink) gst_object_unref(r->sink);
  }
  if (self->priv->audio_tee) gst_object_unref(self->priv->audio_tee);
  if (self->priv->audio_sink) gst_object_unref(self->priv->audio_sink);
  for (auto &h : self->priv->audio_hold) gst_buffer_unref(h.buf);
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

  // segment-format: mpegts (default: one .ts per segment with the audio muxed into every
  // rendition) or fmp4 (CMAF: per rendition an init.mp4 and seg-<sequence>.m4s of one track,
  // tfdt continuing across segments and restarts; the audio becomes its own rendition
  // audio/index.m3u8, an EXT-X-MEDIA TYPE=AUDIO that every variant names). Set it before
  // requesting pads; fmp4 needs the parameter sets in band at keyframes and AAC with codec_data.
  g_object_class_install_property(
      gobject_class, PROP_SEGMENT_FORMAT,
      g_param_spec_enum("segment-format", "Segment format", "mpegts or fmp4 (CMAF)",
                        GST_TYPE_IPTV_HLS_SINK_SEGMENT_FORMAT, 0, rw_ready));

  // manifests: hls, or hls,dash to also write <location>/manifest.mpd over the very same fMP4
  // files (needs segment-format=fmp4, refused at the state change otherwise): a dynamic MPD
  // (availabilityStartTime the start of the run's first segment; SegmentTemplate $Number$ = the
  // HLS media sequence; a SegmentTimeline of the playlist's window; minimumUpdatePeriod =
  // target-duration, timeShiftBufferDepth = the window; UTCTiming from utc-timing-url), static
  // with mediaPresentationDuration at EOS of an EVENT/VOD stream.
  g_object_class_install_property(
      gobject_class, PROP_MANIFESTS,
      g_param_spec_string("manifests", "Manifests", "hls, or hls,dash (manifest.mpd)", "hls",
                          rw_ready));

  // utc-timing-url: the MPD's UTCTiming (urn:mpeg:dash:utc:http-iso:2014), which DASH players
  // fetch to align their clock with the availability times. The default "time" is relative to
  // the MPD: the origin's time route /hls/<channel>/[<token>/]time (core/origin), so it carries
  // the token like every other URL in the MPD. "" leaves UTCTiming out.
  g_object_class_install_property(
      gobject_class, PROP_UTC_TIMING_URL,
      g_param_spec_string("utc-timing-url", "UTC timing URL",
                          "MPD UTCTiming http-iso URL (relative to the MPD; \"\" for none)", "time",
                          rw_ready));

  // audio-name: NAME of the fMP4 audio rendition's EXT-X-MEDIA (any text without a double quote
  // or a line break).
  g_object_class_install_property(
      gobject_class, PROP_AUDIO_NAME,
      g_param_spec_string("audio-name", "Audio name", "EXT-X-MEDIA NAME of the fMP4 audio", "audio",
                          rw_ready));

  // audio-language: LANGUAGE of the fMP4 audio rendition's EXT-X-MEDIA and `lang` of the MPD's
  // audio AdaptationSet: a BCP 47 tag such as `en` or `pt-BR` ("" for none).
  g_object_class_install_property(
      gobject_class, PROP_AUDIO_LANGUAGE,
      g_param_spec_string("audio-language", "Audio language",
                          "BCP 47 language of the fMP4 audio (EXT-X-MEDIA LANGUAGE, MPD lang)", "",
                          rw_ready));

  // part-duration: low-latency HLS (RFC 8216bis) with parts of at most this many seconds (0:
  // off). Needs segment-format=fmp4 and a value below target-duration (refused at READY ->
  // PAUSED otherwise, naming part-duration). Each part is one moof+mdat written to
  // seg-<sequence>.<part>.m4s before the playlist naming it, and the segment seg-<sequence>.m4s
  // is its parts end to end. The media playlist is republished at every part with
  // EXT-X-PART-INF:PART-TARGET, EXT-X-SERVER-CONTROL (CAN-BLOCK-RELOAD=YES, PART-HOLD-BACK = 3
  // part targets, CAN-SKIP-UNTIL = 6 target durations), EXT-X-PART (INDEPENDENT=YES when the
  // part starts with a keyframe) for the segments of the last 3 target durations and the open
  // one, EXT-X-PRELOAD-HINT TYPE=PART for the next part and EXT-X-RENDITION-REPORT for every
  // other rendition; EXT-X-VERSION:9. The blocking reloads and delta updates are the origin's.
  g_object_class_install_property(
      gobject_class, PROP_PART_DURATION,
      g_param_spec_double("part-duration", "Part duration",
                          "Low-latency HLS part target in seconds (0: off; fmp4 only)", 0, 60, 0,
                          rw_ready));
  // key-rotation: 0 (default) writes clear segments. N > 0 encrypts every segment (TS or fMP4,
  // the whole file) with AES-128-CBC and PKCS7 padding (HLS METHOD=AES-128), with the key of its
  // key period: period = media sequence / N, so a new key (and IV) every N segments, and the same
  // period for every rendition and the fMP4 audio. The keys come from the application through
  // the add-key action signal, never from a property or a file. A segment whose period has no
  // key yet uses the key of the nearest period that has one (a warning says so); with no key at
  // all it is not published (never written in the clear).
  g_object_class_install_property(
      gobject_class, PROP_KEY_ROTATION,
      g_param_spec_uint("key-rotation", "Key rotation",
                        "AES-128: a new key every N segments (0: segments in the clear)", 0,
                        G_MAXUINT, 0, rw_ready));
  // key-uri-format: the URI of EXT-X-KEY, with `{key-id}` replaced by the key's id; anything else
  // is copied as is (iptvd puts a `{token}` there that its origin fills per viewer).
  g_object_class_install_property(
      gobject_class, PROP_KEY_URI_FORMAT,
      g_param_spec_string("key-uri-format", "Key URI format",
                          "EXT-X-KEY URI, {key-id} replaced by the key id", "{key-id}.key",
                          rw_ready));
  // add-key (guint64 period, gchararray key-id, gchararray key-hex, gchararray iv-hex) ->
  // gboolean: the AES-128 key (32 hex digits) and IV (32 hex digits) of key period `period`
  // (segments period*N .. period*N+N-1). Give it before the period starts. Adding a period again
  // replaces its key only if no segment used it yet (false otherwise, and for malformed input).
  // Keys of periods more than 8 behind the newest used are forgotten.
  hls_sink_signals[SIGNAL_ADD_KEY] = g_signal_new_class_handler(
      "add-key", G_TYPE_FROM_CLASS(klass), (GSignalFlags)(G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION),
      G_CALLBACK(gst_iptv_hls_sink_add_key), nullptr, nullptr, nullptr, G_TYPE_BOOLEAN, 4,
      G_TYPE_UINT64, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);

  gst_element_class_add_static_pad_template(element_class, &video_template);
  gst_element_class_add_static_pad_template(element_class, &audio_template);
  gst_element_class_set_static_metadata(
      element_class, "IPTV multi-rendition HLS sink", "Sink/Muxer",
      "MPEG-TS or CMAF (fMP4) HLS renditions with a multivariant playlist, restart-safe numbering",
      "gst-iptv");
  element_class->change_state = gst_iptv_hls_sink_change_state;
  element_class->request_new_pad = gst_iptv_hls_sink_request_new_pad;
  element_class->release_pad = gst_iptv_hls_sink_release_pad;
  bin_class->handle_message = gst_iptv_hls_sink_handle_message;
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_HLS_SINK_PLAYLIST_TYPE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_HLS_SINK_SEQUENCE_MODE, (GstPluginAPIFlags)0);
  gst_type_mark_as_plugin_api(GST_TYPE_IPTV_HLS_SINK_SEGMENT_FORMAT, (GstPluginAPIFlags)0);
}

static void gst_iptv_hls_sink_init(GstIptvHlsSink *self) {
  self->priv = new GstIptvHlsSinkPrivate();
  GST_OBJECT_FLAG_SET(self, GST_ELEMENT_FLAG_SINK);
}
