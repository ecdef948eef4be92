#include "probe/cmaf_check.h"

#include <glib.h>

#include <cmath>
#include <regex>
#include <set>

#include "cmaf/boxes.h"

namespace iptv::probe {

namespace {

std::span<const uint8_t> bytes_of(const std::string &s) {
  return {reinterpret_cast<const uint8_t *>(s.data()), s.size()};
}

std::string attr(const std::string &tag, const char *name) {
  std::smatch m;
  std::regex re(std::string("\\b") + name + "=\"([^\"]*)\"");
  return std::regex_search(tag, m, re) ? std::string(m[1]) : std::string();
}

// "PT1H2M3.5S" -> seconds; 0 when absent.
double iso_duration_s(const std::string &d) {
  std::smatch m;
  if (!std::regex_match(d, m, std::regex(R"(P(?:(\d+)D)?T?(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)")))
    return 0;
  double s = 0;
  if (m[1].matched) s += std::stod(m[1]) * 86400;
  if (m[2].matched) s += std::stod(m[2]) * 3600;
  if (m[3].matched) s += std::stod(m[3]) * 60;
  if (m[4].matched) s += std::stod(m[4]);
  return s;
}

std::string substitute(std::string t, const std::string &id, uint64_t number) {
  for (auto [key, value] : {std::pair<std::string, std::string>{"$RepresentationID$", id},
                            {"$Number$", std::to_string(number)}}) {
    size_t at;
    while ((at = t.find(key)) != std::string::npos) t.replace(at, key.size(), value);
  }
  return t;
}

}  // namespace

std::string resolve_relative(const std::string &base, const std::string &ref) {
  if (ref.find("://") != std::string::npos) return ref;
  std::string b = base.substr(0, base.find_first_of("?#"));
  if (!ref.empty() && ref[0] == '/') {
    size_t host = b.find("://");
    size_t path = host == std::string::npos ? 0 : b.find('/', host + 3);
    return (path == std::string::npos ? b : b.substr(0, path)) + ref;
  }
  return b.substr(0, b.rfind('/') + 1) + ref;
}

std::vector<Issue> check_cmaf_segment(std::span<const uint8_t> init, std::span<const uint8_t> seg,
                                      uint64_t sequence, bool discontinuity, CmafTrack &track,
                                      double *start_s) {
  std::vector<Issue> out;
  std::string err;
  auto info = cmaf::read_init_segment(init, &err);
  if (!info) {
    out.push_back({"cmaf-init-unreadable", "init segment: " + err, sequence});
    return out;
  }
  track.timescale = info->track.timescale;
  track.handler = info->handler;
  auto frags = cmaf::read_media_segment(seg, &err);
  if (!frags || frags->empty()) {
    out.push_back({"cmaf-segment-unreadable", frags ? "no moof" : err, sequence});
    return out;
  }
  for (const auto &f : *frags)
    if (f.track_id != info->track.track_id) {
      out.push_back({"cmaf-track-id",
                     "moof of track " + std::to_string(f.track_id) + ", the init segment's is " +
                         std::to_string(info->track.track_id),
                     sequence});
      break;
    }
  const auto &first = frags->front();
  if (info->handler == "vide" && !first.samples.empty() &&
      first.samples.front().flags != cmaf::kSyncSampleFlags)
    out.push_back(
        {"cmaf-keyframe-start", "the first sample is not a sync sample (keyframe)", sequence});
  if (track.have_prev && !discontinuity && first.base_decode_time != track.next_tfdt)
    out.push_back({"cmaf-tfdt-continuity",
                   "tfdt " + std::to_string(first.base_decode_time) +
                       ", the previous segment ended at " + std::to_string(track.next_tfdt) +
                       " (timescale " + std::to_string(track.timescale) +
                       ") with no EXT-X-DISCONTINUITY",
                   sequence});
  uint64_t end = first.base_decode_time;
  for (const auto &f : *frags) end = std::max(end, f.base_decode_time + f.duration());
  track.have_prev = true;
  track.next_tfdt = end;
  if (start_s && track.timescale) *start_s = (double)first.base_decode_time / track.timescale;
  return out;
}

std::vector<Issue> check_alignment(const Starts &starts, double tolerance_s) {
  std::vector<Issue> out;
  std::map<uint64_t, std::vector<std::pair<std::string, double>>> by_seq;
  for (const auto &[rendition, m] : starts)
    for (const auto &[seq, t] : m) by_seq[seq].push_back({rendition, t});
  for (const auto &[seq, list] : by_seq) {
    for (size_t i = 1; i < list.size(); i++)
      if (std::fabs(list[i].second - list[0].second) > tolerance_s) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s starts at %.3f s, %s at %.3f s", list[0].first.c_str(),
                      list[0].second, list[i].first.c_str(), list[i].second);
        out.push_back({"cmaf-misaligned", buf, seq});
        break;
      }
  }
  return out;
}

std::optional<MpdInfo> parse_mpd(const std::string &text, std::string *error) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex("<MPD\\b[^>]*>"))) {
    if (error) *error = "no <MPD> element";
    return std::nullopt;
  }
  std::string root = m[0];
  MpdInfo info;
  info.dynamic = attr(root, "type") == "dynamic";
  std::string ast = attr(root, "availabilityStartTime");
  if (!ast.empty()) {
    GDateTime *dt = g_date_time_new_from_iso8601(ast.c_str(), nullptr);
    if (dt) {
      info.availability_start_ms =
          g_date_time_to_unix(dt) * 1000 + g_date_time_get_microsecond(dt) / 1000;
      g_date_time_unref(dt);
    } else if (info.dynamic) {
      if (error) *error = "availabilityStartTime '" + ast + "' is not an xs:dateTime";
      return std::nullopt;
    }
  }
  info.max_segment_s = iso_duration_s(attr(root, "maxSegmentDuration"));
  info.min_update_s = iso_duration_s(attr(root, "minimumUpdatePeriod"));
  // Representations, each with its own SegmentTemplate (as ours are written).
  std::regex rep_re("<Representation\\b[^>]*>([\\s\\S]*?)</Representation>");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), rep_re);
       it != std::sregex_iterator(); ++it) {
    std::string whole = (*it)[0], tag = whole.substr(0, whole.find('>') + 1);
    MpdRep r;
    r.id = attr(tag, "id");
    r.codecs = attr(tag, "codecs");
    std::smatch t;
    if (!std::regex_search(whole, t, std::regex("<SegmentTemplate\\b[^>]*>"))) continue;
    std::string st = t[0];
    r.media = attr(st, "media");
    r.init = attr(st, "initialization");
    if (!attr(st, "timescale").empty()) r.timescale = (uint32_t)std::stoul(attr(st, "timescale"));
    if (!attr(st, "startNumber").empty()) r.start_number = std::stoull(attr(st, "startNumber"));
    if (!attr(st, "presentationTimeOffset").empty())
      r.pto = std::stoull(attr(st, "presentationTimeOffset"));
    std::regex s_re("<S\\b[^>]*/>");
    uint64_t time = 0;
    for (auto s = std::sregex_iterator(whole.begin(), whole.end(), s_re);
         s != std::sregex_iterator(); ++s) {
      std::string e = (*s)[0];
      if (!attr(e, "t").empty()) time = std::stoull(attr(e, "t"));
      uint64_t d = attr(e, "d").empty() ? 0 : std::stoull(attr(e, "d"));
      int64_t rep = attr(e, "r").empty() ? 0 : std::stoll(attr(e, "r"));
      for (int64_t i = 0; i <= rep && d > 0; i++, time += d) r.segments.push_back({time, d});
    }
    info.reps.push_back(std::move(r));
  }
  if (info.reps.empty()) {
    if (error) *error = "no Representation with a SegmentTemplate";
    return std::nullopt;
  }
  return info;
}

std::vector<Issue> check_mpd(const std::string &text, const std::string &mpd_url, int64_t now_ms,
                             const Fetch &fetch, MpdState &state, bool check_media) {
  std::vector<Issue> out;
  std::string err;
  auto info = parse_mpd(text, &err);
  if (!info) {
    out.push_back({"mpd-unreadable", err});
    return out;
  }
  state.updates++;
  double newest_end_s = -1;
  for (const auto &r : info->reps) {
    if (r.segments.empty()) {
      out.push_back({"mpd-empty-timeline", r.id + ": no S in the SegmentTimeline"});
      continue;
    }
    // Numbers continue: a number keeps its time across updates, the newest never goes back.
    auto &times = state.time_of[r.id];
    for (size_t i = 0; i < r.segments.size(); i++) {
      uint64_t n = r.start_number + i;
      auto it = times.find(n);
      if (it != times.end() && it->second != r.segments[i].first)
        out.push_back({"mpd-number-moved",
                       r.id + ": number " + std::to_string(n) +
                           " was at t=" + std::to_string(it->second) +
                           ", now at t=" + std::to_string(r.segments[i].first),
                       n});
      times[n] = r.segments[i].first;
    }
    uint64_t newest = r.start_number + r.segments.size() - 1;
    if (state.newest.count(r.id) && newest < state.newest[r.id])
      out.push_back({"mpd-numbers-back",
                     r.id + ": the newest number went from " + std::to_string(state.newest[r.id]) +
                         " back to " + std::to_string(newest),
                     newest});
    state.newest[r.id] = std::max(newest, state.newest[r.id]);
    const auto &last = r.segments.back();
    double end_s = ((double)last.first + (double)last.second - (double)r.pto) / r.timescale;
    newest_end_s = std::max(newest_end_s, end_s);
    if (!check_media) continue;
    // Every listed segment exists, is that S (tfdt = S@t, duration = S@d), and is the file HLS
    // lists under the same number.
    std::string media0 = resolve_relative(mpd_url, substitute(r.media, r.id, r.start_number));
    std::string folder = media0.substr(0, media0.rfind('/') + 1);
    std::optional<std::string> hls = fetch(folder + "index.m3u8");
    std::map<uint64_t, std::string> hls_uri;  // sequence -> URI
    if (hls) {
      std::smatch m;
      uint64_t seq = 0;
      if (std::regex_search(*hls, m, std::regex("#EXT-X-MEDIA-SEQUENCE:(\\d+)")))
        seq = std::stoull(m[1]);
      size_t a = 0;
      while (a < hls->size()) {
        size_t b = hls->find('\n', a);
        if (b == std::string::npos) b = hls->size();
        std::string line = hls->substr(a, b - a);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty() && line[0] != '#')
          hls_uri[seq++] = resolve_relative(folder + "index.m3u8", line);
        a = b + 1;
      }
    }
    std::optional<std::string> init = fetch(resolve_relative(mpd_url, substitute(r.init, r.id, 0)));
    if (!init)
      out.push_back({"mpd-init-missing", r.id + ": the initialization segment cannot be fetched"});
    for (size_t i = 0; i < r.segments.size(); i++) {
      uint64_t n = r.start_number + i;
      std::string url = resolve_relative(mpd_url, substitute(r.media, r.id, n));
      auto body = fetch(url);
      if (!body) {
        out.push_back({"mpd-segment-missing",
                       r.id + ": number " + std::to_string(n) + " (" + url + ") cannot be fetched",
                       n});
        continue;
      }
      auto frags = cmaf::read_media_segment(bytes_of(*body), &err);
      if (!frags || frags->empty()) {
        out.push_back(
            {"cmaf-segment-unreadable", r.id + ": number " + std::to_string(n) + ": " + err, n});
        continue;
      }
      uint64_t dur = 0;
      for (const auto &f : *frags) dur += f.duration();
      if (frags->front().base_decode_time != r.segments[i].first || dur != r.segments[i].second)
        out.push_back({"mpd-timeline-mismatch",
                       r.id + ": number " + std::to_string(n) + " has tfdt " +
                           std::to_string(frags->front().base_decode_time) + " and duration " +
                           std::to_string(dur) +
                           ", the timeline says t=" + std::to_string(r.segments[i].first) +
                           " d=" + std::to_string(r.segments[i].second),
                       n});
      auto h = hls_uri.find(n);
      if (h != hls_uri.end() && h->second != url)
        out.push_back({"mpd-hls-mismatch",
                       r.id + ": DASH number " + std::to_string(n) + " is " + url +
                           ", HLS sequence " + std::to_string(n) + " is " + h->second,
                       n});
    }
  }
  // Availability: a dynamic MPD's newest segment ended (availabilityStartTime + its media end) in
  // the recent past: not in the future (players would ask for segments not there yet), and not
  // long ago (players would think the live edge is further on than it is).
  if (info->dynamic && newest_end_s >= 0) {
    double avail_s = info->availability_start_ms / 1000.0 + newest_end_s;
    double now_s = now_ms / 1000.0;
    double slack = 2 * std::max({info->max_segment_s, info->min_update_s, 1.0}) + 2;
    if (avail_s > now_s + 1 || avail_s < now_s - slack) {
      char buf[200];
      std::snprintf(buf, sizeof buf,
                    "the newest segment becomes available at %.3f s (availabilityStartTime + its "
                    "end), %.3f s from now; expected within [-%.1f, +1] s",
                    avail_s, avail_s - now_s, slack);
      out.push_back({"mpd-availability", buf});
    }
  }
  return out;
}

}  // namespace iptv::probe
