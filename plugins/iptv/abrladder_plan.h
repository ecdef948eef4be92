// The GStreamer-free decisions behind iptvabrladder: which rungs to build at which size and frame
// rate, where keyframes go, which encoder each rung uses and how its rate control is set.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "profiles/profiles.h"

namespace iptv {

struct RungPlan {
  Profile profile;
  int width = 0;  // output size, aspect ratio kept (even)
  int height = 0;
  int fps_n = 0;  // output frame rate; 0/0 = keep the source's
  int fps_d = 1;
  bool dropped = false;
  std::string drop_reason;
};

// Plans each rung for a source of src_w x src_h (pixel aspect par_n/par_d) at fps_n/fps_d.
// - The profile's height is kept and the width follows the source's display aspect ratio, so
//   the picture is never stretched (rounded to even).
// - A rung taller than the source is dropped: upscaled pictures waste bits.
// - A profile's max_fps lowers the rate to the largest divisor-friendly rate <= max_fps
//   (60 -> 30, 50 -> 25, 59.94 -> 29.97); a dropped rung gets its rate too (in a cascade it
//   still feeds the rungs scaled from it).
std::vector<RungPlan> plan_rungs(const std::vector<Profile> &profiles, int src_w, int src_h,
                                 int par_n, int par_d, int fps_n, int fps_d);

// What the ladder asks its source for (the sink pad's answer to a caps query): the top (tallest)
// rung's size and frame rate, so a source that can produce any size (videotestsrc, a videoscale
// before the ladder) feeds the top rung without upscaling.
// - width 0: leave the width open (the upstream scaler picks it from the source's aspect ratio).
// - fps_n 0: no frame-rate preference (the top rung keeps the source's rate).
struct InputPreference {
  int width = 0;
  int height = 0;
  int fps_n = 0;
  int fps_d = 1;
};
// `aspect_fixed`: the source's pixel aspect ratio is fixed (par_n/par_d), so the width follows the
// top rung's own aspect ratio (a 1:1 source gets the profile's width, e.g. 1920x1080); when it is
// not fixed (a scaler upstream), only the height is asked for and the scaler keeps the aspect.
// Returns nullopt for an empty ladder.
std::optional<InputPreference> preferred_input(const std::vector<Profile> &profiles,
                                               bool aspect_fixed, int par_n, int par_d);

// Cascade scaling: the rung each rung is scaled from (its index), or -1 to scale it from the
// input. A rung's parent is the shortest rung taller than it (or as tall and earlier in the list,
// which then needs no scaling at all) with the same frame-rate cap, the first of equal candidates,
// so every rung is scaled from the next larger picture instead of from the full-size input.
std::vector<int> cascade_parents(const std::vector<Profile> &profiles);

// x264 threads per rung on `cores` cores: each rung's share of the ladder's pixels times 1.5
// threads per core (x264's own default gives every encoder 1.5 threads per core, which
// oversubscribes the machine once per rung), at least 1. 1080p/720p/480p on 2 cores: 2, 1, 1.
std::vector<int> x264_threads(const std::vector<Profile> &profiles, int cores);

// The smallest rung (lowest height; the first of equals), for "no rung fits" errors.
std::optional<Profile> smallest_rung(const std::vector<Profile> &profiles);

// Keyframes on a fixed grid: one at the first frame whose anchor time reaches each multiple of
// the interval. Anchor time is UTC (epoch anchoring) or running time.
class KeyframeGrid {
 public:
  explicit KeyframeGrid(int64_t interval_ns) : interval_(interval_ns) {}
  // True when the frame at `t_ns` is the first at or after a new grid point.
  bool should_force(int64_t t_ns);
  void reset() { have_ = false; }
  int64_t interval() const { return interval_; }
  // The grid point at or before t.
  int64_t grid_point(int64_t t_ns) const;

 private:
  int64_t interval_;
  bool have_ = false;
  int64_t last_index_ = 0;
};

enum class EncoderKind { kAuto, kX264, kVaapi, kNvenc };
enum class HwFallback { kSoftware, kFail };

// Element factory names to try for a rung, best first.
// auto: nvh264enc, vah264enc, vaapih264enc, x264enc. A hardware choice lists its elements and
// then, under hw-fallback=software, x264enc.
std::vector<std::string> encoder_candidates(EncoderKind kind, HwFallback fallback);

// Picks the first candidate that `exists` (in the registry) and `opens` (reaches READY; NVENC
// reports a full session budget there or at the first caps). Returns nullopt, with a reason in
// `why`, when none does.
std::optional<std::string> choose_encoder(const std::vector<std::string> &candidates,
                                          const std::function<bool(const std::string &)> &exists,
                                          const std::function<bool(const std::string &)> &opens,
                                          std::string *why);

// VBV-constrained rate control fit for HLS segments: maxrate = the target and a buffer of 0.8 s
// of it, so no 2 s window can exceed 1.4x the target.
struct RateControl {
  int bitrate_kbps;
  int maxrate_kbps;
  int bufsize_kbits;
};
RateControl rate_control_for(int kbps);

// Parses a comma-separated profile list ("720p-3mbps,640x360@800") through the catalog.
// Returns false with an error naming the bad entry.
bool parse_profile_list(const std::string &list, const ProfileCatalog &catalog,
                        std::vector<Profile> &out, std::string *error);

}  // namespace iptv
