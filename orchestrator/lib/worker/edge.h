// Edge outputs: the channel's clean contribution feed (H.264 + AAC) pushed to SRT (MPEG-TS,
// srtsink caller), RTMP (FLV, rtmp2sink) or UDP (MPEG-TS, udpsink; multicast or unicast).
// Each output is its own pipeline fed through appsrc, so an unreachable receiver restarts only
// that output and never stalls HLS.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>

#include "worker/spec.h"

namespace iptv::worker {

class EdgeOutput {
 public:
  // `on_error` runs on the main context.
  EdgeOutput(const OutputEntry &entry, std::function<void(const std::string &)> on_error);
  ~EdgeOutput();
  // Starts on `clock` with `base_time`: the output pipeline's, so the forwarded timestamps are
  // already in this pipeline's running time.
  bool start(std::string &error, GstClock *clock, GstClockTime base_time);
  void stop();
  // From streaming threads: one encoded buffer (video: H.264 byte-stream AU; audio: AAC).
  void push(bool video, GstBuffer *buf, GstCaps *caps);
  void end_of_stream();
  const OutputEntry &entry() const { return entry_; }
  bool running() const { return pipeline_ != nullptr; }

 private:
  static gboolean bus_cb(GstBus *, GstMessage *msg, gpointer self);
  OutputEntry entry_;
  std::function<void(const std::string &)> on_error_;
  std::mutex lock_;
  GstElement *pipeline_ = nullptr;
  GstElement *vsrc_ = nullptr, *asrc_ = nullptr;
  bool vcaps_set_ = false, acaps_set_ = false;
  bool started_video_ = false;  // drop until the first keyframe
  guint bus_watch_ = 0;
  GstClock *clock_ = nullptr;
  GstClockTime base_time_ = 0;
};

}  // namespace iptv::worker
