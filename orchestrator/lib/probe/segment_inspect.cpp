#include "probe/segment_inspect.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

namespace iptv::probe {

namespace {

// A temporary file holding the segment, removed when the object dies.
class TempSegment {
 public:
  explicit TempSegment(const std::string &bytes) {
    GError *err = nullptr;
    char *name = nullptr;
    int fd = g_file_open_tmp("iptvctl-probe-XXXXXX.ts", &name, &err);
    if (fd < 0) {
      error_ = err ? err->message : "cannot create a temporary file";
      g_clear_error(&err);
      return;
    }
    path_ = name;
    g_free(name);
    size_t off = 0;
    while (off < bytes.size()) {
      ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
      if (n <= 0) {
        error_ = "cannot write a temporary file";
        break;
      }
      off += static_cast<size_t>(n);
    }
    close(fd);
  }
  ~TempSegment() {
    if (!path_.empty()) g_unlink(path_.c_str());
  }
  const std::string &path() const { return path_; }
  const std::string &error() const { return error_; }

 private:
  std::string path_, error_;
};

bool run(const std::vector<std::string> &args, std::string &out, std::string &err_text,
         std::string &error) {
  std::vector<char *> argv;
  for (const auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  char *sout = nullptr, *serr = nullptr;
  int status = 0;
  GError *err = nullptr;
  bool ok = g_spawn_sync(nullptr, argv.data(), nullptr, G_SPAWN_SEARCH_PATH, nullptr, nullptr,
                         &sout, &serr, &status, &err);
  if (!ok) {
    error = args[0] + ": " + (err ? err->message : "cannot run");
    g_clear_error(&err);
    return false;
  }
  out = sout ? sout : "";
  err_text = serr ? serr : "";
  g_free(sout);
  g_free(serr);
  if (!g_spawn_check_wait_status(status, nullptr)) {
    std::string first = err_text.substr(0, err_text.find('\n'));
    error = args[0] + " failed" + (first.empty() ? "" : ": " + first);
    return false;
  }
  return true;
}

double num(const nlohmann::json &j, const char *key, double fallback) {
  auto it = j.find(key);
  if (it == j.end()) return fallback;
  if (it->is_number()) return it->get<double>();
  if (it->is_string()) {
    const std::string &s = it->get_ref<const std::string &>();
    char *end = nullptr;
    double v = std::strtod(s.c_str(), &end);
    if (end != s.c_str()) return v;
  }
  return fallback;
}

}  // namespace

int h264_profile_idc(const std::string &name) {
  static const std::pair<const char *, int> kProfiles[] = {
      {"Baseline", 66},
      {"Constrained Baseline", 66},
      {"Main", 77},
      {"Extended", 88},
      {"High", 100},
      {"High 10", 110},
      {"High 10 Intra", 110},
      {"High 4:2:2", 122},
      {"High 4:2:2 Intra", 122},
      {"High 4:4:4 Predictive", 244},
      {"High 4:4:4 Intra", 244},
      {"CAVLC 4:4:4", 44},
      {"Progressive High", 100},
      {"Constrained High", 100},
  };
  for (const auto &[n, idc] : kProfiles) {
    if (name == n) return idc;
  }
  return 0;
}

bool parse_ffprobe_json(const std::string &text, hlsparse::SegmentProbe &out, std::string &error) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    error = "ffprobe output is not JSON";
    return false;
  }
  int video_index = -1, audio_index = -1;
  if (auto s = j.find("streams"); s != j.end() && s->is_array()) {
    for (const auto &st : *s) {
      if (!st.is_object()) continue;
      std::string type = st.value("codec_type", "");
      int index = st.value("index", -1);
      if (type == "video" && video_index < 0) {
        video_index = index;
        out.has_video = true;
        out.video_codec = st.value("codec_name", "");
        if (out.video_codec == "h264") {
          out.video_profile_idc = h264_profile_idc(st.value("profile", ""));
          int level = st.value("level", 0);
          out.video_level_idc = level > 0 ? level : 0;
        }
      } else if (type == "audio" && audio_index < 0) {
        audio_index = index;
        out.has_audio = true;
        out.audio_codec = st.value("codec_name", "");
        out.audio_profile = st.value("profile", "");
      }
    }
  }
  int main_index = video_index >= 0 ? video_index : audio_index;
  double first = std::numeric_limits<double>::infinity();
  double end = -std::numeric_limits<double>::infinity();
  bool first_packet = true;
  if (auto p = j.find("packets"); p != j.end() && p->is_array()) {
    for (const auto &pk : *p) {
      if (!pk.is_object() || pk.value("stream_index", -2) != main_index) continue;
      double pts = num(pk, "pts_time", std::nan(""));
      if (std::isnan(pts)) continue;
      double dur = num(pk, "duration_time", 0);
      if (first_packet && main_index == video_index) {
        out.first_video_keyframe = pk.value("flags", "").find('K') != std::string::npos;
      }
      first_packet = false;
      first = std::min(first, pts);
      end = std::max(end, pts + dur);
    }
  }
  if (std::isfinite(first)) {
    out.first_pts = first;
    out.duration = end - first;
  }
  out.inspected = true;
  return true;
}

bool parse_volumedetect(const std::string &log, double &max_db) {
  auto pos = log.find("max_volume:");
  if (pos == std::string::npos) return false;
  std::string v = log.substr(pos + 11, 16);
  while (!v.empty() && v.front() == ' ') v.erase(v.begin());
  if (v.rfind("-inf", 0) == 0) {
    max_db = -1000;
    return true;
  }
  char *endp = nullptr;
  max_db = std::strtod(v.c_str(), &endp);
  return endp != v.c_str();
}

void inspect_segment(const std::string &bytes, bool audio_level, hlsparse::SegmentProbe &out) {
  TempSegment tmp(bytes);
  if (!tmp.error().empty()) {
    out.error = tmp.error();
    return;
  }
  std::string sout, serr, error;
  if (!run({"ffprobe", "-v", "error", "-show_streams", "-show_packets", "-show_entries",
            "packet=stream_index,pts_time,duration_time,flags:stream=index,codec_type,codec_name,"
            "profile,level",
            "-of", "json", tmp.path()},
           sout, serr, error) ||
      !parse_ffprobe_json(sout, out, error)) {
    out.error = error;
    out.inspected = false;
    return;
  }
  if (out.has_audio && audio_level) {
    if (!run({"ffmpeg", "-hide_banner", "-nostats", "-v", "info", "-i", tmp.path(), "-map", "0:a:0",
              "-af", "volumedetect", "-f", "null", "-"},
             sout, serr, error)) {
      out.error = error;
      return;
    }
    double db = 0;
    if (parse_volumedetect(serr, db)) out.audio_max_db = db;
  }
}

double decode_first_frame_ms(const std::string &bytes, std::string &error) {
  TempSegment tmp(bytes);
  if (!tmp.error().empty()) {
    error = tmp.error();
    return -1;
  }
  int64_t t0 = g_get_monotonic_time();
  std::string sout, serr;
  // The first decoded frame of the first video stream (audio when there is none).
  if (!run({"ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
            "-show_entries", "frame=key_frame,pts_time", "-show_frames", "-of", "json", tmp.path()},
           sout, serr, error)) {
    return -1;
  }
  nlohmann::json j = nlohmann::json::parse(sout, nullptr, false);
  double ms = (g_get_monotonic_time() - t0) / 1000.0;
  if (j.is_object() && j.contains("frames") && j["frames"].is_array() && !j["frames"].empty())
    return ms;
  if (!run({"ffprobe", "-v", "error", "-select_streams", "a:0", "-read_intervals", "%+#1",
            "-show_frames", "-of", "json", tmp.path()},
           sout, serr, error)) {
    return -1;
  }
  j = nlohmann::json::parse(sout, nullptr, false);
  ms = (g_get_monotonic_time() - t0) / 1000.0;
  if (j.is_object() && j.contains("frames") && j["frames"].is_array() && !j["frames"].empty())
    return ms;
  error = "no frame decodes";
  return -1;
}

}  // namespace iptv::probe
