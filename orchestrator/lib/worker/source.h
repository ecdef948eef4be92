// One input of a channel as its own GstPipeline, ending in two appsinks ("video", "audio"):
// decoded to the worker's raw format (transcode), or parsed H.264 byte-stream + ADTS AAC
// (passthrough). Each elementary stream passes an iptvgapprobe before its appsink.
//
// Keeping every input in its own pipeline is what lets failover swap inputs while the encoders
// and the HLS sink keep running: an input can fail, be torn down and rebuilt without touching
// the output pipeline (see docs/worker.md).
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <functional>
#include <string>

#include "worker/spec.h"

namespace iptv::worker {

enum class StreamKind { kVideo, kAudio };

struct SourceCallbacks {
  // From a streaming thread: one sample of `kind`.
  std::function<void(StreamKind, GstSample *)> on_sample;
  // From a streaming thread: the input delivers data, as of `at_ms` (monotonic ms). This is
  // what "the input delivers data" means for failover (SourcePipeline::data_seen says where it
  // is measured).
  std::function<void(gint64 at_ms)> on_data;
  // From the main context: bus messages of this input (errors, EOS, probe messages).
  std::function<void(GstMessage *)> on_message;
};

class SourcePipeline {
 public:
  // `encoded`: passthrough output (H.264/AAC) instead of raw. `slate`: the generated
  // "No signal" picture with silence (`entry` is ignored).
  SourcePipeline(const WorkerSpec &spec, const SourceEntry &entry, bool encoded, bool slate,
                 SourceCallbacks cb);
  ~SourcePipeline();
  SourcePipeline(const SourcePipeline &) = delete;
  SourcePipeline &operator=(const SourcePipeline &) = delete;

  // Builds and starts the pipeline. Returns false with `error` set when it cannot be built.
  bool start(std::string &error);
  void stop();
  bool running() const { return pipeline_ != nullptr; }
  // file:// inputs loop: called on EOS, seeks back to the start.
  bool loop_to_start();
  bool loops() const { return entry_.kind == "file"; }
  const SourceEntry &entry() const { return entry_; }
  // pad-added of a per-stream decodebin (called from streaming threads).
  void pad_added_public(GstElement *element, GstPad *pad);
  // What this input delivers (issue 17, step 3): the encoded bytes that entered its decoders
  // (transcode) or its passthrough tails since the last call, and the codecs seen ("H.264
  // (high)", "AAC"; "raw (generated)" for a test source that is never encoded). `bytes` is -1
  // when the input has no encoded stream to measure (a generated test source in transcode).
  struct Intake {
    int64_t bytes = -1;
    std::string video_codec, audio_codec;
  };
  Intake take_intake();
  // Counts the encoded bytes through `pad` and names its codec from its caps (pad probes; also
  // from the decoder-added signal of the pipeline).
  void watch_encoded(GstPad *pad, bool video);
  void set_codec(bool video, const std::string &name);
  // Data seen at the intake (encoded, before the decoders or passthrough tails) or where it
  // leaves a tail's queue (paced by the appsink's clock); reports SourceCallbacks::on_data.
  void data_seen(bool at_intake);
  // Every queue element of this input's pipeline (the tails' 2 s queues, the network queue).
  GstElement *pipeline() const { return pipeline_; }

 private:
  bool build(std::string &error);
  // The kinds of input; each sets `why` on failure.
  bool build_test(GstBin *bin, std::string &why);
  bool build_demuxed(GstBin *bin, GstCaps *stop_caps, std::string &why);
  bool build_decoded(GstBin *bin, GstCaps *stop_caps, std::string &why);
  GstElement *make_tail(StreamKind kind, bool hevc = false);
  bool add_content_branch(GstBin *bin, GstElement *tee, StreamKind kind, bool hevc = false);
  void on_pad_added(GstPad *pad);
  static void pad_added_cb(GstElement *, GstPad *pad, gpointer self);
  static GstFlowReturn new_sample_cb(GstElement *sink, gpointer self);
  static gboolean bus_cb(GstBus *, GstMessage *msg, gpointer self);

  const WorkerSpec &spec_;
  SourceEntry entry_;
  bool encoded_;
  bool slate_;
  SourceCallbacks cb_;
  GstElement *pipeline_ = nullptr;
  guint bus_watch_ = 0;
  bool have_video_ = false, have_audio_ = false;  // tails linked (streaming threads: pad-added)
  GMutex pad_lock_;
  std::atomic<GstClockTime> played_end_{0};  // file loops: running time played so far
  // Intake (take_intake): counted by pad probes on the decoders' sink pads or the passthrough
  // tails' input (streaming threads); the codec names under pad_lock_.
  std::atomic<int64_t> intake_bytes_{0};
  std::atomic<bool> intake_measured_{false};
  std::string video_codec_, audio_codec_;
  // Input health (data_seen): a network input that pushes in real time (udp, srt, rtmp, rtsp)
  // is measured at its intake, the others where their tails' queues let data out.
  bool pushed_live_ = false;
};

// Passthrough: whether the record's triggers need this stream decoded (black or freeze: video,
// silence: audio); the tails then get a content branch (a keyframe-only decode for video).
bool needs_content_decode(const WorkerSpec &spec, StreamKind kind);

// The GstCaps of the worker's raw video and audio (transcode).
GstCaps *raw_video_caps(const WorkerSpec &spec);
GstCaps *raw_audio_caps(const WorkerSpec &spec);

}  // namespace iptv::worker
