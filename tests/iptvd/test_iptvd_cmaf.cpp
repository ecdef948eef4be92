// iptvd with CMAF channels (issue 14): records with hls.segment_format fmp4 and dash true run
// through real workers; a hot reload that changes the format rebuilds only that channel and its
// numbers go on behind one discontinuity; a restart continues the HLS sequence and the DASH
// numbers; the API and /metrics show the format.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <regex>
#include <thread>
#include <tuple>

#include "iptvd_fixture.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

// The segment URIs of a media playlist, in order.
std::vector<std::string> uris(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty() && line[0] != '#') out.push_back(line);
  return out;
}

// The numbers a DASH MPD lists for a Representation: startNumber and one per S (with @r).
std::vector<uint64_t> mpd_numbers(const std::string &mpd, const std::string &rep) {
  std::vector<uint64_t> out;
  size_t at = mpd.find("<Representation id=\"" + rep + "\"");
  if (at == std::string::npos) return out;
  size_t end = mpd.find("</Representation>", at);
  std::string r = mpd.substr(at, end - at);
  std::smatch m;
  if (!std::regex_search(r, m, std::regex("startNumber=\"(\\d+)\""))) return out;
  uint64_t n = std::stoull(m[1]);
  std::regex s_re("<S( t=\"\\d+\")? d=\"\\d+\"( r=\"(\\d+)\")?/>");
  for (auto it = std::sregex_iterator(r.begin(), r.end(), s_re); it != std::sregex_iterator();
       ++it) {
    uint64_t rep_count = (*it)[3].matched ? std::stoull((*it)[3]) : 0;
    for (uint64_t i = 0; i <= rep_count; i++) out.push_back(n++);
  }
  return out;
}

class IptvdCmaf : public ::testing::Test {
 protected:
  void SetUp() override {
    channels_ = tmp_.path() + "/channels";
    fs::create_directories(channels_);
  }
  void add(const std::string &id, const std::string &extra = "") {
    write_file(channels_ + "/" + id + ".yaml", channel_yaml(id, extra));
  }
  iptv_test::TempDir tmp_;
  std::string channels_;
};

const char *kFmp4Dash =
    "  segment_format: fmp4\n  audio_language: en\n  audio_name: English\ndash: true\n";

TEST_F(IptvdCmaf, FormatChangeOnHotReloadRebuildsOnlyThatChannelBehindOneDiscontinuity) {
  add("keep");
  add("fmt");
  Iptvd d(channels_);
  d.start();
  ASSERT_TRUE(d.wait_live({"keep", "fmt"}, 60, 2)) << d.log();
  pid_t keep = d.worker_pid("keep"), fmt = d.worker_pid("fmt");
  auto before = parse_media(d.playlist("fmt", "180p"));
  ASSERT_FALSE(before.sequences.empty());
  uint64_t last_ts = before.sequences.back();
  EXPECT_EQ(d.channel("fmt").value("segment_format", ""), "ts") << d.channel("fmt").dump();

  add("fmt", kFmp4Dash);  // ts -> fmp4 with DASH
  ASSERT_TRUE(wait_for(60,
                       [&] {
                         auto u = uris(d.playlist("fmt", "180p"));
                         return d.worker_pid("fmt") > 0 && d.worker_pid("fmt") != fmt &&
                                u.size() >= 3 && fs::exists(d.data() + "/hls/fmt/manifest.mpd");
                       }))
      << d.log() << d.playlist("fmt", "180p");
  EXPECT_EQ(d.worker_pid("keep"), keep) << "a channel whose record did not change keeps its worker";
  std::string pl = d.playlist("fmt", "180p");
  auto after = parse_media(pl);
  // Only fMP4 segments in the window, the numbers went on (epoch numbers: the time the rebuild
  // took, never backwards), and exactly one discontinuity marks the change.
  for (const auto &u : uris(pl)) EXPECT_NE(u.find(".m4s"), std::string::npos) << pl;
  EXPECT_NE(pl.find("#EXT-X-MAP:URI=\"init.mp4\""), std::string::npos) << pl;
  EXPECT_GT(after.sequences.front(), last_ts) << pl;
  EXPECT_LT(after.sequences.front(), last_ts + 60) << pl;
  for (size_t i = 1; i < after.sequences.size(); ++i)
    EXPECT_EQ(after.sequences[i], after.sequences[i - 1] + 1) << pl;
  EXPECT_EQ(after.discontinuities, 1) << pl;
  EXPECT_LT(pl.find("#EXT-X-DISCONTINUITY\n"), pl.find("seg-" + std::to_string(after.sequences[0])))
      << "the discontinuity is on the first fMP4 segment: " << pl;
  // The audio rendition with the record's language and name.
  std::string mv = slurp(d.data() + "/hls/fmt/index.m3u8");
  EXPECT_NE(mv.find("TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"English\",LANGUAGE=\"en\""),
            std::string::npos)
      << mv;
  // The MPD over the same files: DASH number N is HLS sequence N.
  std::string mpd = slurp(d.data() + "/hls/fmt/manifest.mpd");
  auto nums = mpd_numbers(mpd, "180p");
  ASSERT_FALSE(nums.empty()) << mpd;
  for (uint64_t n : nums)
    EXPECT_TRUE(fs::exists(d.data() + "/hls/fmt/180p/seg-" + std::to_string(n) + ".m4s")) << n;
  EXPECT_NE(mpd.find("lang=\"en\""), std::string::npos) << mpd;
  // The API and /metrics show the format per channel.
  auto ch = d.channel("fmt");
  EXPECT_EQ(ch.value("segment_format", ""), "fmp4") << ch.dump();
  EXPECT_EQ(ch.value("dash", false), true) << ch.dump();
  Http metrics = d.get("/metrics", d.admin_key());
  EXPECT_NE(
      metrics.body.find(
          "iptv_channel_packaging_info{channel=\"fmt\",segment_format=\"fmp4\",dash=\"true\"} 1"),
      std::string::npos)
      << metrics.body.substr(0, 2000);
  EXPECT_NE(
      metrics.body.find(
          "iptv_channel_packaging_info{channel=\"keep\",segment_format=\"ts\",dash=\"false\"} 1"),
      std::string::npos);
}

// The reverse change (issue 14): a hot reload from fmp4 + DASH back to ts. The media playlists
// keep their numbers behind one discontinuity on the first .ts segment; once the fMP4 segments
// have left the window no EXT-X-MAP is left, the multivariant playlist loses the audio group
// (audio is muxed into the TS again) and the MPD is gone from the origin (404), so no DASH
// client keeps following a manifest nobody updates.
TEST_F(IptvdCmaf, Fmp4ToTsHotReloadKeepsNumbersBehindOneDiscontinuityAndRetiresTheMpd) {
  add("fmt", kFmp4Dash);
  Iptvd d(channels_);
  d.start();
  ASSERT_TRUE(d.wait_live({"fmt"}, 60, 2)) << d.log();
  ASSERT_TRUE(wait_for(30, [&] { return fs::exists(d.data() + "/hls/fmt/manifest.mpd"); }));
  EXPECT_EQ(d.get("/hls/fmt/manifest.mpd").status, 200);
  pid_t fmt = d.worker_pid("fmt");
  auto before = parse_media(d.playlist("fmt", "180p"));
  ASSERT_FALSE(before.sequences.empty());
  uint64_t last_fmp4 = before.sequences.back();

  add("fmt");  // fmp4 + dash -> ts
  ASSERT_TRUE(wait_for(60,
                       [&] {
                         auto u = uris(d.playlist("fmt", "180p"));
                         return d.worker_pid("fmt") > 0 && d.worker_pid("fmt") != fmt &&
                                !u.empty() && u.back().find(".ts") != std::string::npos;
                       }))
      << d.log() << d.playlist("fmt", "180p");
  std::string pl = d.playlist("fmt", "180p");
  auto m = parse_media(pl);
  // The numbers only grow across the change, and one discontinuity sits on the first .ts.
  for (size_t i = 1; i < m.sequences.size(); ++i)
    EXPECT_GT(m.sequences[i], m.sequences[i - 1]) << pl;
  EXPECT_EQ(m.discontinuities, 1) << pl;
  size_t first_ts = pl.find(".ts\n");
  ASSERT_NE(first_ts, std::string::npos) << pl;
  size_t seg_line = pl.rfind("\n", first_ts) + 1;
  std::string before_first_ts = pl.substr(0, seg_line);
  EXPECT_NE(before_first_ts.rfind("#EXT-X-DISCONTINUITY\n"), std::string::npos) << pl;
  EXPECT_EQ(before_first_ts.find(".ts\n"), std::string::npos) << pl;
  auto ts_seq = std::stoull(pl.substr(seg_line + 4, first_ts - seg_line - 4));
  EXPECT_GT(ts_seq, last_fmp4) << pl;
  EXPECT_LT(ts_seq, last_fmp4 + 60) << pl;
  // Once the window holds only TS: no EXT-X-MAP, no separate audio rendition, no MPD.
  ASSERT_TRUE(wait_for(60, [&] {
    for (const auto &u : uris(d.playlist("fmt", "180p")))
      if (u.find(".m4s") != std::string::npos) return false;
    return true;
  })) << d.playlist("fmt", "180p");
  pl = d.playlist("fmt", "180p");
  EXPECT_EQ(pl.find("#EXT-X-MAP"), std::string::npos) << pl;
  std::string mv = slurp(d.data() + "/hls/fmt/index.m3u8");
  EXPECT_EQ(mv.find("TYPE=AUDIO"), std::string::npos) << mv;
  EXPECT_EQ(d.get("/hls/fmt/manifest.mpd").status, 404);
  EXPECT_EQ(d.channel("fmt").value("segment_format", ""), "ts");
  EXPECT_EQ(d.channel("fmt").value("dash", true), false);
}

TEST_F(IptvdCmaf, RestartContinuesHlsSequenceAndDashNumbers) {
  add("cm", kFmp4Dash);
  iptv_test::TempDir data;
  uint64_t last = 0;
  {
    Iptvd d(channels_, {}, data.path());
    d.start();
    ASSERT_TRUE(d.wait_live({"cm"}, 60, 3)) << d.log();
    ASSERT_TRUE(wait_for(20, [&] {
      return !mpd_numbers(slurp(d.data() + "/hls/cm/manifest.mpd"), "180p").empty();
    }));
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait_exit(20), 0) << d.log();
    auto m = parse_media(d.playlist("cm", "180p"));
    ASSERT_FALSE(m.sequences.empty());
    last = m.sequences.back();
  }
  {
    Iptvd d(channels_, {}, data.path());
    d.start();
    ASSERT_TRUE(wait_for(60, [&] {
      auto n = mpd_numbers(slurp(d.data() + "/hls/cm/manifest.mpd"), "180p");
      return !n.empty() && n.front() > last && n.size() >= 2;
    })) << d.log();
    std::string pl = d.playlist("cm", "180p");
    auto m = parse_media(pl);
    // HLS: the numbers go on past the previous run's, each listed name its implied number
    // (the window kept, or restarted after a gap in numbers), behind one discontinuity.
    expect_continued(m, last, pl, ".m4s");
    EXPECT_EQ(m.discontinuities, 1) << pl;
    // DASH: numbers go on past the previous run's, each the HLS segment of that number.
    std::string mpd = slurp(d.data() + "/hls/cm/manifest.mpd");
    for (const char *rep : {"180p", "audio"}) {
      auto nums = mpd_numbers(mpd, rep);
      ASSERT_FALSE(nums.empty()) << rep << mpd;
      EXPECT_GT(nums.front(), last) << rep << mpd;
      auto listed = uris(d.playlist("cm", rep));
      for (uint64_t n : nums) {
        std::string f = "seg-" + std::to_string(n) + ".m4s";
        EXPECT_TRUE(fs::exists(d.data() + "/hls/cm/" + rep + "/" + f)) << rep << " " << n;
        // DASH number n and HLS sequence n are the same file.
        auto at = std::find(m.sequences.begin(), m.sequences.end(), n);
        if (std::string(rep) == "180p" && at != m.sequences.end())
          EXPECT_EQ(m.uris[at - m.sequences.begin()], f) << rep << " " << n;
        bool in_hls = std::find(listed.begin(), listed.end(), f) != listed.end();
        EXPECT_TRUE(in_hls || n > m.sequences.back()) << rep << " " << f;
      }
    }
  }
}

// Low-latency HLS (issue 16): hls.low_latency.part_seconds reaches the worker's iptvhlssink
// (parts in the playlists iptvd serves), the API's channel view and /metrics show the part age,
// and ffprobe, which does not do low latency, reads the same URL from iptvd's origin as ordinary
// HLS. A second channel has the same record with MPEG-TS segments (the default format): its
// parts are seg-N.k.ts, iptvd's origin serves them and answers a blocking reload for the hinted
// part, and ffprobe reads it as ordinary HLS too.
TEST_F(IptvdCmaf, LowLatencyRecordMakesPartsAndTheApiShowsThePartAge) {
  add("ll", "  segment_format: fmp4\n  low_latency:\n    part_seconds: 0.5\n");
  add("llts", "  low_latency:\n    part_seconds: 0.5\n");
  Iptvd d(channels_);
  d.start();
  ASSERT_TRUE(d.wait_live({"ll", "llts"}, 60, 2)) << d.log();
  {
    std::string ts = d.playlist("llts", "180p");
    EXPECT_NE(ts.find("#EXT-X-PART-INF:PART-TARGET=0.5\n"), std::string::npos) << ts;
    EXPECT_EQ(ts.find("#EXT-X-MAP"), std::string::npos) << ts;
    std::smatch h;
    ASSERT_TRUE(std::regex_search(
        ts, h, std::regex("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg-([0-9]+)\\.([0-9]+)\\.ts\"")))
        << ts;
    // A blocking reload for the hinted part returns once it is published, listing it.
    std::string hinted = "seg-" + h[1].str() + "." + h[2].str() + ".ts";
    Http blocked =
        d.get("/hls/llts/180p/index.m3u8?_HLS_msn=" + h[1].str() + "&_HLS_part=" + h[2].str());
    EXPECT_EQ(blocked.status, 200) << blocked.body;
    EXPECT_NE(blocked.body.find("URI=\"" + hinted + "\""), std::string::npos) << blocked.body;
    Http part = d.get("/hls/llts/180p/" + hinted);
    EXPECT_EQ(part.status, 200);
    ASSERT_FALSE(part.body.empty());
    EXPECT_EQ(part.body.size() % 188, 0u);
    EXPECT_EQ(part.body[0], 0x47);
    int rc = -1;
    std::string ff =
        sh("timeout 60 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '" + d.base() +
               "/hls/llts/index.m3u8' 2>&1",
           &rc);
    EXPECT_EQ(rc, 0) << ff;
    EXPECT_NE(ff.find("h264"), std::string::npos) << ff;
    EXPECT_NE(ff.find("aac"), std::string::npos) << ff;
  }
  std::string pl = d.playlist("ll", "180p");
  EXPECT_NE(pl.find("#EXT-X-PART-INF:PART-TARGET=0.5\n"), std::string::npos) << pl;
  EXPECT_NE(pl.find("#EXT-X-PART:DURATION="), std::string::npos) << pl;
  EXPECT_NE(pl.find("#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""), std::string::npos) << pl;
  EXPECT_NE(pl.find("#EXT-X-RENDITION-REPORT:URI=\"../audio/index.m3u8\""), std::string::npos)
      << pl;
  // The part age: per rendition and per channel, a fresh figure (parts every 0.5 s, reported
  // with the worker's heartbeat).
  nlohmann::json ch;
  ASSERT_TRUE(wait_for(20, [&] {
    ch = d.channel("ll");
    return ch.contains("last_part_age_seconds") && ch["last_part_age_seconds"].is_number();
  })) << ch.dump();
  EXPECT_LT(ch["last_part_age_seconds"].get<double>(), 5.0) << ch.dump();
  bool video = false;
  for (const auto &r : ch["renditions"])
    if (r["name"] == "180p") {
      video = true;
      ASSERT_TRUE(r["last_part_age_seconds"].is_number()) << ch.dump();
      EXPECT_GE(r["last_part_age_seconds"].get<double>(), 0.0);
      EXPECT_LT(r["last_part_age_seconds"].get<double>(), 5.0) << ch.dump();
    }
  EXPECT_TRUE(video) << ch.dump();
  Http metrics = d.get("/metrics", d.admin_key());
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      metrics.body, m,
      std::regex("iptv_rendition_last_part_age_seconds\\{channel=\"ll\",rendition=\"180p\"\\} "
                 "([0-9.e+-]+)")))
      << metrics.body.substr(0, 3000);
  EXPECT_LT(std::stod(m[1]), 5.0);
  // ffprobe through iptvd's origin, as ordinary HLS.
  int rc = -1;
  std::string ff = sh("timeout 60 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '" +
                          d.base() + "/hls/ll/index.m3u8' 2>&1",
                      &rc);
  EXPECT_EQ(rc, 0) << ff;
  EXPECT_NE(ff.find("h264"), std::string::npos) << ff;
  EXPECT_NE(ff.find("aac"), std::string::npos) << ff;
}

}  // namespace

// H.265 through iptvd (passthrough): one real UDP MPEG-TS sender (x265enc + AAC) feeds two
// passthrough channels, one fMP4 + DASH, one MPEG-TS. fMP4: the init segment's sample entry is
// hvc1 with an hvcC from the bitstream (ffprobe decodes init + segment), the multivariant CODECS
// and the MPD's codecs are the init segment's hvc1 string. hlsdemux2 plays both through the
// origin with a token URL. MPEG-TS carries H.265 too (stream type 0x24; ffprobe and hlsdemux2
// read it), but no Apple device or browser plays HEVC in TS: fMP4 is the format for HEVC.
TEST_F(IptvdCmaf, H265PassthroughIsHvc1InFmp4AndPlays) {
  int pf = iptv_test::free_port(), pt = iptv_test::free_port();
  for (auto [id, port, extra] :
       {std::tuple{"hvf", pf, "  segment_format: fmp4\ndash: true\n"}, std::tuple{"hvt", pt, ""}})
    write_file(channels_ + "/" + id + ".yaml",
               std::string("channel_id: ") + id +
                   "\nsource: udp://127.0.0.1:" + std::to_string(port) +
                   "\nprofiles: [passthrough]\nrights:\n  owner: Test\n  licence: test\n"
                   "access:\n  account_required: false\n"
                   "hls:\n  segment_seconds: 1\n  window_segments: 6\n" +
                   extra);
  // Tokens on: the playback URL carries one in its path.
  write_file(tmp_.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 900\n");
  Iptvd d(channels_, {"--config", tmp_.path() + "/iptvd.yaml"});
  d.start();
  std::string log = tmp_.path() + "/sender.log";
  pid_t sender = std::atoi(
      sh("gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! "
         "video/x-raw,width=320,height=180,framerate=25/1,format=I420 ! x265enc tune=zerolatency "
         "speed-preset=ultrafast key-int-max=25 bitrate=300 ! h265parse ! mpegtsmux name=m "
         "alignment=7 ! tee name=t ! queue ! udpsink host=127.0.0.1 port=" +
         std::to_string(pf) + " t. ! queue ! udpsink host=127.0.0.1 port=" + std::to_string(pt) +
         " audiotestsrc is-live=true samplesperbuffer=1024 ! audioconvert ! avenc_aac ! aacparse "
         "! m. >" +
         log + " 2>&1 & echo $!")
          .c_str());
  struct Kill {
    pid_t pid;
    ~Kill() {
      if (pid > 0) ::kill(pid, SIGKILL);
    }
  } kill_sender{sender};
  ASSERT_TRUE(d.wait_live({"hvf", "hvt"}, 90, 3)) << d.log() << slurp(log);
  std::string dir = d.data() + "/hls/hvf";
  // fMP4: hvc1, decodable from init + segment; the codecs strings are the init segment's.
  auto m = parse_media(d.playlist("hvf", "source"));
  ASSERT_GE(m.sequences.size(), 2u);
  std::string seg = dir + "/source/seg-" + std::to_string(m.sequences[1]) + ".m4s";
  std::string joined = tmp_.path() + "/hvf.mp4";
  sh("cat '" + dir + "/source/init.mp4' '" + seg + "' > '" + joined + "'");
  std::string ff =
      sh("timeout 60 ffprobe -v error -count_frames -select_streams v:0 -show_entries "
         "stream=codec_name,codec_tag_string,width,height,nb_read_frames -of csv=p=0 '" +
         joined + "' 2>&1");
  EXPECT_NE(ff.find("hevc,hvc1,320,180,"), std::string::npos) << ff;
  std::smatch frames;
  ASSERT_TRUE(std::regex_search(ff, frames, std::regex("320,180,(\\d+)"))) << ff;
  EXPECT_GE(std::stoi(frames[1]), 20) << "a 1 s segment at 25 fps: " << ff;
  std::string mv = slurp(dir + "/index.m3u8");
  std::smatch c;
  ASSERT_TRUE(std::regex_search(mv, c, std::regex("CODECS=\"(hvc1\\.[^,\"]+),mp4a\\.40\\.2\"")))
      << mv;
  EXPECT_NE(slurp(dir + "/manifest.mpd").find("codecs=\"" + std::string(c[1]) + "\""),
            std::string::npos)
      << slurp(dir + "/manifest.mpd");
  // MPEG-TS: H.265 carried as is.
  auto mt = parse_media(d.playlist("hvt", "source"));
  ASSERT_FALSE(mt.sequences.empty());
  std::string ts = d.data() + "/hls/hvt/source/seg-" + std::to_string(mt.sequences.back()) + ".ts";
  std::string fft = sh("timeout 60 ffprobe -v error -show_entries stream=codec_name -of csv=p=0 '" +
                       ts + "' 2>&1");
  EXPECT_NE(fft.find("hevc"), std::string::npos) << fft;
  EXPECT_NE(fft.find("aac"), std::string::npos) << fft;
  // hlsdemux2 plays both through the origin, with a token URL, for 8 s of real time each.
  for (const char *id : {"hvf", "hvt"}) {
    SCOPED_TRACE(id);
    std::string url = d.playback_url(id);
    // <base>/hls/<id>/<token>/index.m3u8
    ASSERT_TRUE(
        std::regex_search(url, std::regex("/hls/" + std::string(id) + "/[^/]+/index\\.m3u8$")))
        << url;
    int st = -1;
    std::string out = sh("timeout 40 /usr/bin/python3 " + iptv_test::source_root() +
                             "/tests/hlssink/play_live.py '" + url + "' hlsdemux2 8 2>&1",
                         &st);
    EXPECT_EQ(st, 0) << out;
    std::smatch p;
    ASSERT_TRUE(std::regex_search(out, p, std::regex("demuxer=(\\S+) video=(\\d+) audio=(\\d+)")))
        << out;
    EXPECT_EQ(p[1], "hlsdemux2");
    EXPECT_GE(std::stoi(p[2]), 50) << out;
    EXPECT_GE(std::stoi(p[3]), 80) << out;
  }
  // The console's thumbnail of an H.265 passthrough channel: its keyframe decoded (avdec_h265).
  for (const char *id : {"hvf", "hvt"}) {
    std::string jpg = d.data() + "/thumbnails/" + id + ".jpg";
    EXPECT_TRUE(wait_for(20, [&] { return fs::exists(jpg); })) << id << "\n" << d.log();
    std::string w =
        sh("ffprobe -v error -show_entries stream=codec_name,width -of csv=p=0 '" + jpg + "' 2>&1");
    EXPECT_NE(w.find("mjpeg,"), std::string::npos) << id << ": " << w;
  }
  EXPECT_EQ(d.log().find("thumbnail:"), std::string::npos) << d.log();
}
