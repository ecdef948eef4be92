#include "worker/group.h"

#include <glib-unix.h>
#include <signal.h>

#include <cstdio>
#include <exception>
#include <nlohmann/json.hpp>

#include "worker/spec.h"
#include "worker/worker.h"

namespace iptv::worker {

WorkerGroup::WorkerGroup(int status_fd) : out_(status_fd) {
  loop_ = g_main_loop_new(nullptr, FALSE);
  for (int sig : {SIGTERM, SIGINT})
    sources_.push_back(g_unix_signal_add(
        sig,
        [](gpointer d) -> gboolean {
          static_cast<WorkerGroup *>(d)->stop_all();
          return G_SOURCE_CONTINUE;
        },
        this));
  GIOChannel *in = g_io_channel_unix_new(0);
  sources_.push_back(
      g_io_add_watch(in, (GIOCondition)(G_IO_IN | G_IO_HUP | G_IO_ERR), stdin_cb, this));
  g_io_channel_unref(in);
}

WorkerGroup::~WorkerGroup() {
  for (guint id : sources_) g_source_remove(id);
  members_.clear();  // workers first: their sources live on the loop's context
  g_main_loop_unref(loop_);
}

int WorkerGroup::run() {
  g_main_loop_run(loop_);
  return 0;
}

gboolean WorkerGroup::stdin_cb(GIOChannel *ch, GIOCondition cond, gpointer data) {
  auto *self = static_cast<WorkerGroup *>(data);
  std::string l;
  switch (read_command_line(ch, cond, &l)) {
    case LineRead::kLine:
      self->handle_line(l);
      return TRUE;
    case LineRead::kAgain:
      return TRUE;
    case LineRead::kClosed:
      break;
  }
  // stdin closed: the daemon is gone; keep running (SIGTERM, or the parent-death signal, stops).
  std::erase(self->sources_, g_source_get_id(g_main_current_source()));
  return FALSE;
}

void WorkerGroup::handle_line(const std::string &line) {
  auto tab = line.find('\t');
  if (tab == std::string::npos || tab == 0) {
    out_.write(wire::Error{"group: a command line must be '<channel_id>\\t<JSON>': " +
                           line.substr(0, 200)});
    return;
  }
  std::string id = line.substr(0, tab), body = line.substr(tab + 1);
  auto j = nlohmann::json::parse(body, nullptr, false);
  std::string cmd = j.is_object() && j.contains("cmd") && j["cmd"].is_string() ? j["cmd"] : "";
  auto it = members_.find(id);
  if (cmd == "start") {
    if (!j.contains("spec") || !j["spec"].is_string()) {
      StatusWriter(out_, id).write(wire::Error{"group: start needs \"spec\": FILE"});
      out_.write_line(id + "\texit 2");
      return;
    }
    if (it != members_.end()) {
      // The daemon starts a channel again only after its exit line; say so rather than guess.
      StatusWriter(out_, id).write(wire::Ack{
          .cmd = "start", .ok = false, .detail = "channel " + id + " is running in this group"});
      return;
    }
    int64_t token = 0;
    if (j.contains("fencing_token") && j["fencing_token"].is_number_integer())
      token = j["fencing_token"].get<int64_t>();
    start_channel(id, j["spec"].get<std::string>(), token);
  } else if (it == members_.end() || it->second.done) {
    StatusWriter(out_, id).write(wire::Ack{
        .cmd = cmd.empty() ? body : cmd, .ok = false, .detail = "no channel " + id + " here"});
  } else if (cmd == "kill") {
    remove(id, "killed 9");
  } else {
    it->second.worker->handle_command(body);
  }
}

void WorkerGroup::start_channel(const std::string &id, const std::string &spec_path,
                                int64_t fencing_token) {
  Member &m = members_[id];
  m.status = std::make_unique<StatusWriter>(out_, id);
  WorkerSpec spec;
  try {
    spec = load_spec_file(spec_path);
  } catch (const std::exception &e) {
    m.status->write(wire::Error{e.what()});
    remove(id, "exit 2");
    return;
  }
  if (spec.channel_id != id) {
    m.status->write(wire::Error{"group: spec " + spec_path + " is channel '" + spec.channel_id +
                                "', not '" + id + "'"});
    remove(id, "exit 2");
    return;
  }
  // The same line as a worker of its own started with --fencing-token (docs/cluster.md).
  if (fencing_token > 0)
    std::fprintf(stderr, "iptvd-worker: channel %s publishing under fencing token %lld\n",
                 id.c_str(), (long long)fencing_token);
  m.worker = std::make_unique<Worker>(std::move(spec), *m.status,
                                      [this, id](int code) { finished(id, code); });
  if (!m.worker->start()) {
    m.done = true;
    remove(id, "exit 1");
  }
}

// Called from inside the channel's worker (a bus or timer callback): destroyed from an idle.
void WorkerGroup::finished(const std::string &id, int code) {
  auto it = members_.find(id);
  if (it == members_.end() || it->second.done) return;
  it->second.done = true;
  struct Ctx {
    WorkerGroup *g;
    std::string id;
    int code;
  };
  g_idle_add_full(
      G_PRIORITY_DEFAULT,
      [](gpointer d) -> gboolean {
        auto *c = static_cast<Ctx *>(d);
        c->g->remove(c->id, "exit " + std::to_string(c->code));
        return G_SOURCE_REMOVE;
      },
      new Ctx{this, id, code}, [](gpointer d) { delete static_cast<Ctx *>(d); });
}

void WorkerGroup::remove(const std::string &id, const std::string &exit_line) {
  auto it = members_.find(id);
  if (it == members_.end()) return;
  it->second.worker.reset();  // pipelines to NULL, its sources removed
  members_.erase(it);
  out_.write_line(id + "\t" + exit_line);
  if (stopping_ && members_.empty()) g_main_loop_quit(loop_);
}

void WorkerGroup::stop_all() {
  stopping_ = true;
  if (members_.empty()) {
    g_main_loop_quit(loop_);
    return;
  }
  for (auto &[id, m] : members_)
    if (!m.done && m.worker) m.worker->request_stop("signal");
}

}  // namespace iptv::worker
