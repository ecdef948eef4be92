// iptvd-worker --group: several passthrough channels in one process (the daemon's
// `worker.channels_per_process`, docs/worker.md "Group mode"). Each channel is its own Worker:
// its own pipelines, buses, failover machine, timers and status writer; they share the process,
// its main loop (this thread) and the plugin registry. One channel's error, EOS or bad input
// ends that channel only: the host reports its exit and the daemon restarts it with backoff
// while the others go on. A crash of the process ends every channel of the group.
//
// Lines (both ways) carry the channel: "<channel_id>\t<JSON>".
// - stdin: {"cmd":"start","spec":FILE} starts a channel, {"cmd":"kill"} tears it down now (no
//   EOS), any other command goes to that channel's worker (stop, failover, return, rendition).
// - status fd: the channel's status lines, then "<channel_id>\texit <code>" once it is gone
//   ("killed 9" after a kill).
// SIGTERM/SIGINT stop every channel gracefully; the process exits when the last one is done.
#pragma once

#include <glib.h>

#include <map>
#include <memory>
#include <string>

#include "worker/status.h"

namespace iptv::worker {

class Worker;

class WorkerGroup {
 public:
  explicit WorkerGroup(int status_fd);
  ~WorkerGroup();
  // Runs until a signal stopped every channel; returns the process exit code.
  int run();
  // One stdin line (public for the tests of the protocol).
  void handle_line(const std::string &line);

 private:
  struct Member {
    std::unique_ptr<StatusWriter> status;
    std::unique_ptr<Worker> worker;
    bool done = false;
  };
  void start_channel(const std::string &id, const std::string &spec_path, int64_t fencing_token);
  void finished(const std::string &id, int code);
  void remove(const std::string &id, const std::string &exit_line);
  void stop_all();
  static gboolean stdin_cb(GIOChannel *ch, GIOCondition cond, gpointer self);

  StatusWriter out_;
  GMainLoop *loop_ = nullptr;
  bool stopping_ = false;
  std::map<std::string, Member> members_;
  std::vector<guint> sources_;
};

}  // namespace iptv::worker
