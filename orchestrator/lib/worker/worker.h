// iptvd-worker's channel: the output pipeline (built by pipeline_builder.h: encoders +
// iptvhlssink, or the passthrough remux), its inputs (source.h: one pipeline each: primary,
// backup, slate), the failover machine (failover.h), edge outputs (edge.h), status lines and
// stdin commands (wire/status.h). Runs on the default GMainContext; see docs/worker.md for the
// graphs and the failover design. The class is split over three files:
// - worker.cpp: lifecycle (start, run, stop), the output's taps and bus, the inputs' bus
//   messages, the tick (failover, probes, health, stats), heartbeats, commands;
// - timeline.cpp: samples from the inputs onto the output's running time (offsets, gap fill,
//   keyframe-aligned switches of what is on air);
// - pipeline_builder.cpp (free functions): the output pipeline itself.
#pragma once

#include <gst/gst.h>

#include <array>
#include <functional>
#include <atomic>
#include <map>
#include <set>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "worker/failover.h"
#include "worker/pipeline_builder.h"
#include "worker/source.h"
#include "worker/spec.h"
#include "worker/status.h"

namespace iptv::worker {

// One line from the daemon's command channel (the worker's or a group's stdin): kLine with the
// line (without its end; never empty), kAgain when nothing whole is there yet, kClosed at end of
// file or on an error.
enum class LineRead { kLine, kAgain, kClosed };
LineRead read_command_line(GIOChannel *ch, GIOCondition cond, std::string *line);

class EdgeOutput;

class Worker {
 public:
  // Standalone (`on_finish` empty): the worker is the process; it owns a main loop, SIGTERM and
  // SIGINT stop it, commands come on stdin. Hosted (a group of channels in one process,
  // group.h): the host runs the loop, reads stdin and handles signals; when the channel is done
  // `on_finish(exit code)` is called, from a callback of this worker (the host destroys it
  // later, never inside that call).
  Worker(WorkerSpec spec, StatusWriter &status, std::function<void(int)> on_finish = {});
  ~Worker();

  // Builds and starts everything. On failure writes an error line and returns false.
  bool start();
  // Runs the main loop until stopped; returns the process exit code (standalone only).
  int run();
  // Graceful stop: EOS through the output, open segments finished, then the loop quits.
  void request_stop(const std::string &why);
  // One command line (docs/worker.md), answered with an ack status line.
  void handle_command(const std::string &line);

 private:
  static constexpr int kFeeds = 3;  // primary, backup, slate
  static constexpr int kSlate = 2;

  bool build_output(std::string &error);  // pipeline_builder.h, then the taps and the bus
  void start_feed(int feed);
  void report_source_error(int feed, const std::string &reason);
  void on_sample(int feed, StreamKind kind, GstSample *sample);
  void push_raw(int feed, StreamKind kind, GstSample *sample);
  void push_encoded(int feed, StreamKind kind, GstSample *sample);
  void push_edges(GstPad *pad, bool video, GstBuffer *buf);
  void push_keeping_caps(GstElement *src, GstCaps *&current, GstBuffer *b, GstCaps *caps);
  void fill_gaps();  // transcode: keep the output timeline continuous
  void on_source_message(int feed, GstMessage *msg);
  void on_output_message(GstMessage *msg);
  void thumbnail_failed(const std::string &reason);
  void on_tick();
  void heartbeat();
  void sweep_segments();
  void apply_on_air(OnAir to);
  // A one-shot main-loop callback owned by this worker: removed by the destructor if it has
  // not run (a hosted worker is destroyed while its process goes on).
  void add_oneshot(guint ms, std::function<void()> fn);
  void emit_state();
  GstClockTime output_now() const;
  std::string utc_iso(GstClockTime running) const;
  void finish(int code);

  static gboolean stdin_cb(GIOChannel *ch, GIOCondition cond, gpointer self);

  WorkerSpec spec_;
  StatusWriter &status_;
  std::function<void(int)> on_finish_;  // hosted; empty: standalone
  GMainLoop *loop_ = nullptr;
  std::set<guint> oneshots_;  // add_oneshot's pending sources
  int exit_code_ = 0;
  bool stopping_ = false;
  bool passthrough_ = false;
  std::vector<guint> sources_;  // GSource ids on the main context

  GstElement *output_ = nullptr;
  GstElement *vsrc_ = nullptr, *asrc_ = nullptr;  // appsrc
  GstElement *hlssink_ = nullptr, *ladder_ = nullptr;
  std::vector<std::string> renditions_;
  std::string thumbnail_error_;  // why the thumbnail branch was left out ("" added)
  bool thumbnail_reported_ = false;

  std::array<std::unique_ptr<SourcePipeline>, kFeeds> feeds_;
  std::array<gint64, kFeeds> retry_at_{};                // monotonic ms; 0: no restart pending
  std::array<std::atomic<gint64>, kFeeds> last_data_{};  // monotonic ms of the last sample
  std::array<gint64, kFeeds> seen_data_{};
  std::array<uint64_t, kFeeds> input_gaps_{};  // gap raises per feed (stats: inputs.*.gaps)
  std::array<bool, kFeeds> failing_{};         // this attempt already failed (teardown pending)
  std::array<std::pair<std::string, gint64>, kFeeds> last_error_{};  // reason, when reported
  std::unique_ptr<FailoverMachine> machine_;
  std::string last_state_;
  std::string write_failing_;  // the probe raised for the live window's writes ("" none)
  void on_output_warning(GstMessage *msg);
  void output_written();
  // Active timestamp conditions by "<input>/<stream>".
  struct TimestampCondition {
    gint64 last_ms = 0;  // the last timestamp event (monotonic)
    int feed = 0;
    int more = 0;                // events after the one that raised it
    std::set<std::string> held;  // probe states (missing, drift) active now
  };
  std::map<std::string, TimestampCondition> ts_active_;
  std::array<int, 2> reported_health_{-1, -1};  // last "source" line: -1 none, 0 down, 1 up

  // Output timeline (lock_): what is on air and where each feed's time maps to.
  std::mutex lock_;
  std::atomic<int> on_air_{0};
  int pending_on_air_ = -1;  // a return waiting for the next keyframe boundary (transcode)
  std::array<GstClockTimeDiff, kFeeds> offset_{};
  std::array<bool, kFeeds> have_offset_{};
  std::array<GstClockTimeDiff, kFeeds> aoffset_{};  // transcode: audio is anchored on its own
  std::array<bool, kFeeds> have_aoffset_{};
  std::array<bool, kFeeds> need_key_{};  // passthrough: wait for a keyframe of this feed
  bool first_feed_ = true;               // passthrough: no discontinuity for the very first one
  GstClockTime last_vpts_ = GST_CLOCK_TIME_NONE, last_aend_ = GST_CLOCK_TIME_NONE;
  GstClockTime last_real_frame_at_ = GST_CLOCK_TIME_NONE;
  GstBuffer *last_frame_ = nullptr;
  GstBuffer *black_frame_ = nullptr;
  GstCaps *vcaps_ = nullptr, *acaps_ = nullptr;

  // Sink side.
  std::atomic<gint64> last_media_ms_{0};
  struct RenditionStats {
    std::atomic<guint64> frames{0};
    guint64 frames_at_last = 0;
    double last_bps = 0;
  };
  std::map<std::string, std::unique_ptr<RenditionStats>> rstats_;
  // Low latency: when (UTC ms) each rendition's newest part was published (heartbeat field).
  std::map<std::string, int64_t> part_at_ms_;
  std::set<std::string> disabled_;  // renditions taken off the air by the operator
  gint64 last_stats_ms_ = 0;
  // A segment the sink wrote, reported once the playlist that lists it is written.
  struct PendingSegment {
    wire::Segment seg;  // media_sequence, discontinuity_sequence, pdt: filled when reported
    GstClockTime pts = 0;
  };
  std::vector<PendingSegment> pending_segments_;
  std::vector<std::unique_ptr<EdgeOutput>> edges_;
  bool edges_started_ = false;
  gint64 stop_deadline_ms_ = 0;
};

}  // namespace iptv::worker
