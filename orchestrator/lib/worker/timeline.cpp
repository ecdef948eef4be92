// The Worker's output timeline: samples from the inputs (primary, backup, slate) mapped onto the
// output's running time and pushed into the output pipeline's appsrcs, gaps filled (transcode),
// keyframe-aligned switches of what is on air.
#include <gst/app/app.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cstring>

#include "worker/worker.h"

namespace iptv::worker {

namespace {

constexpr GstClockTime kFillLag = 300 * GST_MSECOND;  // transcode: fill when this late
constexpr GstClockTime kReanchor = GST_SECOND;        // re-map a feed this far off the clock
constexpr GstClockTime kFreezeHold = GST_SECOND;      // repeat the last frame this long
constexpr guint kSilenceSamples = 1024;

gint64 mono_ms() {
  return g_get_monotonic_time() / 1000;
}

// Whether `next` really changes the stream of `prev` (size, rate, profile, format): caps that only
// drop or refine fields (a parser re-sending caps after a file loop's flushing seek, before it
// has parsed the SPS again) are no change, and must not reach the sink as one: iptvhlssink
// marks a caps change with EXT-X-DISCONTINUITY.
bool caps_really_change(GstCaps *prev, GstCaps *next) {
  if (!prev) return true;
  if (!next || gst_caps_is_empty(next)) return false;
  const GstStructure *a = gst_caps_get_structure(prev, 0), *b = gst_caps_get_structure(next, 0);
  if (!gst_structure_has_name(a, gst_structure_get_name(b))) return true;
  for (const char *f :
       {"width", "height", "framerate", "profile", "rate", "channels", "stream-format"}) {
    const GValue *va = gst_structure_get_value(a, f), *vb = gst_structure_get_value(b, f);
    if (va && vb && gst_value_compare(va, vb) != GST_VALUE_EQUAL) return true;
  }
  return false;
}

GstClockTime running_time_of(GstSample *sample, GstClockTime ts) {
  const GstSegment *seg = gst_sample_get_segment(sample);
  if (!GST_CLOCK_TIME_IS_VALID(ts)) return GST_CLOCK_TIME_NONE;
  if (!seg || seg->format != GST_FORMAT_TIME) return ts;
  return gst_segment_to_running_time(seg, GST_FORMAT_TIME, ts);
}

// Signed running time: a B-frame stream's first DTS lies before its segment start (its PTS do
// not), and dropping those (as "no DTS") broke the first GOP of every passthrough feed.
bool signed_running_time_of(GstSample *sample, GstClockTime ts, GstClockTimeDiff &out) {
  const GstSegment *seg = gst_sample_get_segment(sample);
  if (!GST_CLOCK_TIME_IS_VALID(ts)) return false;
  if (!seg || seg->format != GST_FORMAT_TIME) {
    out = (GstClockTimeDiff)ts;
    return true;
  }
  guint64 rt = 0;
  int sign = gst_segment_to_running_time_full(seg, GST_FORMAT_TIME, ts, &rt);
  if (sign == 0) return false;
  out = sign > 0 ? (GstClockTimeDiff)rt : -(GstClockTimeDiff)rt;
  return true;
}

}  // namespace

// ---- media from the inputs ----

void Worker::on_sample(int feed, StreamKind kind, GstSample *sample) {
  if (stopping_) return;
  if (passthrough_)
    push_encoded(feed, kind, sample);
  else
    push_raw(feed, kind, sample);
}

// Transcode: a raw frame or audio chunk of `feed`. The feed on air is mapped onto the output
// timeline (its own running time plus an offset chosen when it went on air), so its A/V sync
// is kept and the output never goes backwards.
void Worker::push_raw(int feed, StreamKind kind, GstSample *sample) {
  GstBuffer *in = gst_sample_get_buffer(sample);
  GstClockTime rt = running_time_of(sample, GST_BUFFER_PTS(in));
  if (!GST_CLOCK_TIME_IS_VALID(rt)) return;
  std::lock_guard<std::mutex> g(lock_);
  if (feed != on_air_) return;
  GstClockTime now = output_now();
  if (!GST_CLOCK_TIME_IS_VALID(now)) return;
  // Video and audio are anchored separately: a TS input's audio can lead or trail its video by
  // most of a second at the demuxer, and one shared offset would push one of them far off the
  // clock (its buffers then all dropped as late, or the muxer waiting on them).
  bool is_video = kind == StreamKind::kVideo;
  GstClockTimeDiff &offset = is_video ? offset_[feed] : aoffset_[feed];
  bool &have = is_video ? have_offset_[feed] : have_aoffset_[feed];
  GstClockTimeDiff out = (GstClockTimeDiff)rt + offset;
  if (!have || std::llabs(out - (GstClockTimeDiff)now) > (gint64)kReanchor) {
    offset = (GstClockTimeDiff)now - (GstClockTimeDiff)rt;
    have = true;
    out = (GstClockTimeDiff)now;
  }
  GstClockTime frame = gst_util_uint64_scale(GST_SECOND, 1, spec_.fps);
  if (kind == StreamKind::kVideo) {
    if (GST_CLOCK_TIME_IS_VALID(last_vpts_) && out < (GstClockTimeDiff)(last_vpts_ + frame / 2))
      return;  // covered already (by a fill)
    if (pending_on_air_ >= 0 && GST_CLOCK_TIME_IS_VALID(last_vpts_)) {
      GstClockTime grid = (GstClockTime)(spec_.keyframe_seconds * GST_SECOND);
      if ((GstClockTime)out / grid != last_vpts_ / grid) {  // a keyframe boundary: switch here
        on_air_ = pending_on_air_;
        pending_on_air_ = -1;
        have_offset_[on_air_] = have_aoffset_[on_air_] = false;
        return;
      }
    }
    GstBuffer *b = gst_buffer_copy(in);
    GST_BUFFER_PTS(b) = (GstClockTime)out;
    GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(b) = frame;
    last_vpts_ = (GstClockTime)out;
    if (feed != kSlate) {
      if (last_frame_) gst_buffer_unref(last_frame_);
      last_frame_ = gst_buffer_ref(in);
      last_real_frame_at_ = now;
    }
    gst_app_src_push_buffer(GST_APP_SRC(vsrc_), b);
  } else {
    guint64 samples = gst_buffer_get_size(in) / (2 * spec_.audio_channels);
    GstClockTime dur = gst_util_uint64_scale(samples, GST_SECOND, spec_.audio_rate);
    if (GST_CLOCK_TIME_IS_VALID(last_aend_) &&
        out + (GstClockTimeDiff)dur / 2 < (GstClockTimeDiff)last_aend_)
      return;
    // Butt-join chunks closer than 20 ms to the previous end, so AAC gets no tiny holes.
    if (GST_CLOCK_TIME_IS_VALID(last_aend_) &&
        std::llabs(out - (GstClockTimeDiff)last_aend_) < 20 * (gint64)GST_MSECOND)
      out = (GstClockTimeDiff)last_aend_;
    GstBuffer *b = gst_buffer_copy(in);
    GST_BUFFER_PTS(b) = (GstClockTime)out;
    GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(b) = dur;
    last_aend_ = (GstClockTime)out + dur;
    gst_app_src_push_buffer(GST_APP_SRC(asrc_), b);
  }
}

// Transcode: keeps the encoders fed whatever the inputs do. A frame or audio chunk more than
// kFillLag late is filled: the last frame (held for up to kFreezeHold) or black, and silence.
void Worker::fill_gaps() {
  if (passthrough_ || stopping_ || !output_) return;
  std::lock_guard<std::mutex> g(lock_);
  GstClockTime now = output_now();
  if (!GST_CLOCK_TIME_IS_VALID(now) || now < kFillLag) return;
  GstClockTime frame = gst_util_uint64_scale(GST_SECOND, 1, spec_.fps);
  GstClockTime limit = now - kFillLag;
  if (!GST_CLOCK_TIME_IS_VALID(last_vpts_)) last_vpts_ = limit - frame;
  while (last_vpts_ + frame <= limit) {
    GstClockTime pts = last_vpts_ + frame;
    if (pending_on_air_ >= 0) {
      GstClockTime grid = (GstClockTime)(spec_.keyframe_seconds * GST_SECOND);
      if (pts / grid != last_vpts_ / grid) {
        on_air_ = pending_on_air_;
        pending_on_air_ = -1;
        have_offset_[on_air_] = have_aoffset_[on_air_] = false;
      }
    }
    GstBuffer *pic = nullptr;
    if (last_frame_ && GST_CLOCK_TIME_IS_VALID(last_real_frame_at_) &&
        now - last_real_frame_at_ < kFreezeHold) {
      pic = last_frame_;
    } else {
      if (!black_frame_) {
        GstVideoInfo info;
        gst_video_info_from_caps(&info, vcaps_);
        black_frame_ = gst_buffer_new_allocate(nullptr, info.size, nullptr);
        GstMapInfo map;
        gst_buffer_map(black_frame_, &map, GST_MAP_WRITE);
        size_t y = (size_t)info.stride[0] * info.height;
        memset(map.data, 16, y);
        memset(map.data + y, 128, info.size - y);
        gst_buffer_unmap(black_frame_, &map);
      }
      pic = black_frame_;
    }
    GstBuffer *b = gst_buffer_copy(pic);
    GST_BUFFER_PTS(b) = pts;
    GST_BUFFER_DTS(b) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION(b) = frame;
    last_vpts_ = pts;
    gst_app_src_push_buffer(GST_APP_SRC(vsrc_), b);
  }
  if (!GST_CLOCK_TIME_IS_VALID(last_aend_)) last_aend_ = limit;
  GstClockTime chunk = gst_util_uint64_scale(kSilenceSamples, GST_SECOND, spec_.audio_rate);
  while (last_aend_ + chunk <= limit) {
    gsize size = kSilenceSamples * 2 * spec_.audio_channels;
    GstBuffer *b = gst_buffer_new_allocate(nullptr, size, nullptr);
    gst_buffer_memset(b, 0, 0, size);
    GST_BUFFER_PTS(b) = last_aend_;
    GST_BUFFER_DURATION(b) = chunk;
    last_aend_ += chunk;
    gst_app_src_push_buffer(GST_APP_SRC(asrc_), b);
  }
}

// Passthrough: parsed H.264 / ADTS AAC of `feed`. A feed that goes on air starts at its next
// keyframe, mapped to the output clock, with one `iptv-discontinuity` event ahead of it so
// iptvhlssink marks every rendition with exactly one EXT-X-DISCONTINUITY.
void Worker::push_encoded(int feed, StreamKind kind, GstSample *sample) {
  GstBuffer *in = gst_sample_get_buffer(sample);
  GstClockTimeDiff pts_rt = 0, dts_rt = 0;
  bool have_pts = signed_running_time_of(sample, GST_BUFFER_PTS(in), pts_rt);
  bool have_dts = signed_running_time_of(sample, GST_BUFFER_DTS(in), dts_rt);
  if (!have_pts && !have_dts) return;
  GstClockTimeDiff ref = have_dts ? dts_rt : pts_rt;
  std::lock_guard<std::mutex> g(lock_);
  if (feed != on_air_) return;
  GstClockTime now = output_now();
  if (!GST_CLOCK_TIME_IS_VALID(now)) return;
  bool video = kind == StreamKind::kVideo;
  auto mapped = [&](GstClockTimeDiff rt) {
    GstClockTimeDiff o = rt + offset_[feed];
    return o < 0 ? (GstClockTime)0 : (GstClockTime)o;
  };
  if (video) {
    bool key = !GST_BUFFER_FLAG_IS_SET(in, GST_BUFFER_FLAG_DELTA_UNIT);
    GstClockTimeDiff out = ref + offset_[feed];
    bool reanchor = !have_offset_[feed] || need_key_[feed] ||
                    std::llabs(out - (GstClockTimeDiff)now) > 2 * (gint64)kReanchor;
    if (reanchor) {
      if (!key) return;  // wait for a keyframe
      offset_[feed] = (GstClockTimeDiff)now - ref;
      if (GST_CLOCK_TIME_IS_VALID(last_vpts_) &&
          (GstClockTimeDiff)now <= (GstClockTimeDiff)last_vpts_)
        offset_[feed] += (GstClockTimeDiff)last_vpts_ - (GstClockTimeDiff)now +
                         (GstClockTimeDiff)GST_MSECOND * 40;
      have_offset_[feed] = true;
      if (need_key_[feed] && !first_feed_)
        gst_element_send_event(vsrc_,
                               gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM,
                                                    gst_structure_new_empty("iptv-discontinuity")));
      need_key_[feed] = false;
      first_feed_ = false;
    }
    GstBuffer *b = gst_buffer_copy(in);
    GST_BUFFER_DTS(b) = have_dts ? mapped(dts_rt) : GST_CLOCK_TIME_NONE;
    GST_BUFFER_PTS(b) = have_pts ? mapped(pts_rt) : GST_CLOCK_TIME_NONE;
    GstClockTime o = have_dts ? GST_BUFFER_DTS(b) : GST_BUFFER_PTS(b);
    if (GST_CLOCK_TIME_IS_VALID(last_vpts_) && o <= last_vpts_) {
      gst_buffer_unref(b);
      return;
    }
    last_vpts_ = o;
    push_keeping_caps(vsrc_, vcaps_, b, gst_sample_get_caps(sample));
  } else {
    if (need_key_[feed] || !have_offset_[feed] || !have_pts) return;
    GstClockTime o = mapped(pts_rt);
    if (GST_CLOCK_TIME_IS_VALID(last_aend_) && o < last_aend_) return;
    GstBuffer *b = gst_buffer_copy(in);
    GST_BUFFER_PTS(b) = o;
    GST_BUFFER_DTS(b) = o;
    last_aend_ = o + (GST_BUFFER_DURATION_IS_VALID(in) ? GST_BUFFER_DURATION(in) : 0);
    push_keeping_caps(asrc_, acaps_, b, gst_sample_get_caps(sample));
  }
}

// Passthrough: pushes `b` (taken) into `src`, with `caps` only when they really change the
// stream (see caps_really_change); `current` is what `src` carries now.
void Worker::push_keeping_caps(GstElement *src, GstCaps *&current, GstBuffer *b, GstCaps *caps) {
  if (caps && caps_really_change(current, caps)) {
    gst_caps_replace(&current, caps);
    GstSample *s = gst_sample_new(b, caps, nullptr, nullptr);
    gst_app_src_push_sample(GST_APP_SRC(src), s);
    gst_sample_unref(s);
    gst_buffer_unref(b);
    return;
  }
  gst_app_src_push_buffer(GST_APP_SRC(src), b);
}

// ---- what goes on air ----

void Worker::apply_on_air(OnAir to) {
  int target = to == OnAir::kPrimary ? 0 : to == OnAir::kBackup ? 1 : kSlate;
  if (target == kSlate && !feeds_[kSlate]) start_feed(kSlate);
  std::lock_guard<std::mutex> g(lock_);
  // Transcode: a return from a healthy backup waits for the next keyframe boundary; anything
  // else switches at once (the source on air is gone).
  bool old_alive = on_air_ != kSlate && machine_->healthy(on_air_, mono_ms());
  if (!passthrough_ && target == 0 && on_air_ == 1 && old_alive) {
    pending_on_air_ = target;
    return;
  }
  pending_on_air_ = -1;
  on_air_ = target;
  have_offset_[target] = have_aoffset_[target] = false;
  need_key_[target] = true;
}

}  // namespace iptv::worker
