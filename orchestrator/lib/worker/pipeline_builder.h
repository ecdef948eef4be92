// The worker's output pipeline, built from the spec (factory names only: no plugin headers):
// - transcode: appsrc (raw video) -> queue -> iptvabrladder -> one queue per rendition ->
//   iptvhlssink video_N; appsrc (raw audio) -> audioconvert -> AAC -> aacparse -> queue ->
//   iptvhlssink audio;
// - passthrough: appsrc (H.264) -> h264parse -> iptvhlssink video_0; appsrc (AAC) -> aacparse ->
//   iptvhlssink audio (one rendition, "source");
// and iptvhlssink configured from spec.hls. The Worker (worker.h) owns what is built, feeds the
// appsrcs (sources and failover) and taps the sink's pads (media age, stats, edge outputs).
// See docs/worker.md for the graphs.
#pragma once

#include <gst/gst.h>

#include <functional>
#include <string>
#include <vector>

#include "worker/spec.h"

namespace iptv::worker {

// What build_output_pipeline made. Each pointer holds one reference the caller releases
// (nullptr: not made); the output pipeline holds the elements it contains.
struct OutputElements {
  GstElement *pipeline = nullptr;
  GstElement *vsrc = nullptr, *asrc = nullptr;  // appsrc "vin" / "ain"
  GstElement *hlssink = nullptr;
  GstElement *ladder = nullptr;                // transcode only
  GstCaps *vcaps = nullptr, *acaps = nullptr;  // transcode: the raw formats the appsrcs take
  std::vector<std::string> renditions;         // iptvhlssink's video_N, in order
  // Why the thumbnail branch (worker/thumbnail.h) was left out ("" added, or none asked for).
  std::string thumbnail_error;
};

// Builds the transcode or passthrough output of `spec` (spec.mode) on the system clock and
// configures iptvhlssink. On failure sets `error` ("missing elements: ...", "cannot link ...")
// and returns false; `out` holds what was made either way.
bool build_output_pipeline(const WorkerSpec &spec, OutputElements &out, std::string &error);

// Callbacks for every buffer entering iptvhlssink, from its streaming threads.
struct SinkTaps {
  std::function<void(size_t rendition, GstPad *pad, GstBuffer *buf)> video;  // video_N
  std::function<void(GstPad *pad, GstBuffer *buf)> audio;                    // none when empty
};
void add_sink_taps(const OutputElements &out, SinkTaps taps);

// A copy of `buf` whose PTS and DTS are running times of `pad`'s segment (nullptr before the
// pad has a segment): what the edge outputs, which share the output's clock and base time, mux.
GstBuffer *running_time_copy(GstPad *pad, GstBuffer *buf);

}  // namespace iptv::worker
