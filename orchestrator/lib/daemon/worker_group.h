// A group of passthrough channels in one iptvd-worker process (`worker.channels_per_process`;
// the worker side is worker/group.h, the protocol docs/worker.md "Group mode").
//
// Each channel keeps its own ChannelRunner (states, heartbeat watchdog, backoff); its worker is
// a GroupMember, a WorkerHandle whose lines are prefixed with the channel id on the group's
// pipes. Stopping, killing and restarting a member touch that channel only:
// - SIGTERM: the channel's graceful stop (EOS, open segments finished), then its exit line;
// - SIGKILL: the channel is torn down at once ("kill"); if the process does not answer within
//   kKillEscalateMs (hung), the whole process is killed;
// - a channel's error ends that channel only; its runner restarts it with backoff.
// The process is spawned by the first member that starts and, when it dies (crash, OOM, the
// kill above), every member sees its own exit (killed by the signal) and restarts with backoff
// into a new process. The process stays while the group exists (the manager keeps a group for
// the daemon's lifetime, reusing its free slots), even with no channel in it.
#pragma once

#include <glib.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/worker_process.h"

namespace iptv::daemon {

class GroupMember;

class WorkerGroup : public std::enable_shared_from_this<WorkerGroup> {
 public:
  static constexpr int kKillEscalateMs = 3000;

  // `argv`: iptvd-worker --group --status-fd 3. `log(level, message)` gets the group's own
  // lines: the process's output (GStreamer's log, warnings; level "worker"), which belongs to no
  // single channel, and its starts and ends.
  using Log = std::function<void(const std::string &level, const std::string &message)>;
  WorkerGroup(std::string name, std::vector<std::string> argv, WorkerLimits limits, Log log);
  ~WorkerGroup();
  WorkerGroup(const WorkerGroup &) = delete;
  WorkerGroup &operator=(const WorkerGroup &) = delete;

  // The worker of channel `id`, started from `spec_path`; in a cluster under `fencing_token`
  // (the owner key's revision, docs/cluster.md; 0 alone).
  std::unique_ptr<WorkerHandle> member(const std::string &id, const std::string &spec_path,
                                       int64_t fencing_token, WorkerCallbacks cb);
  const std::string &name() const { return name_; }
  pid_t pid() const { return proc_ && proc_->running() ? proc_->pid() : 0; }
  size_t running_members() const;

 private:
  friend class GroupMember;
  bool ensure_running(std::string *error);
  void attach(GroupMember *m);
  void detach(GroupMember *m);
  void send(const std::string &id, const std::string &json_line);
  void on_status(const std::string &line);
  void on_exit(bool exited, int code);
  void kill_process();
  static gboolean on_reap(gpointer self);

  std::string name_;
  std::vector<std::string> argv_;
  WorkerLimits limits_;
  Log log_;
  std::unique_ptr<WorkerProcess> proc_;
  std::vector<std::unique_ptr<WorkerProcess>> dead_;  // exited processes, freed from an idle
  guint reap_id_ = 0;
  std::map<std::string, GroupMember *> members_;  // attached (started, exit not yet seen)
};

}  // namespace iptv::daemon
