// The channel's thumbnail (docs/console.md, "Thumbnails"): a branch of the output pipeline that
// writes a JPEG about spec.thumbnail.width px wide to spec.thumbnail.path every
// spec.thumbnail.interval_seconds, atomically (a temporary file beside it, then rename).
//
// - transcode: a tee on the raw video the ladder already gets (decoded once, by the source);
//   one frame per interval is scaled and encoded, the others never leave the tee's pad.
// - passthrough: a tee on the parsed H.264; one keyframe per interval reaches the branch's
//   appsink, which decodes it in a pipeline made for that keyframe and gone after it
//   (openh264dec, else avdec_h264): about 0.2 decoded frames a second, and no decoder, frame
//   pool or gst-libav kept in the worker between thumbnails (docs/benchmarks.md, density).
//
// A thumbnail never costs the channel: the branch sits behind a leaky one-buffer queue (it can
// never hold the tee back), a missing element leaves the branch out (the reason is returned),
// and a failure later (an element error inside the branch, a file that cannot be written) is
// reported once as the event `thumbnail.failed` and stops only the branch.
#pragma once

#include <gst/gst.h>

#include <string>

#include "worker/spec.h"

namespace iptv::worker {

// Name of the bin holding the branch: errors from inside it are the branch's, not the channel's.
constexpr const char *kThumbnailBin = "thumbnail";
// Element message posted (by the branch's appsink) when a thumbnail cannot be written:
// "iptv-thumbnail-failed", field "reason" (string).
constexpr const char *kThumbnailFailed = "iptv-thumbnail-failed";

// Inserts a tee between `upstream`'s "src" pad and its peer on `downstream` (any pad, a request
// pad too) and hangs the branch on it. `encoded` selects the passthrough form (H.264 in). Returns
// "" when added, else why not (the pipeline is left as it was, upstream still linked to
// downstream).
std::string add_thumbnail_branch(GstBin *pipeline, GstElement *upstream, GstElement *downstream,
                                 const ThumbnailEntry &spec, bool encoded);

// True when `obj` is the thumbnail branch or inside it.
bool in_thumbnail_branch(GstObject *obj);

// Stops the branch after a failure: its tee pad drops every buffer from now on.
void stop_thumbnail_branch(GstBin *pipeline);

}  // namespace iptv::worker
