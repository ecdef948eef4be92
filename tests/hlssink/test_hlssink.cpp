// iptvhlssink in real pipelines, its output read by real clients (ffprobe, GStreamer hlsdemux).
#include <gst/gst.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace fs = std::filesystem;

namespace {

std::string run(const std::string &cmd, int *status = nullptr) {
  return iptv_test::sh(cmd, status);
}

std::string slurp(const std::string &path) {
  std::string s;
  iptv::read_file(path, s);
  return s;
}

struct Media {
  uint64_t media_sequence = 0, discontinuity_sequence = 0;
  int target = 0;
  std::vector<double> extinf;
  std::vector<std::string> uris;
  std::vector<bool> discontinuity;
  std::vector<std::string> pdt;
  bool endlist = false;
};

Media parse_media(const std::string &text) {
  Media m;
  bool disc = false;
  std::string pdt;
  for (const auto &line : iptv::split(text, '\n')) {
    if (iptv::starts_with(line, "#EXT-X-MEDIA-SEQUENCE:"))
      m.media_sequence = std::stoull(line.substr(22));
    else if (iptv::starts_with(line, "#EXT-X-DISCONTINUITY-SEQUENCE:"))
      m.discontinuity_sequence = std::stoull(line.substr(30));
    else if (iptv::starts_with(line, "#EXT-X-TARGETDURATION:"))
      m.target = std::stoi(line.substr(22));
    else if (line == "#EXT-X-DISCONTINUITY")
      disc = true;
    else if (iptv::starts_with(line, "#EXT-X-PROGRAM-DATE-TIME:"))
      pdt = line.substr(25);
    else if (iptv::starts_with(line, "#EXTINF:"))
      m.extinf.push_back(std::stod(line.substr(8)));
    else if (line == "#EXT-X-ENDLIST")
      m.endlist = true;
    else if (line[0] != '#') {
      m.uris.push_back(line);
      m.discontinuity.push_back(disc);
      m.pdt.push_back(pdt);
      disc = false;
      pdt.clear();
    }
  }
  return m;
}

void run_to_eos(const std::string &desc, GstClockTime timeout = 120 * GST_SECOND) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  ASSERT_NE(p, nullptr) << (err ? err->message : "") << ": " << desc;
  GstBus *bus = gst_element_get_bus(p);
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, timeout,
                                             (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(m, nullptr) << "timeout";
  if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
    GError *e = nullptr;
    gst_message_parse_error(m, &e, nullptr);
    ADD_FAILURE() << e->message;
    g_error_free(e);
  }
  gst_message_unref(m);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
}

// Runs a live pipeline for `seconds`, then stops it (as a restart would).
void run_live_for(const std::string &desc, int ms) {
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  ASSERT_NE(p, nullptr) << (err ? err->message : "");
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstBus *bus = gst_element_get_bus(p);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, ms * GST_MSECOND, GST_MESSAGE_ERROR);
  if (m) {
    GError *e = nullptr;
    gst_message_parse_error(m, &e, nullptr);
    ADD_FAILURE() << e->message;
    g_error_free(e);
    gst_message_unref(m);
  }
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(bus);
  gst_object_unref(p);
}

std::string ladder_pipeline(const std::string &dir, const std::string &sink_props, bool live,
                            int frames, const char *kf = "2") {
  std::string l = live ? " is-live=true" : "";
  std::string nb = frames > 0 ? " num-buffers=" + std::to_string(frames) : "";
  std::string anb =
      frames > 0 ? " num-buffers=" + std::to_string(frames * 48000 / 25 / 1024 + 2) : "";
  return "videotestsrc pattern=ball" + l + nb +
         " ! video/x-raw,width=320,height=180,framerate=25/1 ! iptvabrladder name=l "
         "profiles=320x180@300,160x90@120 preset=ultrafast keyframe-interval=" +
         kf + " audiotestsrc samplesperbuffer=1024" + l + anb +
         " ! audio/x-raw,rate=48000,channels=2 ! avenc_aac ! s.audio "
         "l.src_0 ! s.video_0 l.src_1 ! s.video_1 "
         "iptvhlssink name=s location=" +
         dir + " rendition-names=hi,lo " + sink_props;
}

TEST(HlsSink, VodTreeReadByFfprobeAndHlsdemux) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch";
  run_to_eos(ladder_pipeline(dir, "target-duration=2 playlist-type=vod sequence-mode=counter",
                             false, 300));
  std::string mv = slurp(dir + "/index.m3u8");
  ASSERT_FALSE(mv.empty());
  EXPECT_NE(mv.find("#EXT-X-INDEPENDENT-SEGMENTS"), std::string::npos);
  EXPECT_LT(mv.find("lo/index.m3u8"), mv.find("hi/index.m3u8")) << "ordered by bandwidth\n" << mv;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      mv, m,
      std::regex(
          "RESOLUTION=320x180,FRAME-RATE=25.000,CODECS=\"(avc1\\.[0-9a-f]{6}),mp4a\\.40\\.2\"")))
      << mv;
  std::string codec = m[1];
  for (const char *r : {"hi", "lo"}) {
    Media md = parse_media(slurp(dir + "/" + r + "/index.m3u8"));
    ASSERT_EQ(md.uris.size(), 6u) << r;
    EXPECT_TRUE(md.endlist);
    EXPECT_EQ(md.media_sequence, 0u);
    double total = 0;
    for (size_t i = 0; i < md.extinf.size(); ++i) {
      total += md.extinf[i];
      EXPECT_GE(md.target, (int)std::lround(md.extinf[i]));
      // 300 frames at 25 fps on a 2 s keyframe grid: every segment, the last one included (it
      // ends with its last frame, not at its start), lasts exactly 2 s.
      EXPECT_NEAR(md.extinf[i], 2.0, 0.001) << r << " segment " << i;
      EXPECT_EQ(md.uris[i], "seg-" + std::to_string(i) + ".ts");
      EXPECT_FALSE(md.pdt[i].empty()) << "PROGRAM-DATE-TIME on every segment";
      // Every segment starts with a keyframe.
      std::string first =
          run("ffprobe -v error -select_streams v -read_intervals %+#1 "
              "-show_entries frame=key_frame -of csv=p=0 " +
              dir + "/" + r + "/" + md.uris[i]);
      EXPECT_EQ(iptv::trim(first).substr(0, 1), "1") << r << " " << md.uris[i] << ": " << first;
    }
    EXPECT_NEAR(total, 12.0, 0.001);
    // ffprobe reads the rendition and finds video and audio.
    std::string streams =
        run("ffprobe -v error -show_entries stream=codec_type,codec_name "
            "-of csv=p=0 " +
            dir + "/" + r + "/index.m3u8");
    EXPECT_NE(streams.find("h264,video"), std::string::npos) << streams;
    EXPECT_NE(streams.find("aac,audio"), std::string::npos) << streams;
  }
  // CODECS agrees with the SPS ffprobe sees (profile_idc, level).
  std::string prof =
      run("ffprobe -v error -select_streams v -show_entries stream=profile,level "
          "-of csv=p=0 " +
          dir + "/hi/seg-0.ts");
  int level = std::stoi(iptv::split(prof, ',')[1]);
  EXPECT_EQ(std::stoi(codec.substr(9, 2), nullptr, 16), level) << codec << " vs " << prof;
  // GStreamer's hlsdemux plays the multivariant playlist to the end.
  int status = -1;
  std::string out = run("timeout 60 gst-launch-1.0 -q playbin uri=file://" + dir +
                            "/index.m3u8 video-sink=fakesink audio-sink=fakesink 2>&1",
                        &status);
  EXPECT_EQ(status, 0) << out;
}

// Issue 21 item 4: consecutive segments read as one transport stream show no continuity-counter
// error on any PID (PAT 0, PMT 32, video, audio). Before the fix each segment's muxer restarted
// every counter at 0, so FFmpeg and VLC reported a discontinuity at every boundary.
TEST(HlsSink, ContinuityCountersContinueAcrossSegments) {
  // VLC runs as 'nobody' (it refuses root): the tree must be reachable by it.
  char tmpl[] = "/tmp/iptv-hlscc-XXXXXX";
  ASSERT_NE(g_mkdtemp(tmpl), nullptr);
  std::string base = tmpl;
  ::chmod(base.c_str(), 0777);
  std::string dir = base + "/ch";
  run_to_eos(ladder_pipeline(dir, "target-duration=1 playlist-type=vod sequence-mode=counter",
                             false, 150, "1"));
  Media md = parse_media(slurp(dir + "/hi/index.m3u8"));
  ASSERT_GE(md.uris.size(), 5u);
  std::string files;
  for (const auto &u : md.uris) files += " " + dir + "/hi/" + u;
  int st = -1;
  run("cat" + files + " > " + base + "/all.ts", &st);
  ASSERT_EQ(st, 0);
  // FFmpeg's TS demuxer logs every counter mismatch at debug level.
  std::string ff = run("ffmpeg -hide_banner -nostdin -loglevel debug -i " + base +
                           "/all.ts -map 0 -c copy -f null - 2>&1",
                       &st);
  ASSERT_EQ(st, 0) << ff;
  ASSERT_NE(ff.find("Input #0, mpegts"), std::string::npos) << ff;
  EXPECT_EQ(ff.find("Continuity check failed"), std::string::npos) << ff;
  // VLC (verbose) plays the media playlist itself, segment after segment.
  int vlc_st = -1;
  run("command -v cvlc >/dev/null && id nobody >/dev/null 2>&1", &vlc_st);
  if (vlc_st == 0) {
    std::string rec = base + "/rec.ts";
    std::string log = run("timeout 60 runuser -u nobody -- env HOME=" + base +
                          " cvlc -vv -I dummy --no-video-title-show --play-and-exit " + dir +
                          "/hi/index.m3u8 --sout '#std{access=file,mux=ts,dst=" + rec + "}' 2>&1");
    struct stat sb {};
    EXPECT_EQ(::stat(rec.c_str(), &sb), 0) << "VLC recorded nothing\n" << log;
    EXPECT_NE(log.find("ts demux"), std::string::npos) << "VLC's TS demuxer did not run\n" << log;
    EXPECT_EQ(log.find("TS discontinuity"), std::string::npos) << log;
    EXPECT_EQ(log.find("discontinuity received"), std::string::npos) << log;
  } else {
    std::printf("cvlc or the user 'nobody' is missing: VLC part skipped\n");
  }
  run("rm -rf " + base);
}

TEST(HlsSink, LiveEpochNumbersAndRestartContinues) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch";
  std::string props = "target-duration=1 playlist-length=20";
  int64_t before = g_get_real_time() / 1000000;
  run_live_for(ladder_pipeline(dir, props, true, 0, "1"), 4500);
  int64_t after = g_get_real_time() / 1000000;
  Media a = parse_media(slurp(dir + "/hi/index.m3u8"));
  ASSERT_GE(a.uris.size(), 3u);
  // The first segment is numbered from UTC: floor(UTC / 1 s).
  EXPECT_GE((int64_t)a.media_sequence, before);
  EXPECT_LE((int64_t)a.media_sequence, after);
  // After the first (which starts wherever the stream started), segments sit on the UTC grid.
  for (size_t i = 1; i < a.extinf.size(); ++i) EXPECT_NEAR(a.extinf[i], 1.0, 0.05);
  EXPECT_LE(a.extinf[0], 1.05);
  Media alo = parse_media(slurp(dir + "/lo/index.m3u8"));
  EXPECT_EQ(alo.media_sequence, a.media_sequence) << "renditions agree on numbers";
  EXPECT_EQ(alo.pdt[0], a.pdt[0]);
  // Restart: the playlist continues, never goes back, and marks the break.
  run_live_for(ladder_pipeline(dir, props, true, 0, "1"), 3500);
  Media b = parse_media(slurp(dir + "/hi/index.m3u8"));
  uint64_t last_old = a.media_sequence + a.uris.size() - 1;
  // Every listed name is its implied number (MEDIA-SEQUENCE + index).
  for (size_t i = 0; i < b.uris.size(); ++i)
    EXPECT_EQ(b.uris[i], "seg-" + std::to_string(b.media_sequence + i) + ".ts") << i;
  if (b.media_sequence > last_old) {
    // The restart took longer than a segment, so epoch numbering skipped numbers: the window
    // restarted at the new number behind a discontinuity.
    EXPECT_GT(b.media_sequence, last_old + 1);
    EXPECT_TRUE(b.discontinuity[0]);
    EXPECT_NE(run("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 " + dir +
                  "/hi/index.m3u8")
                  .find("video"),
              std::string::npos);
    return;
  }
  ASSERT_GT(b.uris.size(), a.uris.size());
  EXPECT_EQ(b.media_sequence, a.media_sequence);
  size_t first_new = a.uris.size();
  EXPECT_TRUE(b.discontinuity[first_new]);
  uint64_t first_new_seq = std::stoull(b.uris[first_new].substr(4));
  EXPECT_GT(first_new_seq, last_old);
  for (size_t i = first_new + 1; i < b.uris.size(); ++i) EXPECT_FALSE(b.discontinuity[i]);
  // ffprobe still reads the continued rendition.
  std::string streams =
      run("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 " + dir + "/hi/index.m3u8");
  EXPECT_NE(streams.find("video"), std::string::npos);
}

TEST(HlsSink, ServesEveryVariantThroughATokenizedUrl) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch", keys = tmp.path() + "/keys";
  ASSERT_EQ(iptv::write_file_atomic(
                keys, "k1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"),
            "");
  int port = iptv_test::free_port();
  std::string desc = ladder_pipeline(dir,
                                     "target-duration=1 channel-id=news token-key-file=" + keys +
                                         " http-port=" + std::to_string(port),
                                     true, 0, "1");
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  ASSERT_NE(p, nullptr);
  gst_element_set_state(p, GST_STATE_PLAYING);
  std::this_thread::sleep_for(std::chrono::seconds(4));
  std::string ctl = getenv("IPTVCTL") ? getenv("IPTVCTL") : "iptvctl";
  std::string url = iptv::trim(run(ctl + " token --channel news --ttl 60 --key-file " + keys +
                                   " --base http://127.0.0.1:" + std::to_string(port)));
  std::string base = url.substr(0, url.size() - std::string("index.m3u8").size());
  for (const char *variant : {"index.m3u8", "hi/index.m3u8", "lo/index.m3u8"}) {
    std::string streams = run("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 '" +
                              base + variant + "'");
    EXPECT_NE(streams.find("video"), std::string::npos) << variant << ": " << streams;
    EXPECT_NE(streams.find("audio"), std::string::npos) << variant << ": " << streams;
  }
  // Without the token: refused.
  std::string code =
      run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:" + std::to_string(port) +
          "/hls/news/index.m3u8");
  EXPECT_EQ(code, "403");
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(p);
}

TEST(HlsSink, H265Rendition) {
  GstElementFactory *f = gst_element_factory_find("x265enc");
  if (!f) GTEST_SKIP() << "x265enc not available";
  gst_object_unref(f);
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch";
  run_to_eos(
      "videotestsrc pattern=ball num-buffers=100 ! video/x-raw,width=320,height=180,"
      "framerate=25/1,format=I420 ! x265enc speed-preset=ultrafast key-int-max=25 ! h265parse ! "
      "iptvhlssink location=" +
      dir + " target-duration=1 playlist-type=vod sequence-mode=counter");
  std::string mv = slurp(dir + "/index.m3u8");
  EXPECT_NE(mv.find("CODECS=\"hvc1.1.6.L"), std::string::npos) << mv;
  Media md = parse_media(slurp(dir + "/v0/index.m3u8"));
  EXPECT_EQ(md.uris.size(), 4u);
  std::string codec =
      run("ffprobe -v error -show_entries stream=codec_name -of csv=p=0 " + dir + "/v0/index.m3u8");
  EXPECT_NE(codec.find("hevc"), std::string::npos) << codec;
}

TEST(HlsSink, CounterModeContinuesFromStateFile) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch", state = tmp.path() + "/state.json";
  std::string props =
      "target-duration=2 sequence-mode=counter playlist-length=30 state-file=" + state;
  run_to_eos(ladder_pipeline(dir, props, false, 150));
  Media a = parse_media(slurp(dir + "/hi/index.m3u8"));
  ASSERT_EQ(a.uris.size(), 3u);
  EXPECT_NE(slurp(state).find("\"next_sequence\": 3"), std::string::npos) << slurp(state);
  run_to_eos(ladder_pipeline(dir, props, false, 150));
  Media b = parse_media(slurp(dir + "/hi/index.m3u8"));
  ASSERT_EQ(b.uris.size(), 6u);
  EXPECT_EQ(b.uris[3], "seg-3.ts");
  EXPECT_TRUE(b.discontinuity[3]);
  EXPECT_FALSE(b.endlist);
}

GstPadProbeReturn inject(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  auto *count = static_cast<int *>(data);
  if (++*count == 60) {  // at 2.4 s: a source switch upstream
    gst_pad_push_event(pad, gst_event_new_custom(GST_EVENT_CUSTOM_DOWNSTREAM,
                                                 gst_structure_new_empty("iptv-discontinuity")));
  }
  (void)info;
  return GST_PAD_PROBE_OK;
}

TEST(HlsSink, DiscontinuityFromUpstreamEventAndWindowSlides) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch";
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(
      ("videotestsrc pattern=ball num-buffers=250 ! video/x-raw,width=160,height=90,framerate=25/1 "
       "! "
       "x264enc speed-preset=ultrafast key-int-max=25 ! h264parse ! identity name=inj ! "
       "iptvhlssink location=" +
       dir +
       " target-duration=1 playlist-length=3 sequence-mode=counter "
       "segment-retention=0")
          .c_str(),
      &err);
  ASSERT_NE(p, nullptr);
  GstElement *inj = gst_bin_get_by_name(GST_BIN(p), "inj");
  GstPad *src = gst_element_get_static_pad(inj, "src");
  int count = 0;
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, inject, &count, nullptr);
  GstBus *bus = gst_element_get_bus(p);
  // Watch the playlists as they are written.
  std::vector<Media> seen;
  gst_element_set_state(p, GST_STATE_PLAYING);
  while (GstMessage *m = gst_bus_timed_pop_filtered(
             bus, 60 * GST_SECOND,
             (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT))) {
    bool done = GST_MESSAGE_TYPE(m) != GST_MESSAGE_ELEMENT;
    if (!done &&
        gst_structure_has_name(gst_message_get_structure(m), "iptvhlssink-playlist-written") &&
        g_str_equal(gst_structure_get_string(gst_message_get_structure(m), "rendition"), "v0"))
      seen.push_back(parse_media(slurp(dir + "/v0/index.m3u8")));
    gst_message_unref(m);
    if (done) break;
  }
  gst_element_set_state(p, GST_STATE_NULL);
  ASSERT_GE(seen.size(), 8u);
  // The segment starting at the event carries the tag; DISCONTINUITY-SEQUENCE counts it once it
  // has scrolled out of the 3-segment window.
  bool tagged = false;
  for (auto &m : seen)
    for (size_t i = 0; i < m.uris.size(); ++i)
      if (m.discontinuity[i]) tagged = true;
  EXPECT_TRUE(tagged);
  EXPECT_EQ(seen.back().discontinuity_sequence, 1u);
  EXPECT_LE(seen.back().uris.size(), 3u);
  // Segments that left the window are deleted (retention 0).
  size_t files = 0;
  for (auto &e : fs::directory_iterator(dir + "/v0"))
    if (e.path().extension() == ".ts") ++files;
  EXPECT_LE(files, 4u);
  gst_object_unref(src);
  gst_object_unref(inj);
  gst_object_unref(bus);
  gst_object_unref(p);
}

}  // namespace

// Drops the first keyframe and shifts every buffer from the 10th on by 2 s: a timestamp jump
// before the first segment starts (a worker's start-up), which is no discontinuity.
GstPadProbeReturn jump_before_start(GstPad *, GstPadProbeInfo *info, gpointer data) {
  auto *count = static_cast<int *>(data);
  int n = (*count)++;
  if (n == 0) return GST_PAD_PROBE_DROP;
  if (n < 10) return GST_PAD_PROBE_OK;
  GstBuffer *buf = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
  if (GST_BUFFER_PTS_IS_VALID(buf)) GST_BUFFER_PTS(buf) += 2 * GST_SECOND;
  if (GST_BUFFER_DTS_IS_VALID(buf)) GST_BUFFER_DTS(buf) += 2 * GST_SECOND;
  GST_PAD_PROBE_INFO_DATA(info) = buf;
  return GST_PAD_PROBE_OK;
}

TEST(HlsSink, JumpBeforeTheFirstSegmentIsNoDiscontinuity) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch";
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(
      ("videotestsrc pattern=ball num-buffers=100 ! video/x-raw,width=160,height=90,framerate=25/1 "
       "! x264enc speed-preset=ultrafast key-int-max=25 ! h264parse ! identity name=inj ! "
       "iptvhlssink location=" +
       dir + " target-duration=1 playlist-length=10 sequence-mode=counter")
          .c_str(),
      &err);
  ASSERT_NE(p, nullptr);
  GstElement *inj = gst_bin_get_by_name(GST_BIN(p), "inj");
  GstPad *src = gst_element_get_static_pad(inj, "src");
  int count = 0;
  gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, jump_before_start, &count, nullptr);
  GstBus *bus = gst_element_get_bus(p);
  gst_element_set_state(p, GST_STATE_PLAYING);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND,
                                             (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(GST_MESSAGE_TYPE(m), GST_MESSAGE_EOS);
  gst_message_unref(m);
  gst_element_set_state(p, GST_STATE_NULL);
  gst_object_unref(src);
  gst_object_unref(inj);
  gst_object_unref(bus);
  gst_object_unref(p);
  Media media = parse_media(slurp(dir + "/v0/index.m3u8"));
  ASSERT_GE(media.uris.size(), 2u);
  for (size_t i = 0; i < media.uris.size(); ++i) EXPECT_FALSE(media.discontinuity[i]) << i;
}

// An operator takes a broken rendition off the air and back: the multivariant playlist drops it
// at once, the other rendition never stalls, and the rendition resumes with a discontinuity,
// continuing numbers and no overlong segment.
TEST(HlsSink, DisabledRenditionLeavesAndRejoins) {
  iptv_test::TempDir tmp;
  std::string dir = tmp.path() + "/ch";
  std::string desc = ladder_pipeline(dir, "target-duration=1 sequence-mode=counter", true, 0, "1");
  GError *err = nullptr;
  GstElement *p = gst_parse_launch(desc.c_str(), &err);
  ASSERT_NE(p, nullptr);
  GstElement *sink = gst_bin_get_by_name(GST_BIN(p), "s");
  gst_element_set_state(p, GST_STATE_PLAYING);
  auto wait_segments = [&](const std::string &r, size_t n, int seconds) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (parse_media(slurp(dir + "/" + r + "/index.m3u8")).uris.size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  };
  ASSERT_TRUE(wait_segments("lo", 2, 15));
  ASSERT_NE(slurp(dir + "/index.m3u8").find("lo/index.m3u8"), std::string::npos);
  g_object_set(sink, "disabled-renditions", "lo", nullptr);
  gchar *v = nullptr;
  g_object_get(sink, "disabled-renditions", &v, nullptr);
  EXPECT_STREQ(v, "lo");
  g_free(v);
  EXPECT_EQ(slurp(dir + "/index.m3u8").find("lo/index.m3u8"), std::string::npos)
      << "the multivariant playlist must drop it at once";
  EXPECT_NE(slurp(dir + "/index.m3u8").find("hi/index.m3u8"), std::string::npos);
  size_t hi_before = parse_media(slurp(dir + "/hi/index.m3u8")).uris.size();
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  size_t hi_during = parse_media(slurp(dir + "/hi/index.m3u8")).uris.size();
  EXPECT_GE(hi_during, hi_before + 2) << "the other rendition must keep going";
  g_object_set(sink, "disabled-renditions", "", nullptr);
  size_t lo_n = parse_media(slurp(dir + "/lo/index.m3u8")).uris.size();
  ASSERT_TRUE(wait_segments("lo", lo_n + 3, 15));
  EXPECT_NE(slurp(dir + "/index.m3u8").find("lo/index.m3u8"), std::string::npos);
  gst_element_send_event(p, gst_event_new_eos());
  GstBus *bus = gst_element_get_bus(p);
  GstMessage *m = gst_bus_timed_pop_filtered(bus, 10 * GST_SECOND,
                                             (GstMessageType)(GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  if (m) gst_message_unref(m);
  gst_object_unref(bus);
  gst_element_set_state(p, GST_STATE_NULL);
  Media lo = parse_media(slurp(dir + "/lo/index.m3u8"));
  Media hi = parse_media(slurp(dir + "/hi/index.m3u8"));
  int lo_disc = 0, hi_disc = 0;
  for (bool d : lo.discontinuity) lo_disc += d;
  for (bool d : hi.discontinuity) hi_disc += d;
  EXPECT_EQ(lo_disc, 1) << slurp(dir + "/lo/index.m3u8");
  EXPECT_EQ(hi_disc, 0) << slurp(dir + "/hi/index.m3u8");
  for (size_t i = 0; i < lo.extinf.size(); ++i)
    EXPECT_LE(lo.extinf[i], 1.2) << "segment " << i << "\n" << slurp(dir + "/lo/index.m3u8");
  for (size_t i = 1; i < lo.uris.size(); ++i)
    EXPECT_EQ(lo.uris[i], "seg-" + std::to_string(lo.media_sequence + i) + ".ts");
  gst_object_unref(sink);
  gst_object_unref(p);
}
