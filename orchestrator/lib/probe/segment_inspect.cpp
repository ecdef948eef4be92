#include "probe/segment_inspect.h"

#include <glib.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <vector>

#include "hls/playlist.h"

namespace iptv::probe {

namespace {

// A temporary file, removed when the object dies.
class TempFile {
 public:
  explicit TempFile(const std::string &bytes, const char *tmpl = "iptvctl-probe-XXXXXX.ts") {
    GError *err = nullptr;
    char *name = nullptr;
    int fd = g_file_open_tmp(tmpl, &name, &err);
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
  ~TempFile() {
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
    // The last non-empty log line says why.
    std::string last;
    std::istringstream in(err_text);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) last = line;
    }
    error = args[0] + " failed" + (last.empty() ? "" : ": " + last);
    return false;
  }
  return true;
}

std::vector<std::string> ffmpeg_args(const std::string &in, const std::string &h264_out, bool video,
                                     bool audio) {
  std::vector<std::string> a = {
      "ffmpeg", "-hide_banner", "-nostats", "-nostdin", "-copyts",  "-i", in, "-map",
      "0",      "-c",           "copy",     "-f",       "framecrc", "-"};
  if (video) {
    for (const char *s : {"-map", "0:v:0", "-c:v", "copy", "-frames:v", "1", "-f", "h264", "-y"})
      a.push_back(s);
    a.push_back(h264_out);
  }
  if (audio) {
    for (const char *s : {"-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"})
      a.push_back(s);
  }
  return a;
}

}  // namespace

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

bool parse_inspection(const std::string &framecrc, const std::string &log,
                      hlsparse::SegmentProbe &out) {
  struct Stream {
    std::string type, codec;
    double tb = 1.0 / 90000;
    double first = std::numeric_limits<double>::infinity();
    double end = -std::numeric_limits<double>::infinity();
    bool first_key = false;
    bool any = false;
  };
  std::map<int, Stream> streams;
  std::istringstream in(framecrc);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      // "#media_type 0: video", "#codec_id 0: h264", "#tb 0: 1/90000"
      size_t sp = line.find(' '), colon = line.find(':');
      if (sp == std::string::npos || colon == std::string::npos || colon < sp) continue;
      std::string key = line.substr(1, sp - 1);
      int index = std::atoi(line.c_str() + sp + 1);
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(value.begin());
      if (key == "media_type") {
        streams[index].type = value;
      } else if (key == "codec_id") {
        streams[index].codec = value;
      } else if (key == "tb") {
        long num = 0, den = 0;
        if (std::sscanf(value.c_str(), "%ld/%ld", &num, &den) == 2 && num > 0 && den > 0)
          streams[index].tb = static_cast<double>(num) / den;
      }
      continue;
    }
    // "0,     307920,     307920,     3600,     5544, 0xbb259b4c[, F=0x0][, S=1, ...]"
    long long idx = 0, dts = 0, pts = 0, dur = 0;
    if (std::sscanf(line.c_str(), "%lld, %lld, %lld, %lld", &idx, &dts, &pts, &dur) != 4) continue;
    auto it = streams.find(static_cast<int>(idx));
    if (it == streams.end()) continue;
    Stream &s = it->second;
    // framecrc prints F=0x.. only when the flags are not exactly "key".
    bool key = line.find("F=0x") == std::string::npos;
    if (!key) {
      unsigned flags = 0;
      if (std::sscanf(line.c_str() + line.find("F=0x") + 4, "%x", &flags) == 1) key = flags & 1;
    }
    if (!s.any) s.first_key = key;
    s.any = true;
    s.first = std::min(s.first, pts * s.tb);
    s.end = std::max(s.end, (pts + dur) * s.tb);
  }
  const Stream *video = nullptr, *audio = nullptr;
  for (const auto &[i, s] : streams) {
    if (s.type == "video" && !video) video = &s;
    if (s.type == "audio" && !audio) audio = &s;
  }
  if (!video && !audio) return false;
  // The input's stream lines: "Stream #0:0[0x100]: Video: h264 (High) ([27]...", first match.
  static const std::regex kStream(R"(Stream #0:\d+[^:]*: (Video|Audio): (\w+)(?: \(([^)\[]*)\))?)");
  std::string vprofile, aprofile;
  bool vseen = false, aseen = false;
  for (std::sregex_iterator m(log.begin(), log.end(), kStream), e; m != e; ++m) {
    if ((*m)[1] == "Video" && !vseen) {
      vseen = true;
      vprofile = (*m)[3];
    } else if ((*m)[1] == "Audio" && !aseen) {
      aseen = true;
      aprofile = (*m)[3];
    }
  }
  if (video) {
    out.has_video = true;
    out.video_codec = video->codec;
    out.first_video_keyframe = video->first_key;
  }
  if (audio) {
    out.has_audio = true;
    out.audio_codec = audio->codec;
    out.audio_profile = aprofile;
  }
  const Stream *main = video && video->any ? video : audio;
  if (main && main->any) {
    out.first_pts = main->first;
    out.duration = main->end - main->first;
  }
  double db = 0;
  if (audio && parse_volumedetect(log, db)) out.audio_max_db = db;
  out.inspected = true;
  return true;
}

void inspect_segment(const std::string &bytes, hlsparse::SegmentProbe &out) {
  out.ts = hlsparse::scan_ts_counters(bytes);
  TempFile tmp(bytes);
  TempFile h264("", "iptvctl-probe-XXXXXX.h264");
  if (!tmp.error().empty() || !h264.error().empty()) {
    out.error = tmp.error().empty() ? h264.error() : tmp.error();
    return;
  }
  std::string sout, serr, error;
  bool ok = run(ffmpeg_args(tmp.path(), h264.path(), true, true), sout, serr, error);
  if (!ok) {
    // A segment without video or without audio: list its streams, then do what applies.
    std::string lout, lerr;
    if (!run(ffmpeg_args(tmp.path(), h264.path(), false, false), lout, lerr, error)) {
      out.error = error;
      return;
    }
    // The h264 output only takes H.264; other video codecs are inspected without it.
    bool video = lout.find(": video") != std::string::npos &&
                 lout.find("#codec_id 0: h264") != std::string::npos;
    bool audio = lout.find(": audio") != std::string::npos;
    ok = run(ffmpeg_args(tmp.path(), h264.path(), video, audio), sout, serr, error);
    if (!ok) {
      out.error = error;
      return;
    }
  }
  if (!parse_inspection(sout, serr, out)) {
    out.error = "ffmpeg found no audio or video stream";
    return;
  }
  if (out.has_video && out.video_codec == "h264") {
    gchar *data = nullptr;
    gsize n = 0;
    if (g_file_get_contents(h264.path().c_str(), &data, &n, nullptr)) {
      std::string c = iptv::hls::avc1_codec_from_annexb(reinterpret_cast<const uint8_t *>(data), n);
      g_free(data);
      // "avc1.PPCCLL"
      if (c.size() == 11) {
        out.video_profile_idc = static_cast<int>(std::strtol(c.substr(5, 2).c_str(), nullptr, 16));
        out.video_level_idc = static_cast<int>(std::strtol(c.substr(9, 2).c_str(), nullptr, 16));
      }
    }
  }
}

double decode_first_frame_ms(const std::string &bytes, std::string &error) {
  TempFile tmp(bytes);
  if (!tmp.error().empty()) {
    error = tmp.error();
    return -1;
  }
  int64_t t0 = g_get_monotonic_time();
  std::string sout, serr;
  // The first decoded frame of the first video stream, else of the first audio stream.
  for (const char *sel : {"v:0", "a:0"}) {
    if (!run({"ffprobe", "-v", "error", "-select_streams", sel, "-read_intervals", "%+#1",
              "-show_entries", "frame=pts_time", "-show_frames", "-of", "json", tmp.path()},
             sout, serr, error)) {
      return -1;
    }
    nlohmann::json j = nlohmann::json::parse(sout, nullptr, false);
    if (j.is_object() && j.contains("frames") && j["frames"].is_array() && !j["frames"].empty())
      return (g_get_monotonic_time() - t0) / 1000.0;
  }
  error = "no frame decodes";
  return -1;
}

DecodedSpan decode_span(const std::string &bytes, double seconds, std::string &error) {
  DecodedSpan d;
  TempFile tmp(bytes);
  if (!tmp.error().empty()) {
    error = tmp.error();
    return d;
  }
  int64_t t0 = g_get_monotonic_time();
  std::string sout, serr;
  // Every frame of the first `seconds` (from the first frame), video first, else audio.
  std::string interval = "%+" + std::to_string(seconds);
  for (const char *sel : {"v:0", "a:0"}) {
    if (!run({"ffprobe", "-v", "error", "-select_streams", sel, "-read_intervals", interval,
              "-show_entries", "frame=pts_time,duration_time", "-show_frames", "-of", "json",
              tmp.path()},
             sout, serr, error))
      return d;
    nlohmann::json j = nlohmann::json::parse(sout, nullptr, false);
    if (!j.is_object() || !j.contains("frames") || !j["frames"].is_array() || j["frames"].empty())
      continue;
    double first = -1, last_end = -1;
    for (const auto &f : j["frames"]) {
      auto num = [&](const char *k) {
        if (!f.contains(k)) return -1.0;
        const auto &v = f[k];
        if (v.is_number()) return v.get<double>();
        if (v.is_string()) return std::atof(v.get<std::string>().c_str());
        return -1.0;
      };
      double pts = num("pts_time"), dur = num("duration_time");
      if (pts < 0) continue;
      if (first < 0 || pts < first) first = pts;
      last_end = std::max(last_end, pts + std::max(0.0, dur));
      d.frames++;
    }
    d.stream = sel[0] == 'v' ? "video" : "audio";
    d.seconds = first >= 0 ? last_end - first : 0;
    d.decode_ms = (g_get_monotonic_time() - t0) / 1000.0;
    return d;
  }
  error = "no frame decodes";
  return d;
}

}  // namespace iptv::probe
