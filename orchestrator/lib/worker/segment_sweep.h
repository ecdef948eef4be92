// Segment files left by earlier runs of a channel's worker. GStreamer-free.
#pragma once

#include <string>
#include <vector>

#include "worker/spec.h"

namespace iptv::worker {

// iptvhlssink deletes the segments it retired itself, but only those of its own run: the ones a
// killed or restarted worker had retired (or left open) stayed on disk forever. A segment file
// that the playlist on disk does not list, and that is older than the window plus the sink's
// retention (plus two segments of slack), is an orphan: removed at start and every 10 s. So are
// the folders of renditions the channel no longer has. Files the playlist lists are never
// touched (event and VOD playlists keep everything they list).
// Returns how many segment files it removed.
int sweep_orphan_segments(const HlsEntry &hls, const std::vector<std::string> &renditions);

}  // namespace iptv::worker
