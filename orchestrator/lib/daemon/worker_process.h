// One iptvd-worker child process: spawn, status lines on fd 3, commands on stdin, its own
// output (GStreamer's log, warnings) on a pipe, exit notification. All callbacks run on the
// GMainContext that was thread-default when start() was called (the daemon's main loop).
//
// The child gets PR_SET_PDEATHSIG=SIGTERM, so if iptvd dies (even by SIGKILL) its workers finish
// their open segments and exit instead of lingering as orphans that would race a new iptvd.
// Memory is limited with RLIMIT_DATA (heap and private mappings), CPU time with RLIMIT_CPU
// (soft limit: SIGXCPU), and, when a writable cgroup v2 is given, with cpu.max/memory.max.
// It runs `nice` levels below iptvd, and with SCHED_BATCH when asked (WorkerLimits).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

typedef struct _GSubprocess GSubprocess;
typedef struct _GCancellable GCancellable;
typedef struct _GDataInputStream GDataInputStream;
typedef struct _GOutputStream GOutputStream;

namespace iptv::daemon {

struct WorkerLimits {
  uint64_t memory_mb = 0;      // 0: unlimited
  uint64_t cpu_seconds = 0;    // RLIMIT_CPU; 0: unlimited
  std::string cgroup_dir;      // a cgroup v2 directory to create the worker's group in, or ""
  double cpu_quota_cores = 0;  // cgroup cpu.max (cores); 0: none
  // CPU priority below the daemon's (worker.nice, worker.sched_batch): nice levels added to the
  // daemon's own, and optionally SCHED_BATCH (a waking worker does not preempt). So the
  // daemon's API, heartbeat and origin threads get a core first when every channel cuts its
  // segment at the same instant (docs/worker.md "CPU priority").
  int nice = 0;
  bool sched_batch = false;
};

struct WorkerCallbacks {
  std::function<void(const std::string &)> on_status;  // one status line
  std::function<void(const std::string &)> on_output;  // one line of the worker's stderr
  // Exit: `exited` true with the exit code, or false with the signal number.
  std::function<void(bool exited, int code_or_signal)> on_exit;
};

// One channel's worker as its runner (channel_runner.h) drives it: a process of its own
// (WorkerProcess) or a channel in a group process (worker_group.h).
class WorkerHandle {
 public:
  virtual ~WorkerHandle() = default;  // a running worker is killed
  virtual bool start(std::string *error) = 0;
  // One command line (JSON) to the worker.
  virtual void send(const std::string &json_line) = 0;
  // SIGTERM (graceful stop), SIGKILL (now), SIGCONT; a group member maps them to its channel.
  virtual void signal(int sig) = 0;
  virtual pid_t pid() const = 0;
  virtual bool running() const = 0;
  // CPU seconds and resident memory of this channel's worker (a group member: its even share of
  // the group process); false when unknown.
  virtual bool usage(double *cpu_seconds, uint64_t *rss_bytes) const = 0;
};

class WorkerProcess : public WorkerHandle {
 public:
  using Callbacks = WorkerCallbacks;

  WorkerProcess(std::vector<std::string> argv, WorkerLimits limits, Callbacks cb);
  ~WorkerProcess() override;  // kills a running child (SIGKILL) and detaches the callbacks
  WorkerProcess(const WorkerProcess &) = delete;
  WorkerProcess &operator=(const WorkerProcess &) = delete;

  bool start(std::string *error) override;
  // Writes one command line to the worker's stdin (non-blocking; dropped if the pipe is full).
  void send(const std::string &json_line) override;
  void signal(int sig) override;
  pid_t pid() const override { return pid_; }
  bool running() const override { return running_; }
  bool usage(double *cpu_seconds, uint64_t *rss_bytes) const override;

  struct Shared;  // outlives this object while async reads are pending (internal)

 private:
  std::vector<std::string> argv_;
  WorkerLimits limits_;
  Shared *shared_ = nullptr;
  GSubprocess *proc_ = nullptr;
  GOutputStream *stdin_ = nullptr;
  pid_t pid_ = 0;
  bool running_ = false;
};

// CPU seconds (user+system) and resident memory of a process, from /proc; false if gone.
bool read_proc_usage(pid_t pid, double *cpu_seconds, uint64_t *rss_bytes);

inline bool WorkerProcess::usage(double *cpu_seconds, uint64_t *rss_bytes) const {
  return running_ && read_proc_usage(pid_, cpu_seconds, rss_bytes);
}

}  // namespace iptv::daemon
