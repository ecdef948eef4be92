#include "abrladder_plan.h"

#include <algorithm>
#include <cmath>

#include "util/strutil.h"

namespace iptv {

std::vector<RungPlan> plan_rungs(const std::vector<Profile> &profiles, int src_w, int src_h,
                                 int par_n, int par_d, int fps_n, int fps_d) {
  std::vector<RungPlan> out;
  if (par_n <= 0 || par_d <= 0) par_n = par_d = 1;
  double dar = src_h > 0 ? (double)src_w * par_n / ((double)src_h * par_d) : 16.0 / 9.0;
  for (const auto &p : profiles) {
    RungPlan r;
    r.profile = p;
    if (p.passthrough) {
      r.dropped = true;
      r.drop_reason = "passthrough is not a ladder rung";
      out.push_back(r);
      continue;
    }
    if (p.max_fps > 0 && fps_n > 0 && fps_d > 0 && (double)fps_n / fps_d > p.max_fps + 0.01) {
      // Divide by the smallest integer that brings the rate under the cap (keeps cadence).
      int div = (int)std::ceil(((double)fps_n / fps_d) / p.max_fps - 1e-9);
      r.fps_n = fps_n;
      r.fps_d = fps_d * div;
    }
    if (src_h > 0 && p.height > src_h) {
      r.dropped = true;
      r.drop_reason = "rung " + p.name + " (" + std::to_string(p.height) +
                      " lines) is taller than the source (" + std::to_string(src_h) +
                      " lines); upscaling wastes bits";
      out.push_back(r);
      continue;
    }
    r.height = p.height & ~1;
    int w = (int)std::lround(r.height * dar / 2.0) * 2;
    r.width = std::max(2, w);
    out.push_back(r);
  }
  return out;
}

std::vector<int> cascade_parents(const std::vector<Profile> &profiles) {
  std::vector<int> parent(profiles.size(), -1);
  // Rung k comes before rung j when it is taller, or as tall and earlier in the list: a total
  // order, so following parents never loops.
  auto before = [&](size_t k, size_t j) {
    return profiles[k].height > profiles[j].height ||
           (profiles[k].height == profiles[j].height && k < j);
  };
  for (size_t j = 0; j < profiles.size(); ++j) {
    if (profiles[j].passthrough) continue;
    int best = -1;
    for (size_t k = 0; k < profiles.size(); ++k) {
      if (k == j || profiles[k].passthrough || !before(k, j)) continue;
      if (profiles[k].max_fps != profiles[j].max_fps) continue;  // same frame rate only
      if (best < 0 || profiles[k].height < profiles[best].height) best = (int)k;
    }
    parent[j] = best;
  }
  return parent;
}

std::vector<int> x264_threads(const std::vector<Profile> &profiles, int cores) {
  std::vector<int> out(profiles.size(), 1);
  double total = 0;
  for (const auto &p : profiles) total += (double)p.width * p.height;
  if (total <= 0 || cores <= 0) return out;
  for (size_t i = 0; i < profiles.size(); ++i) {
    double share = (double)profiles[i].width * profiles[i].height / total;
    out[i] = std::max(1, (int)std::lround(share * cores * 1.5));
  }
  return out;
}

std::optional<InputPreference> preferred_input(const std::vector<Profile> &profiles,
                                               bool aspect_fixed, int par_n, int par_d) {
  const Profile *top = nullptr;
  for (const auto &p : profiles)
    if (!p.passthrough && p.height > 0 && (!top || p.height > top->height)) top = &p;
  if (!top) return std::nullopt;
  InputPreference pref;
  pref.height = top->height & ~1;
  if (aspect_fixed) {
    if (par_n <= 0 || par_d <= 0) par_n = par_d = 1;
    // The rung's display aspect ratio (its width x height on square pixels), on the source's
    // pixels: a PAR 4:3 source gets 1440x1080 for a 1920x1080 rung.
    double dar = top->width > 0 ? (double)top->width / top->height : 16.0 / 9.0;
    pref.width = std::max(2, (int)std::lround(pref.height * dar * par_d / par_n / 2.0) * 2);
  }
  if (top->max_fps > 0) {
    pref.fps_n = top->max_fps;
    pref.fps_d = 1;
  }
  return pref;
}

std::optional<Profile> smallest_rung(const std::vector<Profile> &profiles) {
  const Profile *low = nullptr;
  for (const auto &p : profiles)
    if (!p.passthrough && (!low || p.height < low->height)) low = &p;
  if (!low) return std::nullopt;
  return *low;
}

int64_t KeyframeGrid::grid_point(int64_t t) const {
  int64_t idx = t >= 0 ? t / interval_ : -((-t + interval_ - 1) / interval_);
  return idx * interval_;
}

bool KeyframeGrid::should_force(int64_t t) {
  int64_t idx = grid_point(t) / interval_;
  if (!have_) {
    have_ = true;
    last_index_ = idx;
    // The very first frame is a keyframe anyway (stream start); the grid starts at the next point
    // unless this frame sits exactly on one.
    return t == idx * interval_;
  }
  if (idx != last_index_) {
    last_index_ = idx;
    return true;
  }
  return false;
}

std::vector<std::string> encoder_candidates(EncoderKind kind, HwFallback fallback) {
  std::vector<std::string> out;
  switch (kind) {
    case EncoderKind::kAuto:
      return {"nvh264enc", "vah264enc", "vaapih264enc", "x264enc"};
    case EncoderKind::kX264:
      return {"x264enc"};
    case EncoderKind::kVaapi:
      out = {"vah264enc", "vaapih264enc"};
      break;
    case EncoderKind::kNvenc:
      out = {"nvh264enc"};
      break;
  }
  if (fallback == HwFallback::kSoftware) out.push_back("x264enc");
  return out;
}

std::optional<std::string> choose_encoder(const std::vector<std::string> &candidates,
                                          const std::function<bool(const std::string &)> &exists,
                                          const std::function<bool(const std::string &)> &opens,
                                          std::string *why) {
  std::string reasons;
  for (const auto &c : candidates) {
    if (!exists(c)) {
      reasons += (reasons.empty() ? "" : "; ") + c + " is not in the registry";
      continue;
    }
    if (!opens(c)) {
      reasons += (reasons.empty() ? "" : "; ") + c + " failed to open";
      continue;
    }
    if (why) *why = reasons;
    return c;
  }
  if (why) *why = reasons.empty() ? "no candidate encoder" : reasons;
  return std::nullopt;
}

RateControl rate_control_for(int kbps) {
  return {kbps, kbps, (int)std::lround(kbps * 0.8)};
}

bool parse_profile_list(const std::string &list, const ProfileCatalog &catalog,
                        std::vector<Profile> &out, std::string *error) {
  out.clear();
  for (const auto &name : split(list, ',')) {
    std::string err;
    auto p = catalog.resolve(name, &err);
    if (!p) {
      if (error) *error = err;
      return false;
    }
    if (p->passthrough) {
      if (error) *error = "'passthrough' is not a ladder rung";
      return false;
    }
    out.push_back(*p);
  }
  return true;
}

}  // namespace iptv
