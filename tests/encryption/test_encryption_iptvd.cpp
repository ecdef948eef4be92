// AES-128 with rotating keys through a real iptvd, its real workers and its origin, with real
// clients: ffmpeg decodes the encrypted TS and fMP4 channels (live and a catch-up range across a
// key rotation), hls.js in chromium plays them (live, a DVR seek-back, a catch-up range) and VLC
// records both, the segment files on disk do not decode
// without the key (and do with it), keys rotate every N segments (distinct key ids and IVs), a
// wrong, expired, foreign or revoked token gets no key (revocation within 1 s), keys are never in
// the spec file or the log, and a missing master key file stops iptvd with a clear error.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>

#include "browser_player.h"
#include "crypto/aes.h"
#include "iptvd_fixture.h"
#include "token/token.h"
#include "util/strutil.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

int64_t unix_now() {
  return (int64_t)std::time(nullptr);
}

std::string shq(const std::string &s) {
  return "'" + s + "'";
}

// Video frames ffmpeg decodes from `url` (framemd5: one line per frame), at most `seconds`.
int decoded_frames(const std::string &url, double seconds, std::string *log) {
  int st = -1;
  std::string out = sh("timeout 90 ffmpeg -nostdin -v error -i " + shq(url) + " -t " +
                           std::to_string(seconds) + " -map 0:v:0 -f framemd5 - 2>&1",
                       &st);
  if (log) *log = out;
  int frames = 0;
  for (const auto &l : iptv::split(out, '\n'))
    if (!l.empty() && l[0] != '#' && l.find(',') != std::string::npos) ++frames;
  return st == 0 ? frames : -1;
}

struct KeyLine {
  std::string uri, iv;
};
std::vector<KeyLine> key_lines(const std::string &playlist) {
  std::vector<KeyLine> out;
  std::regex re("#EXT-X-KEY:METHOD=AES-128,URI=\"([^\"]+)\",IV=0x([0-9a-f]{32})");
  for (std::sregex_iterator it(playlist.begin(), playlist.end(), re), end; it != end; ++it)
    out.push_back({(*it)[1].str(), (*it)[2].str()});
  return out;
}

std::string first_segment_uri(const std::string &playlist) {
  for (const auto &l : iptv::split(playlist, '\n'))
    if (!l.empty() && l[0] != '#') return l;
  return "";
}

std::string channel(const std::string &id, const std::string &format, int dvr_seconds = 0) {
  return channel_yaml(
      id, "  segment_format: " + format +
              "\naccess:\n  account_required: false\n"
              "rights: {owner: Test, licence: T-1, catchup_days: 1}\n"
              "catchup: {days: 1}\n" +
              (dvr_seconds ? "dvr: {window_seconds: " + std::to_string(dvr_seconds) + "}\n"
                           : std::string()) +
              "encryption: {method: aes-128, rotate_segments: 3}\n");
}

}  // namespace

TEST(EncryptionIptvd, EncryptedChannelsPlayKeysRotateAndOnlyValidTokensGetKeys) {
  iptv_test::TempDir dir;
  write_file(dir.path() + "/locked.yaml", channel("locked", "ts"));
  write_file(dir.path() + "/lockedf.yaml", channel("lockedf", "fmp4", 60));  // with a DVR window
  iptv_test::TempDir state;
  write_file(state.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"locked", "lockedf"}, 90, 1)) << d.log();
  int64_t t_start = unix_now();
  std::string url = d.playback_url("locked");
  ASSERT_FALSE(url.empty());
  std::string base = url.substr(0, url.rfind('/') + 1);  // .../hls/locked/<token>/
  std::string token = base.substr(0, base.size() - 1);
  token = token.substr(token.rfind('/') + 1);
  // Enough programme for three key periods (3 segments of 1 s each) in the window of 6.
  ASSERT_TRUE(wait_for(60, [&] {
    return parse_media(d.playlist("locked", "180p")).durations.size() >= 6;
  })) << d.playlist("locked", "180p");

  // The live playlist through the origin: EXT-X-KEY per key period, the URI the key route of this
  // viewer's own token, a distinct key id and IV per period.
  Reply pl = fetch(base + "180p/index.m3u8");
  ASSERT_EQ(pl.status, 200) << pl.body;
  EXPECT_EQ(pl.body.find("{token}"), std::string::npos) << pl.body;
  auto keys = key_lines(pl.body);
  ASSERT_GE(keys.size(), 2u) << pl.body;
  std::set<std::string> ids, ivs;
  for (const auto &k : keys) {
    EXPECT_EQ(k.uri.rfind("../../../../keys/locked/" + token + "/", 0), 0u) << k.uri;
    ids.insert(k.uri.substr(k.uri.rfind('/') + 1));
    ivs.insert(k.iv);
  }
  EXPECT_EQ(ids.size(), keys.size()) << pl.body;
  EXPECT_EQ(ivs.size(), keys.size()) << pl.body;
  // Rotation every 3 segments: between two key lines, at most 3 segments.
  {
    int run = 0, max_run = 0;
    bool seen_key = false;
    for (const auto &l : iptv::split(pl.body, '\n')) {
      if (l.rfind("#EXT-X-KEY:", 0) == 0) {
        if (seen_key) max_run = std::max(max_run, run);
        seen_key = true;
        run = 0;
      } else if (!l.empty() && l[0] != '#') {
        ++run;
      }
    }
    EXPECT_LE(max_run, 3) << pl.body;
    EXPECT_GE(max_run, 1) << pl.body;
  }

  // ffmpeg decodes the live TS and fMP4 channels through their token URLs.
  std::string ff;
  EXPECT_GT(decoded_frames(url, 3, &ff), 30) << ff;
  std::string urlf = d.playback_url("lockedf");
  EXPECT_GT(decoded_frames(urlf, 3, &ff), 30) << ff;

  // The file on disk does not decode without its key, and does with it (from the key route).
  std::string seg_uri = first_segment_uri(pl.body);
  ASSERT_FALSE(seg_uri.empty());
  std::string on_disk = d.data() + "/hls/locked/180p/" + seg_uri;
  std::string raw = slurp(on_disk);
  ASSERT_GT(raw.size(), 1000u) << on_disk;
  EXPECT_NE((unsigned char)raw[0], 0x47) << "a clear TS sync byte";
  int st = -1;
  std::string probe = sh("ffprobe -v error -show_streams " + shq(on_disk) + " 2>&1", &st);
  EXPECT_EQ(probe.find("codec_type=video"), std::string::npos) << probe;
  const KeyLine &k0 = keys.front();
  std::string key_url = base + "180p/" + k0.uri;
  Reply key = fetch(key_url);
  ASSERT_EQ(key.status, 200) << key_url;
  EXPECT_EQ(key.body.size(), 16u);
  EXPECT_EQ(key.headers["cache-control"], "no-store");
  auto clear = iptv::crypto::aes128_cbc_decrypt(key.body, *iptv::crypto::from_hex(k0.iv), raw);
  ASSERT_TRUE(clear) << "the first segment's key does not decrypt it";
  ASSERT_GT(clear->size(), 188u * 4);
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ((unsigned char)(*clear)[i * 188], 0x47) << i;
  // The same for the fMP4 media segment (the init segment stays clear).
  {
    std::string f = d.playlist("lockedf", "180p");
    std::string s = first_segment_uri(f);
    std::string fr = slurp(d.data() + "/hls/lockedf/180p/" + s);
    EXPECT_EQ(fr.find("moof"), std::string::npos) << "a clear fMP4 segment";
    std::string init = slurp(d.data() + "/hls/lockedf/180p/init.mp4");
    EXPECT_NE(init.find("moov"), std::string::npos) << "the init segment is clear";
  }

  // Keys never reach the spec file or the log; only the key ids do.
  std::string spec = slurp(d.data() + "/run/locked.json");
  EXPECT_FALSE(spec.empty());
  std::string key_hex = iptv::crypto::to_hex(key.body);
  EXPECT_EQ(spec.find(key_hex), std::string::npos);
  EXPECT_EQ(d.log().find(key_hex), std::string::npos);
  EXPECT_EQ(d.sql("SELECT COUNT(*) FROM enc_keys WHERE channel_id='locked'").substr(0, 1) == "0",
            false);

  // Wrong tokens get no key: forged, expired, another channel's, an unknown key id.
  std::string kid = k0.uri.substr(k0.uri.rfind('/') + 1);
  std::string root = d.base() + "/keys/locked/";
  std::string forged = token;
  size_t h = forged.find("hmac=");
  ASSERT_NE(h, std::string::npos);
  forged[h + 5] = forged[h + 5] == '0' ? '1' : '0';
  Reply f = fetch(root + forged + "/" + kid);
  EXPECT_EQ(f.status, 403);
  EXPECT_EQ(f.headers["x-iptv-deny"], "forged");
  EXPECT_EQ(f.body.size(), 0u);
  iptv::KeyRing ring;
  std::string err;
  ASSERT_TRUE(ring.load_file(d.data() + "/token.keys", &err)) << err;
  iptv::TokenClaims old;
  old.start = unix_now() - 600;
  old.expiry = unix_now() - 60;
  old.acl = iptv::acl_for_channel("locked");
  Reply ex = fetch(root + iptv::token_to_path_segment(iptv::sign_token(old, ring)) + "/" + kid);
  EXPECT_EQ(ex.status, 410);
  EXPECT_EQ(ex.headers["x-iptv-deny"], "expired");
  std::string other_url = d.playback_url("lockedf");
  std::string other = other_url.substr(0, other_url.rfind('/'));
  other = other.substr(other.rfind('/') + 1);
  Reply sc = fetch(root + other + "/" + kid);
  EXPECT_EQ(sc.status, 403);
  EXPECT_EQ(sc.headers["x-iptv-deny"], "scope");
  EXPECT_EQ(fetch(root + token + "/0123456789abcdef").status, 404);
  // And lockedf's keys are not locked's: a valid token of one channel gets no key of the other.
  EXPECT_EQ(fetch(d.base() + "/keys/lockedf/" + other + "/" + kid).status, 404);

  // A catch-up range across a key rotation plays, with the EXT-X-KEY of each archived segment.
  // [now-9, now-3): six 1 s segments, two key periods at least, all recorded and archived.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  int64_t t_end = unix_now() - 3;
  ASSERT_GE(t_end - 6, t_start - 2) << "the channel was not recording yet";
  std::string range = "?start=" + std::to_string(t_end - 6) + "&end=" + std::to_string(t_end);
  Reply cu = fetch(base + "180p/index.m3u8" + range);
  ASSERT_EQ(cu.status, 200) << cu.headers["x-iptv-deny"] << cu.body;
  auto cu_keys = key_lines(cu.body);
  EXPECT_GE(cu_keys.size(), 2u) << cu.body;
  for (const auto &k : cu_keys)
    EXPECT_EQ(k.uri.rfind("../../../../keys/locked/" + token + "/", 0), 0u) << cu.body;
  EXPECT_NE(cu.body.find("#EXT-X-ENDLIST"), std::string::npos) << cu.body;
  EXPECT_GT(decoded_frames(url + range, 10, &ff), 100) << ff << cu.body;

  // hls.js in chromium plays the encrypted TS and fMP4 channels; on the fMP4 channel it seeks
  // back 10 s into the DVR window (segments of earlier key periods), and it plays the encrypted
  // TS catch-up range across a rotation (issue 19).
  std::string missing = iptv_test::browser_missing();
  EXPECT_EQ(missing, "") << "browser tests need " << missing;
  if (missing.empty()) {
    for (const std::string &u : {url, urlf, url + range}) {
      iptv_test::PlayOptions o;
      o.seconds = 5;
      if (u == urlf) o.seek_back = 10;
      std::string rawlog;
      auto r = iptv_test::browser_play(u, o, &rawlog);
      EXPECT_TRUE(r.value("ok", false)) << u << "\n" << rawlog;
      EXPECT_GT(r.value("advanced", 0.0), 3.0) << u << "\n" << rawlog;
      for (auto &e : r["errors"]) EXPECT_FALSE(e.value("fatal", false)) << u << "\n" << rawlog;
      if (u == urlf) {
        double from = r.value("seek_from", 0.0), to = r.value("seek_to", 0.0);
        EXPECT_NEAR(from - to, 10.0, 1.5) << rawlog;
        EXPECT_LT(r.value("end_time", 0.0), from) << "still behind the live point: " << rawlog;
      }
    }
  }

  // VLC (as a non-root user) plays the encrypted TS channel: what it records decodes.
  int vlc_st = -1;
  sh("command -v cvlc >/dev/null && id nobody >/dev/null 2>&1", &vlc_st);
  EXPECT_EQ(vlc_st, 0) << "cvlc (vlc-bin) or the user 'nobody' is missing";
  // And the encrypted fMP4 channel (whole-segment AES-128 over fMP4 segments, clear init
  // segment): VLC 3 (Debian 12's 3.0.24) fetches the key and decrypts, but is unreliable: its
  // MP4 demuxer warns of a truncated box in decrypted segments and the input sometimes ends
  // after the first segments ("EOF reached"). Recorded frames in 8 s over 4 runs: 24, 408, 408,
  // 84. Documented in docs/encryption.md (use TS for VLC viewers); this checks that it gets the
  // key and decodes at least the first segment, and prints how far it got.
  if (vlc_st == 0) {
    std::string vdir = "/tmp/iptv-vlc-" + std::to_string(getpid());
    fs::create_directories(vdir);
    ::chmod(vdir.c_str(), 0777);
    for (const std::string &u : {url, urlf}) {
      std::string rec = vdir + (u == url ? "/rec.ts" : "/recf.ts");
      std::string vlog =
          sh("timeout 60 runuser -u nobody -- env HOME=" + vdir +
             " cvlc -vv -I dummy --no-video-title-show --run-time 8 --play-and-exit " + shq(u) +
             " --sout '#std{access=file,mux=ts,dst=" + rec + "}' 2>&1");
      int frames = decoded_frames(rec, 30, &ff);
      std::string tail = vlog.substr(vlog.size() > 6000 ? vlog.size() - 6000 : 0);
      if (u == url) {
        EXPECT_GT(frames, 30) << ff << "\n" << tail;
        continue;
      }
      int media = 0;
      for (size_t at = 0; (at = vlog.find("Retrieving http", at)) != std::string::npos; ++at) {
        size_t nl = vlog.find('\n', at);
        if (nl != std::string::npos && vlog.compare(nl - 4, 4, ".m4s") == 0) ++media;
      }
      EXPECT_NE(vlog.find("Retrieving AES key"), std::string::npos) << tail;
      EXPECT_GE(frames, 15) << tail;
      std::printf("VLC 3 with encrypted fMP4: %d media segments fetched, %d frames recorded\n",
                  media, frames);
    }
    fs::remove_all(vdir);
  }

  // Revocation stops key delivery at once (within 1 s of the DELETE).
  Http s = d.post("/api/v1/sessions", R"({"channel_id":"locked"})", d.admin_key());
  ASSERT_EQ(s.status, 201) << s.body;
  auto sj = nlohmann::json::parse(s.body);
  std::string surl = sj["playback_url"];
  std::string stoken = surl.substr(0, surl.rfind('/'));
  stoken = stoken.substr(stoken.rfind('/') + 1);
  EXPECT_EQ(fetch(root + stoken + "/" + kid).status, 200);
  EXPECT_EQ(fetch(root + stoken + "/" + kid).status, 200);  // now in the token cache
  auto t0 = std::chrono::steady_clock::now();
  int del = -1;
  sh("curl -s -o /dev/null -w '%{http_code}' -X DELETE -H 'Authorization: Bearer " + d.admin_key() +
         "' '" + d.base() + "/api/v1/sessions/" + sj["session_id"].get<std::string>() +
         "' | grep -q 200",
     &del);
  ASSERT_EQ(del, 0);
  Reply rv = fetch(root + stoken + "/" + kid);
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rv.status, 403);
  EXPECT_EQ(rv.headers["x-iptv-deny"], "revoked");
  EXPECT_EQ(rv.body.size(), 0u);
  EXPECT_LT(elapsed, 1.0);
  std::printf("key revocation: refused %.0f ms after the DELETE was sent\n", elapsed * 1000);
}

TEST(EncryptionIptvd, AMissingMasterKeyFileStopsStartupNamingThePath) {
  iptv_test::TempDir dir, state;
  write_file(dir.path() + "/locked.yaml", channel("locked", "ts"));
  std::string missing = state.path() + "/secrets/master.key";
  write_file(state.path() + "/iptvd.yaml",
             "tokens:\n  ttl_seconds: 600\nencryption:\n  master_key_file: " + missing + "\n");
  int st = -1;
  std::string out = sh("timeout 60 " + iptv_test::build_root() + "/orchestrator/iptvd/iptvd" +
                           " --channels " + dir.path() + " --data " + state.path() +
                           "/data --listen 127.0.0.1:" + std::to_string(iptv_test::free_port()) +
                           " --config " + state.path() + "/iptvd.yaml 2>&1",
                       &st);
  EXPECT_EQ(st, 2) << out;
  EXPECT_NE(out.find("master key file " + missing + ": No such file or directory"),
            std::string::npos)
      << out;
  EXPECT_FALSE(fs::exists(missing)) << "a named master key file is never made up";
  // With no file named, the default one is created owner-only on first start.
  write_file(state.path() + "/iptvd2.yaml", "tokens:\n  ttl_seconds: 600\n");
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd2.yaml"});
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  struct stat sb {};
  ASSERT_EQ(::stat((d.data() + "/master.key").c_str(), &sb), 0) << d.log();
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

namespace {

std::string token_of(const std::string &playback_url) {
  std::string t = playback_url.substr(0, playback_url.rfind('/'));
  return t.substr(t.rfind('/') + 1);
}

std::string iptvd_binary() {
  return iptv_test::build_root() + "/orchestrator/iptvd/iptvd";
}

}  // namespace

// Issue 19: an encrypted channel through the shipped nginx edge (docs/deploy/nginx-edge.conf):
// each viewer's playlist names its own token (private: never served from the edge's cache, while
// segments are), keys pass with the token and are never cached, ffmpeg decodes through the edge.
// Then the master key is rotated with `iptvd --rotate-master-key` (iptvd stopped): the old master
// no longer opens the keys (iptvd refuses to start with it), the new one does, the content keys are
// the same, and live and catch-up playback go on. A stale key older than the retention is pruned at
// start.
TEST(EncryptionIptvd, KeysThroughTheEdgeAndAMasterKeyRotation) {
  iptv_test::TempDir dir, state;
  write_file(dir.path() + "/locked.yaml", channel("locked", "ts"));
  write_file(state.path() + "/iptvd.yaml", "tokens:\n  ttl_seconds: 600\n");
  std::string data = state.path() + "/data";
  std::string kid, key_bytes, range, ff;
  std::string token_a;
  {
    Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"}, data);
    d.start();
    ASSERT_TRUE(d.running()) << d.log();
    ASSERT_TRUE(d.wait_live({"locked"}, 90, 1)) << d.log();
    int64_t t_start = unix_now();
    NginxEdge edge(state.path() + "/edge", port_of(d));
    ASSERT_TRUE(edge.wait_up()) << edge.logs();
    std::string url_a = d.playback_url("locked"), url_b = d.playback_url("locked");
    token_a = token_of(url_a);
    std::string token_b = token_of(url_b);
    ASSERT_NE(token_a, token_b);
    auto at_edge = [&](const std::string &u) { return edge.base() + u.substr(d.base().size()); };
    std::string edge_a = at_edge(url_a), edge_b = at_edge(url_b);
    std::string base_a = edge_a.substr(0, edge_a.rfind('/') + 1);
    std::string base_b = edge_b.substr(0, edge_b.rfind('/') + 1);
    ASSERT_TRUE(wait_for(
        60, [&] { return parse_media(d.playlist("locked", "180p")).durations.size() >= 4; }));
    // Each viewer's playlist names its own token: the origin marks it private, so the edge never
    // serves one from its cache (which drops the token from its key); segments are shared.
    for (int i = 0; i < 3; ++i) {
      Reply a = fetch(base_a + "180p/index.m3u8");
      Reply b = fetch(base_b + "180p/index.m3u8");
      ASSERT_EQ(a.status, 200) << a.body << edge.logs();
      ASSERT_EQ(b.status, 200) << b.body;
      for (auto *r : {&a, &b}) {
        EXPECT_EQ(r->body.find("{token}"), std::string::npos) << r->body;
        ASSERT_FALSE(key_lines(r->body).empty()) << r->body;
        EXPECT_EQ(r->headers["cache-control"].rfind("private, max-age=", 0), 0u)
            << r->headers["cache-control"];
        EXPECT_NE(r->headers["x-cache-status"], "HIT") << r->body;
      }
      for (const auto &k : key_lines(a.body))
        EXPECT_NE(k.uri.find("/keys/locked/" + token_a + "/"), std::string::npos) << a.body;
      for (const auto &k : key_lines(b.body))
        EXPECT_NE(k.uri.find("/keys/locked/" + token_b + "/"), std::string::npos) << b.body;
      if (i == 0) {
        std::string seg = first_segment_uri(b.body);
        EXPECT_EQ(fetch(base_a + "180p/" + seg).status, 200);
        Reply again = fetch(base_b + "180p/" + seg);
        EXPECT_EQ(again.headers["x-cache-status"], "HIT") << "segments are shared";
      }
    }
    // Keys: passed with the token, 16 bytes, no-store, every request reaches the origin.
    Reply pl = fetch(base_b + "180p/index.m3u8");
    auto keys = key_lines(pl.body);
    ASSERT_FALSE(keys.empty()) << pl.body;
    std::string key_url = base_b + "180p/" + keys.front().uri;
    kid = keys.front().uri.substr(keys.front().uri.rfind('/') + 1);
    int before = edge.origin_fetches("/keys/locked/");
    for (int i = 0; i < 2; ++i) {
      Reply k = fetch(key_url);
      ASSERT_EQ(k.status, 200) << key_url << "\n" << edge.logs();
      EXPECT_EQ(k.body.size(), 16u);
      EXPECT_EQ(k.headers["cache-control"], "no-store");
      key_bytes = k.body;
    }
    EXPECT_EQ(edge.origin_fetches("/keys/locked/"), before + 2) << edge.access_log();
    EXPECT_EQ(key_bytes, fetch(d.base() + "/keys/locked/" + token_b + "/" + kid).body);
    std::string forged = token_b;
    size_t h = forged.find("hmac=");
    ASSERT_NE(h, std::string::npos);
    forged[h + 5] = forged[h + 5] == '0' ? '1' : '0';
    Reply f = fetch(edge.base() + "/keys/locked/" + forged + "/" + kid);
    EXPECT_EQ(f.status, 403);
    EXPECT_EQ(f.headers["x-iptv-deny"], "forged");
    EXPECT_EQ(f.body.size(), 0u);
    EXPECT_EQ(fetch(edge.base() + "/keys/locked/" + kid).status, 403) << "no token";
    // ffmpeg decodes the encrypted channel through the edge (playlists, segments and keys).
    EXPECT_GT(decoded_frames(edge_b, 3, &ff), 30) << ff << edge.access_log();
    // A catch-up range recorded before the rotation, played after it.
    int64_t t_end = unix_now() - 2;
    ASSERT_GE(t_end - 4, t_start - 2);
    range = "?start=" + std::to_string(t_end - 4) + "&end=" + std::to_string(t_end);
    d.signal(SIGTERM);
    ASSERT_EQ(d.wait_exit(60), 0) << d.log();
  }
  std::string old_master = *iptv::crypto::from_hex(slurp(data + "/master.key").substr(0, 64));
  // The rotation: one command, iptvd stopped.
  std::string new_file = state.path() + "/master-2.key";
  int st = -1;
  std::string out =
      sh("timeout 60 " + iptvd_binary() + " --config " + state.path() + "/iptvd.yaml --data " +
             data + " --rotate-master-key " + new_file + " 2>&1",
         &st);
  ASSERT_EQ(st, 0) << out;
  EXPECT_NE(out.find("rewrapped "), std::string::npos) << out;
  struct stat sb {};
  ASSERT_EQ(::stat(new_file.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  std::string new_master = *iptv::crypto::from_hex(slurp(new_file).substr(0, 64));
  EXPECT_EQ(out.find(iptv::crypto::to_hex(new_master)), std::string::npos) << "key in the output";
  // The old master no longer opens the stored key; the new one does, and it is the same key.
  std::string wrapped;
  {
    int qs = -1;
    wrapped = sh(
        "sqlite3 " + data + "/iptvd.db \"SELECT wrapped FROM enc_keys WHERE key_id='" + kid + "'\"",
        &qs);
    ASSERT_EQ(qs, 0) << wrapped;
    while (!wrapped.empty() && wrapped.back() == '\n') wrapped.pop_back();
  }
  auto w = iptv::crypto::from_hex(wrapped);
  ASSERT_TRUE(w) << wrapped;
  EXPECT_FALSE(iptv::crypto::unwrap_key(old_master, *w, "locked/" + kid));
  EXPECT_EQ(iptv::crypto::unwrap_key(new_master, *w, "locked/" + kid).value_or(""), key_bytes);
  // Started with the old master key (the config not changed), iptvd refuses, naming the cause.
  out = sh("timeout 60 " + iptvd_binary() + " --channels " + dir.path() + " --config " +
               state.path() + "/iptvd.yaml --data " + data +
               " --listen 127.0.0.1:" + std::to_string(iptv_test::free_port()) + " 2>&1",
           &st);
  EXPECT_NE(st, 0) << out;
  EXPECT_NE(out.find("does not open the stored content key"), std::string::npos) << out;
  // A stale key (made long ago, named by no archived segment) goes when iptvd starts.
  sh("sqlite3 " + data +
     "/iptvd.db \"INSERT INTO enc_keys(channel_id, period, key_id, wrapped, iv, created_ms)"
     " VALUES('locked', -1, 'ffffffffffffffff', '00', '00000000000000000000000000000000', 1000)\"");
  // With the new master key named, playback goes on: the same key, live and catch-up decode.
  write_file(state.path() + "/iptvd2.yaml",
             "tokens:\n  ttl_seconds: 600\nencryption:\n  master_key_file: " + new_file + "\n");
  Iptvd d2(dir.path(), {"--config", state.path() + "/iptvd2.yaml"}, data);
  d2.start();
  ASSERT_TRUE(d2.running()) << d2.log();
  ASSERT_TRUE(d2.wait_live({"locked"}, 90, 1)) << d2.log();
  EXPECT_EQ(fetch(d2.base() + "/keys/locked/" + token_a + "/" + kid).body, key_bytes);
  std::string url = d2.playback_url("locked");
  EXPECT_GT(decoded_frames(url, 3, &ff), 30) << ff;
  Reply cu = fetch(url.substr(0, url.rfind('/') + 1) + "180p/index.m3u8" + range);
  ASSERT_EQ(cu.status, 200) << cu.body;
  EXPECT_FALSE(key_lines(cu.body).empty()) << cu.body;
  EXPECT_GT(decoded_frames(url + range, 4, &ff), 60) << ff << cu.body;
  EXPECT_EQ(d2.sql("SELECT COUNT(*) FROM enc_keys WHERE key_id='ffffffffffffffff'"), "0\n")
      << d2.log();
  EXPECT_NE(d2.log().find("pruned 1 content keys"), std::string::npos) << d2.log();
  EXPECT_EQ(d2.log().find(iptv::crypto::to_hex(new_master)), std::string::npos);
}
