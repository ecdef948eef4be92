// Hot reload: diff the running channel set against a fresh load of the channels folder.
// GStreamer-free and unit-tested. Follows MediaMTX's reload: only what changed is touched.
//
// - unchanged: same fingerprint (the worker spec, so a change to a backup channel's source also
//   counts) -> the worker is not touched (same pid, sequence numbers continue);
// - changed: rebuilt; added: started; removed (file gone, or channel_id no longer present in a
//   valid file): stopped and retired;
// - a file that fails validation keeps the last good version of each channel it held running,
//   and its errors are reported.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "records/channel.h"
#include "records/loader.h"

namespace iptv::daemon {

struct ReloadPlan {
  std::vector<std::string> unchanged, changed, added, removed;
  std::vector<std::string> kept_last_good;    // channels whose new file failed validation
  std::vector<LoadError> errors;              // everything the loader reported
  std::map<std::string, ChannelRecord> next;  // the channel set after the reload
};

// `fingerprint(record, set)` says whether a channel's running pipeline would differ. Its default
// is the record file's SHA-256.
using Fingerprint =
    std::function<std::string(const ChannelRecord &, const std::map<std::string, ChannelRecord> &)>;

ReloadPlan plan_reload(const std::map<std::string, ChannelRecord> &current,
                       const LoadResult &loaded, const Fingerprint &fingerprint = {});

// plan_reload's two steps, for a caller that keeps its own fingerprints (the channel manager
// builds each record's worker spec once and compares the specs, channel_manager.h):
// 1. the channel set after the reload: `next`, `kept_last_good` and `errors`;
ReloadPlan next_channel_set(const std::map<std::string, ChannelRecord> &current,
                            const LoadResult &loaded);
// 2. sorts the channels of `current` and `plan.next` into unchanged, changed, added and removed;
//    `same(id)` says whether a channel in both sets keeps its pipeline (it is not asked about a
//    channel that keeps its last good version: that one is unchanged).
void sort_channels(ReloadPlan &plan, const std::map<std::string, ChannelRecord> &current,
                   const std::function<bool(const std::string &id)> &same);

}  // namespace iptv::daemon
