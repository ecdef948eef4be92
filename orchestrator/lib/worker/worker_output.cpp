// The worker's output pipeline messages: the sink's segment, part and playlist messages (sent
// on as status lines), its write failures (the disk-full / write-failed probe) and the thumbnail
// branch's errors. Split from worker.cpp (one step per file).
#include <gst/gst.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "worker/edge.h"
#include "worker/thumbnail.h"
#include "worker/worker.h"

namespace iptv::worker {

// The sink could not write a segment, an init segment or a playlist (a full hot folder, most
// often): the probe `disk-full` (ENOSPC, EDQUOT) or `write-failed` is raised once, and cleared
// by the next segment listed (output_written). The sink writes every file through a temporary
// name and a rename, so the playlists on disk stay whole meanwhile.
void Worker::on_output_warning(GstMessage *msg) {
  GError *err = nullptr;
  gchar *dbg = nullptr;
  gst_message_parse_warning(msg, &err, &dbg);
  bool write =
      err && err->domain == GST_RESOURCE_ERROR &&
      (err->code == GST_RESOURCE_ERROR_WRITE || err->code == GST_RESOURCE_ERROR_OPEN_WRITE);
  std::string text = std::string(err ? err->message : "") + (dbg ? std::string(": ") + dbg : "");
  if (err) g_error_free(err);
  g_free(dbg);
  if (!write || !write_failing_.empty()) return;
  bool full = text.find(std::strerror(ENOSPC)) != std::string::npos ||
              text.find(std::strerror(EDQUOT)) != std::string::npos;
  write_failing_ = full ? "disk-full" : "write-failed";
  status_.write(
      wire::Probe{.condition = write_failing_, .active = true, .stream = "output", .detail = text});
}

void Worker::output_written() {
  if (write_failing_.empty()) return;
  status_.write(wire::Probe{.condition = write_failing_,
                            .active = false,
                            .stream = "output",
                            .detail = "segments are written again"});
  write_failing_.clear();
}

void Worker::on_output_message(GstMessage *msg) {
  if (in_thumbnail_branch(GST_MESSAGE_SRC(msg))) {
    const GstStructure *s = gst_message_get_structure(msg);
    if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
      GError *err = nullptr;
      gst_message_parse_error(msg, &err, nullptr);
      thumbnail_failed(std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " +
                       (err ? err->message : "error"));
      if (err) g_error_free(err);
    } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ELEMENT && s &&
               gst_structure_has_name(s, kThumbnailFailed)) {
      const char *r = gst_structure_get_string(s, "reason");
      thumbnail_failed(r ? r : "cannot write the thumbnail");
    }
    return;
  }
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      GError *err = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error(msg, &err, &dbg);
      std::string m = std::string(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg))) + ": " +
                      (err ? err->message : "error") + (dbg ? std::string(" (") + dbg + ")" : "");
      if (err) g_error_free(err);
      g_free(dbg);
      status_.write(wire::Error{m});
      finish(1);
      return;
    }
    case GST_MESSAGE_WARNING:
      on_output_warning(msg);
      return;
    case GST_MESSAGE_EOS:
      if (stopping_) {
        for (auto &e : edges_) e->stop();
        gst_element_set_state(output_, GST_STATE_NULL);
        finish(0);
      }
      return;
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure(msg);
      if (!s) return;
      if (gst_structure_has_name(s, "iptvabrladder-encoder-selected")) {
        guint rung = 0;
        gst_structure_get_uint(s, "rung", &rung);
        const char *enc = gst_structure_get_string(s, "encoder");
        gboolean hw = FALSE;
        gst_structure_get_boolean(s, "hardware", &hw);
        status_.write(
            wire::Encoder{.rendition = rung < renditions_.size() ? renditions_[rung] : "?",
                          .factory = enc ? enc : "?",
                          .hardware = (bool)hw});
      } else if (gst_structure_has_name(s, "iptvabrladder-rung-dropped")) {
        guint rung = 0;
        gst_structure_get_uint(s, "rung", &rung);
        const char *reason = gst_structure_get_string(s, "reason");
        status_.write(wire::Probe{.condition = "rung-dropped",
                                  .active = true,
                                  .stream = "video",
                                  .detail = (rung < renditions_.size() ? renditions_[rung] : "?") +
                                            ": " + (reason ? reason : "")});
      } else if (gst_structure_has_name(s, "iptvhlssink-segment-added")) {
        PendingSegment pending;
        wire::Segment &seg = pending.seg;
        const char *r = gst_structure_get_string(s, "rendition");
        const char *path = gst_structure_get_string(s, "path");
        seg.rendition = r ? r : "";
        guint64 sequence = 0, bytes = 0;
        gst_structure_get_uint64(s, "sequence", &sequence);
        gst_structure_get_double(s, "duration", &seg.duration);
        gst_structure_get_uint64(s, "bytes", &bytes);
        gst_structure_get_uint64(s, "pts", &pending.pts);
        seg.sequence = sequence;
        seg.bytes = bytes;
        gboolean d = FALSE;
        gst_structure_get_boolean(s, "discontinuity", &d);
        seg.discontinuity = d;
        const char *kid = gst_structure_get_string(s, "key-id");
        seg.key_id = kid ? kid : "";
        std::string p = path ? path : "";
        std::string prefix = spec_.hls.dir + "/";
        seg.uri = p.rfind(prefix, 0) == 0 ? p.substr(prefix.size()) : p;
        auto it = rstats_.find(seg.rendition);
        if (it != rstats_.end() && seg.duration > 0)
          it->second->last_bps = seg.bytes * 8 / seg.duration;
        pending_segments_.push_back(std::move(pending));
        output_written();
      } else if (gst_structure_has_name(s, "iptvhlssink-part-added")) {
        // Low latency: the newest part's time per rendition, sent with the next heartbeat.
        const char *r = gst_structure_get_string(s, "rendition");
        if (r) part_at_ms_[r] = g_get_real_time() / 1000;
      } else if (gst_structure_has_name(s, "iptvhlssink-playlist-written")) {
        const char *r = gst_structure_get_string(s, "rendition");
        std::string rendition = r ? r : "";
        if (rendition.empty()) return;
        guint64 msn = 0, dsn = 0;
        gst_structure_get_uint64(s, "media-sequence", &msn);
        gst_structure_get_uint64(s, "discontinuity-sequence", &dsn);
        for (auto it = pending_segments_.begin(); it != pending_segments_.end();) {
          if (it->seg.rendition != rendition) {
            ++it;
            continue;
          }
          it->seg.media_sequence = msn;
          it->seg.discontinuity_sequence = dsn;
          it->seg.pdt = utc_iso(it->pts);
          status_.write(it->seg);
          it = pending_segments_.erase(it);
        }
      }
      return;
    }
    default:
      return;
  }
}

}  // namespace iptv::worker
