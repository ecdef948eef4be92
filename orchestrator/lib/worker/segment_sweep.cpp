#include "worker/segment_sweep.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

namespace iptv::worker {

int sweep_orphan_segments(const HlsEntry &h, const std::vector<std::string> &renditions) {
  namespace fs = std::filesystem;
  double window = h.dvr_seconds > 0 ? h.dvr_seconds : h.segment_seconds * std::max(1, h.window);
  double keep = window + window /* the sink's default retention */ + 2 * h.segment_seconds;
  auto now = fs::file_time_type::clock::now();
  auto old = [&](const fs::path &p) {
    std::error_code ec;
    auto t = fs::last_write_time(p, ec);
    return !ec && std::chrono::duration<double>(now - t).count() > keep;
  };
  std::error_code ec;
  if (!fs::is_directory(h.dir, ec)) return 0;
  std::set<std::string> current(renditions.begin(), renditions.end());
  if (h.segment_format == "fmp4") current.insert("audio");  // the fMP4 audio rendition
  int removed = 0;
  for (const auto &d : fs::directory_iterator(h.dir, ec)) {
    if (!d.is_directory(ec)) continue;
    std::string name = d.path().filename().string();
    bool ours = current.count(name) > 0;
    std::set<std::string> listed;
    fs::path playlist = d.path() / "index.m3u8";
    if (ours) {
      std::ifstream in(playlist);
      std::string line;
      while (std::getline(in, line))
        if (!line.empty() && line[0] != '#') listed.insert(line);
    }
    bool empty = true;
    for (const auto &f : fs::directory_iterator(d.path(), ec)) {
      std::string fn = f.path().filename().string();
      auto ends = [&](const char *x) {
        std::string_view e(x);
        return fn.size() > e.size() && fn.compare(fn.size() - e.size(), e.size(), e) == 0;
      };
      // Segments of either format (a format change leaves the other one's files behind).
      bool segment = fn.rfind("seg-", 0) == 0 && (ends(".ts") || ends(".m4s"));
      if (segment && !listed.count(fn) && old(f.path())) {
        if (fs::remove(f.path(), ec)) ++removed;
        continue;
      }
      if (!ours && fn == "index.m3u8" && old(f.path())) {
        fs::remove(f.path(), ec);
        continue;
      }
      empty = false;
    }
    if (!ours && empty) fs::remove(d.path(), ec);
  }
  return removed;
}

}  // namespace iptv::worker
