#include "daemon/worker_process.h"

#include <fcntl.h>
#include <sched.h>
#include <gio/gio.h>
#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace iptv::daemon {

struct WorkerProcess::Shared {
  int refs = 1;
  bool detached = false;
  Callbacks cb;
  GCancellable *cancel = g_cancellable_new();
  GDataInputStream *status = nullptr;
  GDataInputStream *output = nullptr;
  void ref() { ++refs; }
  void unref() {
    if (--refs == 0) {
      g_clear_object(&status);
      g_clear_object(&output);
      g_object_unref(cancel);
      delete this;
    }
  }
};

namespace {

struct ReadCtx {
  WorkerProcess::Shared *shared;
  bool is_status;
};

struct ChildSetup {
  WorkerLimits limits;
  int status_fd = -1;
};

void child_setup(gpointer data) {
  auto *cs = static_cast<ChildSetup *>(data);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  // Its own process group: a terminal's Ctrl-C (or `timeout`) reaches iptvd only, which then
  // stops its workers in order.
  setpgid(0, 0);
  if (cs->limits.memory_mb) {
    rlim_t b = (rlim_t)cs->limits.memory_mb * 1024 * 1024;
    struct rlimit rl = {b, b};
    setrlimit(RLIMIT_DATA, &rl);
  }
  if (cs->limits.cpu_seconds) {
    struct rlimit rl = {(rlim_t)cs->limits.cpu_seconds, (rlim_t)cs->limits.cpu_seconds + 5};
    setrlimit(RLIMIT_CPU, &rl);
  }
  // Below the daemon: relative to iptvd's own nice (a unit's Nice= carries over), inherited by
  // every thread the worker starts. Lowering needs no privilege; failure leaves it as it was.
  if (cs->limits.nice > 0) {
    errno = 0;
    (void)!nice(cs->limits.nice);
  }
  if (cs->limits.sched_batch) {
    struct sched_param sp {};
    sched_setscheduler(0, SCHED_BATCH, &sp);
  }
}

}  // namespace

// Defined outside the anonymous namespace so it can name the private nested type.
static void read_next(WorkerProcess::Shared *s, bool is_status);

static void on_line(GObject *src, GAsyncResult *res, gpointer data) {
  auto *ctx = static_cast<ReadCtx *>(data);
  WorkerProcess::Shared *s = ctx->shared;
  bool is_status = ctx->is_status;
  delete ctx;
  gsize len = 0;
  GError *err = nullptr;
  char *line = g_data_input_stream_read_line_finish_utf8(G_DATA_INPUT_STREAM(src), res, &len, &err);
  if (err) {
    g_error_free(err);
    s->unref();
    return;
  }
  if (!line) {  // EOF
    s->unref();
    return;
  }
  if (!s->detached) {
    std::string l(line, len);
    if (is_status) {
      if (s->cb.on_status) s->cb.on_status(l);
    } else if (s->cb.on_output) {
      s->cb.on_output(l);
    }
  }
  g_free(line);
  if (s->detached) {
    s->unref();
    return;
  }
  read_next(s, is_status);
  s->unref();
}

static void read_next(WorkerProcess::Shared *s, bool is_status) {
  s->ref();
  g_data_input_stream_read_line_async(is_status ? s->status : s->output, G_PRIORITY_DEFAULT,
                                      s->cancel, on_line, new ReadCtx{s, is_status});
}

struct WaitCtx {
  WorkerProcess::Shared *shared;
  bool *running;  // valid while !shared->detached
};

static void on_wait(GObject *src, GAsyncResult *res, gpointer data) {
  auto *ctx = static_cast<WaitCtx *>(data);
  WorkerProcess::Shared *s = ctx->shared;
  GError *err = nullptr;
  g_subprocess_wait_finish(G_SUBPROCESS(src), res, &err);
  if (err) g_error_free(err);
  if (!s->detached) {
    *ctx->running = false;
    GSubprocess *p = G_SUBPROCESS(src);
    bool exited = g_subprocess_get_if_exited(p);
    int code = exited ? g_subprocess_get_exit_status(p) : g_subprocess_get_term_sig(p);
    if (s->cb.on_exit) s->cb.on_exit(exited, code);
  }
  delete ctx;
  s->unref();
}

WorkerProcess::WorkerProcess(std::vector<std::string> argv, WorkerLimits limits, Callbacks cb)
    : argv_(std::move(argv)), limits_(std::move(limits)) {
  shared_ = new Shared;
  shared_->cb = std::move(cb);
}

WorkerProcess::~WorkerProcess() {
  shared_->detached = true;
  if (running_ && proc_) g_subprocess_force_exit(proc_);
  g_cancellable_cancel(shared_->cancel);
  g_clear_object(&stdin_);
  g_clear_object(&proc_);
  shared_->unref();
}

bool WorkerProcess::start(std::string *error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    if (error) *error = std::string("pipe: ") + strerror(errno);
    return false;
  }
  GSubprocessLauncher *l = g_subprocess_launcher_new(
      (GSubprocessFlags)(G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                         G_SUBPROCESS_FLAGS_STDERR_MERGE));
  g_subprocess_launcher_take_fd(l, fds[1], 3);  // the child's status fd
  auto *cs = new ChildSetup{limits_, 3};
  g_subprocess_launcher_set_child_setup(l, child_setup, cs,
                                        [](gpointer d) { delete static_cast<ChildSetup *>(d); });
  std::vector<const char *> argv;
  for (auto &a : argv_) argv.push_back(a.c_str());
  argv.push_back(nullptr);
  GError *err = nullptr;
  proc_ = g_subprocess_launcher_spawnv(l, argv.data(), &err);
  g_object_unref(l);
  if (!proc_) {
    close(fds[0]);
    if (error) *error = err ? err->message : "spawn failed";
    if (err) g_error_free(err);
    return false;
  }
  running_ = true;
  const char *id = g_subprocess_get_identifier(proc_);
  pid_ = id ? (pid_t)atoi(id) : 0;
  stdin_ = G_OUTPUT_STREAM(g_object_ref(g_subprocess_get_stdin_pipe(proc_)));
  shared_->status = g_data_input_stream_new(g_unix_input_stream_new(fds[0], TRUE));
  g_object_unref(g_filter_input_stream_get_base_stream(G_FILTER_INPUT_STREAM(shared_->status)));
  shared_->output = g_data_input_stream_new(g_subprocess_get_stdout_pipe(proc_));
  read_next(shared_, true);
  read_next(shared_, false);
  if (!limits_.cgroup_dir.empty()) {
    // Best effort: a group per worker with cpu.max / memory.max, when the cgroup is writable.
    std::string dir = limits_.cgroup_dir + "/worker-" + std::to_string(pid_);
    if (g_mkdir_with_parents(dir.c_str(), 0755) == 0) {
      if (limits_.cpu_quota_cores > 0)
        std::ofstream(dir + "/cpu.max") << (long)(limits_.cpu_quota_cores * 100000) << " 100000";
      if (limits_.memory_mb) std::ofstream(dir + "/memory.max") << limits_.memory_mb * 1024 * 1024;
      std::ofstream(dir + "/cgroup.procs") << pid_;
    }
  }
  shared_->ref();
  g_subprocess_wait_async(proc_, nullptr, on_wait, new WaitCtx{shared_, &running_});
  return true;
}

void WorkerProcess::send(const std::string &json_line) {
  if (!running_ || !stdin_) return;
  std::string l = json_line + "\n";
  gsize written = 0;
  g_output_stream_write_all(stdin_, l.data(), l.size(), &written, nullptr, nullptr);
}

void WorkerProcess::signal(int sig) {
  if (running_ && proc_) g_subprocess_send_signal(proc_, sig);
}

bool read_proc_usage(pid_t pid, double *cpu_seconds, uint64_t *rss_bytes) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(s.substr(close + 2));
  std::vector<std::string> v;
  std::string tok;
  while (in >> tok) v.push_back(tok);
  // After the comm field: state(0) ... utime(11) stime(12) ... rss(21) in pages.
  if (v.size() < 22) return false;
  double hz = (double)sysconf(_SC_CLK_TCK);
  if (cpu_seconds) *cpu_seconds = (std::stod(v[11]) + std::stod(v[12])) / hz;
  if (rss_bytes) *rss_bytes = std::stoull(v[21]) * (uint64_t)sysconf(_SC_PAGESIZE);
  return true;
}

}  // namespace iptv::daemon
