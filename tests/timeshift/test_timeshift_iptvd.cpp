// Catch-up and DVR through a real iptvd, its real workers and its origin, with real clients:
// ffprobe plays a past range by its time-addressed URL (start and end within one segment of what
// was asked) after the live window has dropped it, the same URL works after a restart, refusals
// carry their reason, and hls.js in chromium seeks back 60 s on a DVR channel and plays.
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <regex>
#include <thread>

#include "browser_player.h"
#include "iptvd_fixture.h"
#include "util/strutil.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

int64_t unix_now() {
  return (int64_t)std::time(nullptr);
}

// ffprobe's view of a playlist URL: duration and the first frame's time.
struct Probe {
  double duration = -1;
  std::string log;
};
Probe ffprobe(const std::string &url) {
  Probe p;
  p.log = sh("ffprobe -v error -show_entries format=duration -of csv=p=0 '" + url + "' 2>&1");
  p.duration = std::atof(p.log.c_str());
  return p;
}

}  // namespace

TEST(TimeshiftIptvd, CatchupRangePlaysAfterTheWindowAndAcrossARestart) {
  iptv_test::TempDir dir;
  write_file(dir.path() + "/news.yaml",
             channel_yaml("news",
                          "access:\n  account_required: false\n"
                          "rights: {owner: Test, licence: T-1, catchup_days: 2}\n"
                          "catchup: {days: 1}\n"));
  iptv_test::TempDir state;  // config and data beside (not in) the channels folder
  std::string data = state.path() + "/data";
  fs::create_directories(data);
  write_file(state.path() + "/iptvd.yaml",
             "tokens:\n  ttl_seconds: 600\nstorage:\n  sweep_seconds: 2\n");
  std::vector<std::string> args = {"--config", state.path() + "/iptvd.yaml"};
  int64_t t_start = 0;
  std::string range_url, base_url;
  {
    Iptvd d(dir.path(), args, data);
    d.start();
    ASSERT_TRUE(d.running()) << d.log();
    ASSERT_TRUE(d.wait_live({"news"}, 60, 1)) << d.log();
    t_start = unix_now();
    std::string url = d.playback_url("news");
    ASSERT_FALSE(url.empty());
    base_url = url.substr(0, url.rfind('/') + 1);
    // 20 s of programme, then ask for [t+4, t+14): older than the 6-segment live window.
    std::this_thread::sleep_for(std::chrono::seconds(22));
    int64_t a = t_start + 4, b = t_start + 14;
    range_url = url + "?start=" + std::to_string(a) + "&end=" + std::to_string(b);
    Probe p = ffprobe(range_url);
    // 10 s asked; whole 1 s segments holding both ends: 10 or 11 s.
    EXPECT_GE(p.duration, 9.9) << p.log << range_url;
    EXPECT_LE(p.duration, 11.2) << p.log;
    // The rendition's playlist is VOD, every segment with PDT, and starts on the segment holding
    // `start`, which the live window no longer lists.
    Reply vod = fetch(base_url + "180p/index.m3u8?start=" + std::to_string(a) +
                      "&end=" + std::to_string(b));
    ASSERT_EQ(vod.status, 200) << vod.headers["x-iptv-deny"] << " " << range_url << "\n"
                               << vod.body << d.log();
    EXPECT_NE(vod.body.find("#EXT-X-ENDLIST"), std::string::npos) << vod.body;
    EXPECT_NE(vod.body.find("#EXT-X-PROGRAM-DATE-TIME:"), std::string::npos);
    MediaList live = parse_media(d.playlist("news", "180p"));
    MediaList past = parse_media(vod.body);
    ASSERT_FALSE(past.durations.empty()) << vod.body;
    std::string first_uri;
    for (auto &line : iptv::split(vod.body, '\n'))
      if (!line.empty() && line[0] != '#') {
        first_uri = line;
        break;
      }
    ASSERT_EQ(first_uri.rfind("archive/", 0), 0u) << vod.body;
    int64_t first_ms = std::atoll(first_uri.c_str() + 8);
    EXPECT_LE(first_ms, a * 1000);
    EXPECT_GT(first_ms + 1000, a * 1000 - 50) << "more than a segment before start";
    Reply seg = fetch(base_url + "180p/" + first_uri);
    EXPECT_EQ(seg.status, 200);
    EXPECT_GT(seg.body.size(), 1000u);
    EXPECT_EQ(d.sql("SELECT COUNT(*) FROM ar_segments WHERE channel_id='news'").empty(), false);
    // Refusals with their reasons.
    Reply inv = fetch(url + "?start=" + std::to_string(b) + "&end=" + std::to_string(a));
    EXPECT_EQ(inv.status, 400);
    EXPECT_EQ(inv.headers["x-iptv-deny"], "inverted");
    Reply bad = fetch(base_url + "180p/index.m3u8?start=yesterday");
    EXPECT_EQ(bad.status, 400);
    EXPECT_EQ(bad.headers["x-iptv-deny"], "malformed");
    Reply rights = fetch(url + "?start=" + std::to_string(unix_now() - 3 * 86400));
    EXPECT_EQ(rights.status, 403);
    EXPECT_EQ(rights.headers["x-iptv-deny"], "beyond_rights");
    Reply future = fetch(url + "?start=" + std::to_string(unix_now() + 7200));
    EXPECT_EQ(future.headers["x-iptv-deny"], "future");
    Reply early = fetch(url + "?start=" + std::to_string(t_start - 3600) +
                        "&end=" + std::to_string(t_start - 3000));
    EXPECT_EQ(early.status, 404);
    EXPECT_EQ(early.headers["x-iptv-deny"], "not_retained");
    // A forged token gets nothing, time-addressed or not.
    std::string forged = range_url;
    size_t h = forged.find("hmac=");
    ASSERT_NE(h, std::string::npos);
    forged[h + 5] = forged[h + 5] == '0' ? '1' : '0';
    EXPECT_EQ(fetch(forged).status, 403);
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait_exit(30), 0) << d.log();
  }
  // A restart over the same data: the same URL (same token) still plays the same range.
  Iptvd d2(dir.path(), args, data);
  d2.start();
  ASSERT_TRUE(d2.running()) << d2.log();
  ASSERT_TRUE(d2.wait_live({"news"}, 60, 1)) << d2.log();
  // The restarted daemon listens on another free port; the token path is what matters.
  std::string again_url = d2.base() + range_url.substr(range_url.find("/hls/"));
  Probe again = ffprobe(again_url);
  EXPECT_GE(again.duration, 9.9) << again.log << d2.log();
  EXPECT_LE(again.duration, 11.2) << again.log;
}

TEST(TimeshiftIptvd, HlsJsSeeksBackSixtySecondsOnADvrChannel) {
  std::string missing = iptv_test::browser_missing();
  ASSERT_EQ(missing, "") << "browser tests need " << missing;
  iptv_test::TempDir dir;
  write_file(
      dir.path() + "/dvr.yaml",
      channel_yaml("dvr", "access:\n  account_required: false\ndvr: {window_seconds: 120}\n"));
  iptv_test::TempDir state;
  write_file(state.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"dvr"}, 60, 1)) << d.log();
  // 75 s of programme in the DVR window before the viewer arrives.
  ASSERT_TRUE(wait_for(120, [&] {
    return parse_media(d.playlist("dvr", "180p")).durations.size() >= 75;
  })) << d.playlist("dvr", "180p");
  std::string url = d.playback_url("dvr");
  iptv_test::PlayOptions o;
  o.seconds = 8;
  o.seek_back = 60;
  std::string raw;
  auto r = iptv_test::browser_play(url, o, &raw);
  EXPECT_TRUE(r.value("ok", false)) << raw;
  double from = r.value("seek_from", 0.0), to = r.value("seek_to", 0.0);
  EXPECT_NEAR(from - to, 60.0, 2.0) << raw;
  // It plays from there: the media time after the seek advanced, with no fatal error.
  EXPECT_GT(r.value("advanced", 0.0), 3.0) << raw;
  EXPECT_LT(r.value("end_time", 0.0), from) << raw;  // still behind where it was
}

// fMP4 catch-up (issue 19): the HLS range carries EXT-X-MAP to the archived init segment and
// plays in ffprobe; with DASH on, manifest.mpd?start=&end= is a static MPD over the same
// archived segments that ffprobe plays and decodes and dash.js in chromium plays; an open DASH
// range is refused with a reason.
TEST(TimeshiftIptvd, Fmp4CatchupPlaysInHlsAndDash) {
  iptv_test::TempDir dir;
  write_file(dir.path() + "/cmaf.yaml",
             channel_yaml("cmaf",
                          "  segment_format: fmp4\n  audio_language: en\n  audio_name: English\n"
                          "dash: true\naccess:\n  account_required: false\n"
                          "rights: {owner: Test, licence: T-1, catchup_days: 2}\n"
                          "catchup: {days: 1}\n"));
  iptv_test::TempDir state;
  write_file(state.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"cmaf"}, 60, 1)) << d.log();
  int64_t t0 = unix_now();
  std::this_thread::sleep_for(std::chrono::seconds(12));
  int64_t a = t0 + 2, b = t0 + 8;
  std::string range = "?start=" + std::to_string(a) + "&end=" + std::to_string(b);
  std::string url = d.playback_url("cmaf");
  ASSERT_FALSE(url.empty());
  std::string base = url.substr(0, url.rfind('/') + 1);
  // HLS: EXT-X-MAP to the archived init segment, which is served.
  Reply vod = fetch(base + "180p/index.m3u8" + range);
  ASSERT_EQ(vod.status, 200) << vod.headers["x-iptv-deny"] << "\n" << vod.body << d.log();
  size_t map = vod.body.find("#EXT-X-MAP:URI=\"archive/init-");
  ASSERT_NE(map, std::string::npos) << vod.body;
  std::string init_uri = vod.body.substr(map + 16, vod.body.find('"', map + 16) - map - 16);
  Reply init = fetch(base + "180p/" + init_uri);
  EXPECT_EQ(init.status, 200) << init_uri;
  EXPECT_NE(init.body.find("ftyp"), std::string::npos);
  Probe hls = ffprobe(url + range);
  EXPECT_GE(hls.duration, 5.9) << hls.log;
  EXPECT_LE(hls.duration, 7.2) << hls.log;
  // DASH: a static MPD over the archive.
  Reply mpd = fetch(base + "manifest.mpd" + range);
  ASSERT_EQ(mpd.status, 200) << mpd.headers["x-iptv-deny"] << "\n" << mpd.body;
  EXPECT_NE(mpd.body.find("type=\"static\""), std::string::npos) << mpd.body;
  EXPECT_NE(mpd.body.find("180p/archive/"), std::string::npos) << mpd.body;
  EXPECT_EQ(mpd.body.find("SegmentTemplate"), std::string::npos) << mpd.body;
  Probe dash = ffprobe(base + "manifest.mpd" + range);
  EXPECT_GE(dash.duration, 5.9) << dash.log << "\n" << mpd.body;
  EXPECT_LE(dash.duration, 7.2) << dash.log;
  std::string frames =
      sh("ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames "
         "-of csv=p=0 '" +
         base + "manifest.mpd" + range + "' 2>&1");
  EXPECT_GE(std::atoi(frames.c_str()), 24) << frames;
  // dash.js in chromium plays the catch-up MPD from the archive.
  std::string missing = iptv_test::browser_missing();
  ASSERT_EQ(missing, "") << "browser tests need " << missing;
  iptv_test::PlayOptions o;
  o.player = "dash";
  o.seconds = 4;
  std::string raw;
  auto r = iptv_test::browser_play(base + "manifest.mpd" + range, o, &raw);
  EXPECT_TRUE(r.value("ok", false)) << raw << "\n" << mpd.body;
  EXPECT_GE(r.value("advanced", 0.0), 3.0) << raw << "\n" << mpd.body;
  EXPECT_GE(r["requests"].value("m4s", 0), 2) << raw;
  for (auto &err : r["errors"]) EXPECT_FALSE(err.value("fatal", false)) << raw;

  // Issue 19: an open range is a dynamic MPD from that past point to the live edge (as
  // index.m3u8?start=T is an EVENT playlist): its timeline starts with the segment holding T,
  // ends at the newest archived one, and grows on reload with the same availability start.
  std::string open_url = base + "manifest.mpd?start=" + std::to_string(a);
  Reply open = fetch(open_url);
  ASSERT_EQ(open.status, 200) << open.headers["x-iptv-deny"] << "\n" << open.body;
  EXPECT_EQ(open.headers["content-type"], "application/dash+xml");
  EXPECT_NE(open.body.find("type=\"dynamic\""), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("minimumUpdatePeriod=\""), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("media=\"180p/archive/$Time$.m4s\""), std::string::npos) << open.body;
  EXPECT_NE(open.body.find("<UTCTiming"), std::string::npos) << open.body;
  auto timeline = [](const std::string &mpd) {
    std::vector<std::pair<int64_t, int64_t>> out;  // the first Representation's S entries
    std::regex re("<S t=\"([0-9]+)\" d=\"([0-9]+)\"/>");
    size_t end = mpd.find("</SegmentTimeline>");
    std::string first = mpd.substr(0, end);
    for (std::sregex_iterator it(first.begin(), first.end(), re), e; it != e; ++it)
      out.emplace_back(std::stoll((*it)[1]), std::stoll((*it)[2]));
    return out;
  };
  auto attr = [](const std::string &mpd, const std::string &name) {
    size_t at = mpd.find(" " + name + "=\"");
    if (at == std::string::npos) return std::string();
    at += name.size() + 3;
    return mpd.substr(at, mpd.find('"', at) - at);
  };
  auto tl = timeline(open.body);
  ASSERT_GE(tl.size(), 8u) << open.body;
  EXPECT_LE(tl.front().first, a * 1000) << open.body;
  EXPECT_GT(tl.front().first + tl.front().second, a * 1000) << open.body;
  EXPECT_GE(tl.back().first + tl.back().second, unix_now() * 1000 - 4000) << open.body;
  std::string ast = attr(open.body, "availabilityStartTime");
  EXPECT_EQ(ast, iptv::iso8601_utc(tl.front().first, true)) << open.body;
  std::this_thread::sleep_for(std::chrono::seconds(3));
  Reply again = fetch(open_url);
  ASSERT_EQ(again.status, 200);
  EXPECT_EQ(attr(again.body, "availabilityStartTime"), ast);
  EXPECT_GE(timeline(again.body).size(), tl.size() + 2) << again.body;
  // ffprobe finds the streams; ffmpeg decodes it (from the live edge, as for any dynamic MPD).
  std::string streams =
      sh("timeout 60 ffprobe -v error -show_entries stream=codec_type,codec_name "
         "-of csv=p=0 '" +
         open_url + "' 2>&1");
  EXPECT_NE(streams.find("h264,video"), std::string::npos) << streams;
  std::string decoded = sh("timeout 60 ffmpeg -nostdin -v error -i '" + open_url +
                           "' -t 2 -map 0:v:0 -f framemd5 - 2>&1 | grep -vc '^#'");
  EXPECT_GE(std::atoi(decoded.c_str()), 24) << decoded;
  // The timeline is continuous: every S ends where the next starts (the archive's audio rows
  // carry the video's PROGRAM-DATE-TIME and their own AAC duration, 981 or 1003 ms; an S of 981
  // left a 19 ms hole in which dash.js looked for its next audio segment for good, a stall).
  for (const std::string &mpd_text : {open.body, again.body}) {
    std::regex s_re("<S t=\"([0-9]+)\" d=\"([0-9]+)\"/>");
    int64_t expect_t = -1;
    for (std::sregex_iterator it(mpd_text.begin(), mpd_text.end(), s_re), e; it != e; ++it) {
      int64_t t = std::stoll((*it)[1]), dd = std::stoll((*it)[2]);
      if (expect_t >= 0 && t > expect_t - 1500) EXPECT_EQ(t, expect_t) << mpd_text;
      expect_t = t + dd;  // a new SegmentTimeline (the audio one) starts back at the first t
    }
  }
  // dash.js plays it (from its live point, 10 s behind the newest archived segment) without a
  // stall for longer than the 8 s between two short (981 ms) audio segments, reloading it.
  iptv_test::PlayOptions lo;
  lo.player = "dash";
  lo.seconds = 10;
  std::string lraw;
  auto lr = iptv_test::browser_play(open_url, lo, &lraw);
  EXPECT_TRUE(lr.value("ok", false)) << lraw << "\n" << again.body;
  EXPECT_GE(lr.value("advanced", 0.0), 6.0) << lraw;
  EXPECT_EQ(lr.value("stalls", -1), 0) << lraw;
  EXPECT_GE(lr["requests"].value("mpd", 0), 2) << "reloaded as the live edge moves: " << lraw;
  for (auto &err : lr["errors"]) EXPECT_FALSE(err.value("fatal", false)) << lraw;
  // And after seeking back 8 s inside it, it plays on across the short audio segments.
  lo.seek_back = 8;
  std::string sraw;
  auto sr = iptv_test::browser_play(open_url, lo, &sraw);
  EXPECT_TRUE(sr.value("ok", false)) << sraw;
  EXPECT_LE(sr.value("seek_to", 0.0), sr.value("seek_from", 0.0) - 6) << sraw;
  EXPECT_GE(sr.value("advanced", 0.0), 5.0) << sraw;
  EXPECT_LE(sr.value("stalls", -1), 1) << "only the seek's own wait: " << sraw;
  for (auto &err : sr["errors"]) EXPECT_FALSE(err.value("fatal", false)) << sraw;
}
