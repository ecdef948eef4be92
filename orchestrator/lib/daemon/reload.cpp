#include "daemon/reload.h"

#include <algorithm>
#include <set>

namespace iptv::daemon {

ReloadPlan next_channel_set(const std::map<std::string, ChannelRecord> &current,
                            const LoadResult &loaded) {
  ReloadPlan plan;
  plan.errors = loaded.errors;
  std::set<std::string> files(loaded.files.begin(), loaded.files.end());
  std::set<std::string> failed_files, failed_ids;
  for (const auto &e : loaded.errors) {
    if (!e.file.empty()) failed_files.insert(e.file);
    if (!e.channel_id.empty()) failed_ids.insert(e.channel_id);
  }
  for (const auto &r : loaded.channels) plan.next[r.channel_id] = r;
  // A running channel missing from the valid set keeps its last good version when its file is
  // still there but failed (or an error names it); otherwise it is gone.
  for (const auto &[id, old] : current) {
    if (plan.next.count(id)) continue;
    bool file_there = files.count(old.file) > 0;
    if ((file_there && failed_files.count(old.file)) || failed_ids.count(id)) {
      plan.next[id] = old;
      plan.kept_last_good.push_back(id);
    }
  }
  return plan;
}

void sort_channels(ReloadPlan &plan, const std::map<std::string, ChannelRecord> &current,
                   const std::function<bool(const std::string &id)> &same) {
  for (const auto &[id, rec] : plan.next) {
    auto it = current.find(id);
    if (it == current.end()) {
      plan.added.push_back(id);
    } else if (std::find(plan.kept_last_good.begin(), plan.kept_last_good.end(), id) !=
               plan.kept_last_good.end()) {
      plan.unchanged.push_back(id);
    } else if (same(id)) {
      plan.unchanged.push_back(id);
    } else {
      plan.changed.push_back(id);
    }
  }
  for (const auto &[id, old] : current)
    if (!plan.next.count(id)) plan.removed.push_back(id);
}

ReloadPlan plan_reload(const std::map<std::string, ChannelRecord> &current,
                       const LoadResult &loaded, const Fingerprint &fp_in) {
  Fingerprint fp =
      fp_in ? fp_in : [](const ChannelRecord &r, const std::map<std::string, ChannelRecord> &) {
        return r.content_sha256;
      };
  ReloadPlan plan = next_channel_set(current, loaded);
  sort_channels(plan, current, [&](const std::string &id) {
    return fp(current.at(id), current) == fp(plan.next.at(id), plan.next);
  });
  return plan;
}

}  // namespace iptv::daemon
