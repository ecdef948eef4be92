#include "daemon/worker_group.h"

#include <glib.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "wire/status.h"

namespace iptv::daemon {

class GroupMember : public WorkerHandle {
 public:
  GroupMember(std::shared_ptr<WorkerGroup> g, std::string id, std::string spec,
              int64_t fencing_token, WorkerCallbacks cb)
      : group_(std::move(g)),
        id_(std::move(id)),
        spec_(std::move(spec)),
        fencing_token_(fencing_token),
        cb_(std::move(cb)) {}
  ~GroupMember() override {
    if (escalate_id_) g_source_remove(escalate_id_);
    if (running_) group_->send(id_, R"({"cmd":"kill"})");
    group_->detach(this);
  }

  bool start(std::string *error) override {
    if (!group_->ensure_running(error)) return false;
    group_->attach(this);
    running_ = true;
    nlohmann::json cmd = {{"cmd", "start"}, {"spec", spec_}};
    // In a cluster the channel carries its fencing token like a worker of its own
    // (--fencing-token; docs/cluster.md).
    if (fencing_token_ > 0) cmd["fencing_token"] = fencing_token_;
    group_->send(id_, cmd.dump());
    return true;
  }
  void send(const std::string &json_line) override {
    if (!running_) return;
    stop_sent_ = stop_sent_ || json_line == kStop;
    group_->send(id_, json_line);
  }
  void signal(int sig) override {
    if (!running_) return;
    if (sig == SIGTERM || sig == SIGINT) {
      if (!stop_sent_) send(kStop);  // the runner sends the stop command, then SIGTERM
    } else if (sig == SIGKILL) {
      group_->send(id_, R"({"cmd":"kill"})");
      // A process that cannot tear one channel down (its loop is stuck) is killed whole.
      if (!escalate_id_)
        escalate_id_ = g_timeout_add(WorkerGroup::kKillEscalateMs, on_escalate, this);
    } else if (sig == SIGCONT) {
      if (group_->proc_) group_->proc_->signal(SIGCONT);
    }
  }
  pid_t pid() const override { return running_ ? group_->pid() : 0; }
  bool running() const override { return running_; }
  bool usage(double *cpu_seconds, uint64_t *rss_bytes) const override {
    pid_t p = pid();
    size_t n = group_->running_members();
    if (!p || !n || !read_proc_usage(p, cpu_seconds, rss_bytes)) return false;
    if (cpu_seconds) *cpu_seconds /= (double)n;
    if (rss_bytes) *rss_bytes /= n;
    return true;
  }

  // The group saw this channel's end (its exit line, or the process died).
  void exited(bool exited, int code) {
    if (!running_) return;
    running_ = false;
    if (escalate_id_) {
      g_source_remove(escalate_id_);
      escalate_id_ = 0;
    }
    group_->detach(this);
    if (cb_.on_exit) cb_.on_exit(exited, code);
  }
  void status(const std::string &line) {
    if (cb_.on_status) cb_.on_status(line);
  }
  const std::string &id() const { return id_; }

 private:
  static gboolean on_escalate(gpointer d) {
    auto *self = static_cast<GroupMember *>(d);
    self->escalate_id_ = 0;
    if (self->running_) self->group_->kill_process();
    return G_SOURCE_REMOVE;
  }

  std::shared_ptr<WorkerGroup> group_;
  std::string id_, spec_;
  int64_t fencing_token_ = 0;
  WorkerCallbacks cb_;
  bool running_ = false, stop_sent_ = false;
  guint escalate_id_ = 0;
  const std::string kStop = wire::encode_command(wire::CmdStop{});
};

WorkerGroup::WorkerGroup(std::string name, std::vector<std::string> argv, WorkerLimits limits,
                         Log log)
    : name_(std::move(name)),
      argv_(std::move(argv)),
      limits_(std::move(limits)),
      log_(std::move(log)) {}

WorkerGroup::~WorkerGroup() {
  if (reap_id_) g_source_remove(reap_id_);
}

std::unique_ptr<WorkerHandle> WorkerGroup::member(const std::string &id,
                                                  const std::string &spec_path,
                                                  int64_t fencing_token, WorkerCallbacks cb) {
  return std::make_unique<GroupMember>(shared_from_this(), id, spec_path, fencing_token,
                                       std::move(cb));
}

size_t WorkerGroup::running_members() const {
  return members_.size();
}

bool WorkerGroup::ensure_running(std::string *error) {
  if (proc_ && proc_->running()) return true;
  if (proc_) dead_.push_back(std::move(proc_));
  WorkerCallbacks cb;
  cb.on_status = [this](const std::string &l) { on_status(l); };
  cb.on_output = [this](const std::string &l) {
    if (log_) log_("worker", l);
  };
  cb.on_exit = [this](bool exited, int code) { on_exit(exited, code); };
  proc_ = std::make_unique<WorkerProcess>(argv_, limits_, std::move(cb));
  if (!proc_->start(error)) {
    proc_.reset();
    return false;
  }
  if (log_) log_("info", "group process started (pid " + std::to_string(proc_->pid()) + ")");
  return true;
}

void WorkerGroup::attach(GroupMember *m) {
  members_[m->id()] = m;
}

void WorkerGroup::detach(GroupMember *m) {
  auto it = members_.find(m->id());
  if (it != members_.end() && it->second == m) members_.erase(it);
}

void WorkerGroup::send(const std::string &id, const std::string &json_line) {
  if (proc_) proc_->send(id + "\t" + json_line);
}

void WorkerGroup::on_status(const std::string &line) {
  auto tab = line.find('\t');
  if (tab == std::string::npos) {
    if (log_) log_("warning", "group status line without a channel: " + line.substr(0, 200));
    return;
  }
  auto it = members_.find(line.substr(0, tab));
  if (it == members_.end()) return;  // a channel already gone (killed, detached)
  std::string rest = line.substr(tab + 1);
  GroupMember *m = it->second;
  if (rest.rfind("exit ", 0) == 0)
    m->exited(true, std::atoi(rest.c_str() + 5));
  else if (rest.rfind("killed ", 0) == 0)
    m->exited(false, std::atoi(rest.c_str() + 7));
  else
    m->status(rest);
}

// The process is gone: every channel in it ended with it. Their runners may restart at once
// (into a new process), so the members are told one by one, looked up again each time.
void WorkerGroup::on_exit(bool exited, int code) {
  if (log_)
    log_("warning", std::string("group process ended (") + (exited ? "exit " : "signal ") +
                        std::to_string(code) + "); " + std::to_string(members_.size()) +
                        " channels in it");
  if (proc_) dead_.push_back(std::move(proc_));
  if (!reap_id_) reap_id_ = g_idle_add(on_reap, this);
  std::vector<std::string> ids;
  for (auto &[id, m] : members_) ids.push_back(id);
  std::map<std::string, GroupMember *> old = members_;
  for (const auto &id : ids) {
    auto it = members_.find(id);
    if (it != members_.end() && it->second == old[id]) it->second->exited(exited, code);
  }
}

void WorkerGroup::kill_process() {
  if (proc_ && proc_->running()) {
    if (log_) log_("error", "a channel did not stop in time; killing the group process");
    proc_->signal(SIGKILL);
  }
}

gboolean WorkerGroup::on_reap(gpointer data) {
  auto *self = static_cast<WorkerGroup *>(data);
  self->reap_id_ = 0;
  self->dead_.clear();
  return G_SOURCE_REMOVE;
}

}  // namespace iptv::daemon
