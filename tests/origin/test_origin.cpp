// The HLS origin against real clients: curl, ffprobe, GStreamer hlsdemux and nginx as an edge.
#include <glib.h>
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "origin/origin.h"
#include "test_support.h"
#include "token/token.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace fs = std::filesystem;

namespace {

using iptv_test::sh;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

Reply get(const std::string &url, const std::string &extra = "") {
  iptv_test::TempDir d;
  std::string hdr = d.path() + "/h", body = d.path() + "/b";
  sh("curl -s --path-as-is -o " + body + " -D " + hdr + " " + extra + " '" + url + "'");
  Reply r;
  std::string h, b;
  iptv::read_file(hdr, h);
  iptv::read_file(body, b);
  r.body = b;
  for (const auto &line : iptv::split(h, '\n')) {
    if (iptv::starts_with(line, "HTTP/")) r.status = std::atoi(line.c_str() + 9);
    auto c = line.find(':');
    if (c != std::string::npos) {
      std::string k = line.substr(0, c);
      for (auto &ch : k) ch = (char)tolower(ch);
      r.headers[k] = iptv::trim(line.substr(c + 1));
    }
  }
  return r;
}

// One HLS tree made by a third-party producer (ffmpeg), shared by the tests.
class OriginTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tree_ = new iptv_test::TempDir();
    std::string d = tree_->path() + "/news";
    fs::create_directories(d);
    int st = -1;
    sh("ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=160x90:rate=25 -f lavfi -i "
       "sine=frequency=440 -t 6 -c:v libx264 -preset ultrafast -g 25 -c:a aac -f hls -hls_time 1 "
       "-hls_list_size 0 -hls_segment_filename " +
           d + "/seg-%d.ts " + d + "/index.m3u8",
       &st);
    ASSERT_EQ(st, 0);
  }
  static void TearDownTestSuite() { delete tree_; }

  void SetUp() override {
    ring_.add("k1", std::string(32, '\x5a'), true);
    iptv::OriginConfig cfg;
    cfg.mode = iptv::TokenMode::kEdgeAuth;
    cfg.keys = ring_;
    origin_ = std::make_unique<iptv::Origin>(cfg);
    std::string err;
    ASSERT_TRUE(origin_->start(&err)) << err;
    origin_->add_channel("news", tree_->path() + "/news");
    base_ = "http://127.0.0.1:" + std::to_string(origin_->port());
  }

  std::string token(const std::string &channel = "news", int64_t ttl = 60,
                    const std::string &session = "s1", const std::string &ip = "",
                    int64_t start_offset = 0) {
    iptv::TokenClaims c;
    int64_t now = g_get_real_time() / 1000000;
    c.start = now + start_offset;
    c.expiry = now + ttl;
    c.acl = iptv::acl_for_channel(channel);
    c.session = session;
    c.ip = ip;
    return iptv::token_to_path_segment(iptv::sign_token(c, ring_));
  }
  std::string url(const std::string &tok, const std::string &file = "index.m3u8",
                  const std::string &channel = "news") {
    return base_ + "/hls/" + channel + "/" + tok + "/" + file;
  }

  static iptv_test::TempDir *tree_;
  iptv::KeyRing ring_;
  std::unique_ptr<iptv::Origin> origin_;
  std::string base_;
};
iptv_test::TempDir *OriginTest::tree_ = nullptr;

TEST_F(OriginTest, TokenizedUrlPlaysInFfprobeAndHlsdemux) {
  std::string u = url(token());
  int st = -1;
  std::string streams =
      sh("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 '" + u + "'", &st);
  EXPECT_EQ(st, 0);
  EXPECT_NE(streams.find("video"), std::string::npos) << streams;
  EXPECT_NE(streams.find("audio"), std::string::npos);
  // ffmpeg decodes the whole stream through the token (every segment request carries it on).
  std::string frames = sh("ffmpeg -v error -i '" + u + "' -map 0:v -f null - 2>&1; echo rc=$?");
  EXPECT_NE(frames.find("rc=0"), std::string::npos) << frames;
  EXPECT_GE(origin_->stats().statuses[200], 7u);  // playlist + 6 segments
  std::string out = sh("timeout 60 gst-launch-1.0 -q playbin uri='" + u +
                           "' video-sink=fakesink audio-sink=fakesink 2>&1; echo rc=$?",
                       &st);
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
}

TEST_F(OriginTest, EveryRefusalHasItsStatusAndReason) {
  std::string good = token();
  std::string forged = good;
  forged[forged.size() - 1] = forged.back() == '0' ? '1' : '0';
  iptv::KeyRing other;
  other.add("k9", std::string(32, '\x01'), true);
  iptv::TokenClaims c;
  c.start = g_get_real_time() / 1000000;
  c.expiry = c.start + 60;
  c.acl = iptv::acl_for_channel("news");
  std::string unknown_key = iptv::token_to_path_segment(iptv::sign_token(c, other));
  struct {
    std::string url;
    int status;
    const char *reason;
  } cases[] = {
      {base_ + "/hls/news/index.m3u8", 403, "missing"},
      {url("garbage"), 403, "malformed"},
      {url(forged), 403, "forged"},
      {url(token("news", -5, "s1", "", -60)), 410, "expired"},
      {url(token("news", 60, "s1", "", 30)), 403, "not-yet-valid"},
      {url(token("sports")), 403, "scope"},
      {url(token("news", 60, "s1", "10.9.9.9")), 403, "ip"},
      {url(unknown_key), 403, "unknown-key"},
      {url(good, ".hidden"), 403, "path"},
  };
  for (const auto &k : cases) {
    Reply r = get(k.url);
    EXPECT_EQ(r.status, k.status) << k.url;
    EXPECT_EQ(r.headers["x-iptv-deny"], k.reason) << k.url;
    EXPECT_TRUE(r.body.empty()) << k.url;
  }
  // Dot segments, plain or percent-encoded, never reach a file: the HTTP layer normalises them
  // away (so the token segment no longer parses) or the origin refuses them.
  for (const char *trav :
       {"../news/index.m3u8", "%2e%2e/%2e%2e/etc/hostname", "..%2f..%2f..%2fetc%2fhostname",
        "/etc/hostname", "hi%2f..%2f..%2fseg-0.ts"}) {
    Reply r = get(url(good, trav));
    EXPECT_GE(r.status, 400) << trav;
    EXPECT_LT(r.status, 500) << trav;
    EXPECT_TRUE(r.body.empty()) << trav;
  }
  // A symlink out of the tree is refused, though the file exists.
  fs::create_symlink("/etc/hostname", tree_->path() + "/news/escape.ts");
  Reply r = get(url(good, "escape.ts"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.headers["x-iptv-deny"], "path");
  fs::remove(tree_->path() + "/news/escape.ts");
  // Not there (yet): 404 that caches for 1 s.
  Reply missing = get(url(good, "seg-99.ts"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.headers["cache-control"], "max-age=1");
  EXPECT_EQ(origin_->stats().denials["forged"], 1u);
}

// Issue 21 item 8: path traversal variants, sent byte for byte (curl --path-as-is): plain,
// percent-encoded, double-encoded, backslashes, overlong UTF-8 for '.' and '/', NUL, in the file
// part and in the channel part, with a valid token and on a tokenless origin. Each gets a 4xx
// with no body, nothing outside the tree is ever read, and the origin keeps serving.
TEST_F(OriginTest, TraversalVariantsGetAClearStatusAndNoCrash) {
  const std::vector<std::string> files = {
      "../../../../etc/passwd",
      "..%2f..%2f..%2f..%2fetc%2fpasswd",
      "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      ".%2e/.%2e/.%2e/etc/passwd",
      "%252e%252e/%252e%252e/%252e%252e/etc/passwd",  // double-encoded
      "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
      "..%255c..%255cetc%255cpasswd",
      "..\\..\\..\\..\\etc\\passwd",  // backslashes
      "..%5c..%5c..%5c..%5cetc%5cpasswd",
      "hi\\..\\..\\seg-0.ts",
      "%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",     // overlong UTF-8 '.'
      "..%c0%af..%c0%af..%c0%afetc%c0%afpasswd",  // overlong UTF-8 '/'
      "%e0%80%ae%e0%80%ae/%e0%80%ae%e0%80%ae/etc/passwd",
      "%c1%9c..%c1%9cetc%c1%9cpasswd",  // overlong '\'
      "seg-0.ts%00.m3u8",               // NUL
      "....//....//etc/passwd",
      "%2fetc%2fpasswd",
      "//etc/passwd",
  };
  std::map<int, int> statuses;
  auto check = [&](const std::string &u) {
    Reply r = get(u);
    ++statuses[r.status];
    EXPECT_GE(r.status, 400) << u;
    EXPECT_LT(r.status, 500) << u;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << u;
    EXPECT_TRUE(r.body.empty()) << u << ": " << r.body.substr(0, 200);
  };
  std::string good = token();
  for (const auto &f : files) {
    check(url(good, f));
    check(base_ + "/hls/" + f);         // in place of the channel
    check(base_ + "/hls/news/" + f);    // in place of the token
    check(url(good, "index.m3u8", f));  // channel segment (token for news)
  }
  // A tokenless origin (tokens.mode none) resolves paths itself: the same answers.
  iptv::OriginConfig none;
  iptv::Origin open(none);
  std::string err;
  ASSERT_TRUE(open.start(&err)) << err;
  open.add_channel("news", tree_->path() + "/news");
  std::string ob = "http://127.0.0.1:" + std::to_string(open.port());
  for (const auto &f : files) {
    check(ob + "/hls/news/" + f);
    check(ob + "/hls/" + f);
  }
  std::string summary;
  int total = 0;
  for (auto [st, n] : statuses) {
    summary += " " + std::to_string(st) + " x" + std::to_string(n);
    total += n;
  }
  std::printf("[traversal] %d requests (%zu variants):%s\n", total, files.size(), summary.c_str());
  // Both still serve.
  EXPECT_EQ(get(url(good)).status, 200);
  EXPECT_EQ(get(ob + "/hls/news/index.m3u8").status, 200);
  EXPECT_EQ(get(ob + "/hls/news/seg-0.ts").status, 200);
}

TEST_F(OriginTest, RevokedSessionRefusedWithinOneSecond) {
  std::string t = token("news", 60, "viewer-42");
  EXPECT_EQ(get(url(t, "seg-0.ts")).status, 200);
  auto t0 = std::chrono::steady_clock::now();
  origin_->revoke_session("viewer-42");
  Reply r = get(url(t, "seg-1.ts"));
  auto dt = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.headers["x-iptv-deny"], "revoked");
  EXPECT_LT(std::chrono::duration<double>(dt).count(), 1.0);
  EXPECT_EQ(get(url(token("news", 60, "viewer-43"), "seg-1.ts")).status, 200);  // others fine
}

TEST_F(OriginTest, CacheHeadersEtagHeadAndRanges) {
  std::string t = token();
  Reply pl = get(url(t));
  EXPECT_EQ(pl.status, 200);
  EXPECT_EQ(pl.headers["content-type"], "application/vnd.apple.mpegurl");
  EXPECT_EQ(pl.headers["cache-control"], "max-age=1");  // half of EXT-X-TARGETDURATION (1 s)
  EXPECT_EQ(pl.body.find("hmac"), std::string::npos) << "playlists carry no tokens";
  Reply seg = get(url(t, "seg-2.ts"));
  EXPECT_EQ(seg.status, 200);
  EXPECT_EQ(seg.headers["cache-control"], "max-age=31536000, immutable");
  EXPECT_EQ(seg.headers["content-type"], "video/mp2t");
  ASSERT_FALSE(seg.headers["etag"].empty());
  EXPECT_FALSE(seg.headers["last-modified"].empty());
  Reply again = get(url(t, "seg-2.ts"), "-H 'If-None-Match: " + seg.headers["etag"] + "'");
  EXPECT_EQ(again.status, 304);
  Reply head = get(url(t, "seg-2.ts"), "-I");  // curl -I writes only the headers
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], std::to_string(seg.body.size()));
  EXPECT_EQ(head.body.find("G@"), std::string::npos);
  Reply range = get(url(t, "seg-2.ts"), "-r 188-375");
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(range.body, seg.body.substr(188, 188));
  EXPECT_EQ(range.headers["content-range"], "bytes 188-375/" + std::to_string(seg.body.size()));
}

// Issue 14: fMP4 and DASH files get their media types and cache headers (an MPD like a media
// playlist: half its minimumUpdatePeriod), and the time route the MPD's UTCTiming points at
// answers the server's UTC behind the same token check as the channel's files.
TEST_F(OriginTest, CmafMediaTypesMpdCacheAndTimeRoute) {
  iptv_test::TempDir cmaf;
  fs::create_directories(cmaf.path() + "/hi");
  iptv::write_file_atomic(cmaf.path() + "/manifest.mpd",
                          "<?xml version=\"1.0\"?>\n<MPD type=\"dynamic\" "
                          "minimumUpdatePeriod=\"PT4.000S\"></MPD>\n");
  iptv::write_file_atomic(cmaf.path() + "/hi/init.mp4", std::string(64, 'i'));
  iptv::write_file_atomic(cmaf.path() + "/hi/seg-7.m4s", std::string(64, 's'));
  origin_->add_channel("cmaf", cmaf.path());
  std::string t = token("cmaf");
  Reply mpd = get(url(t, "manifest.mpd", "cmaf"));
  EXPECT_EQ(mpd.status, 200);
  EXPECT_EQ(mpd.headers["content-type"], "application/dash+xml");
  EXPECT_EQ(mpd.headers["cache-control"], "max-age=2");
  Reply init = get(url(t, "hi/init.mp4", "cmaf"));
  EXPECT_EQ(init.status, 200);
  EXPECT_EQ(init.headers["content-type"], "video/mp4");
  EXPECT_EQ(init.headers["cache-control"], "max-age=2");
  Reply seg = get(url(t, "hi/seg-7.m4s", "cmaf"));
  EXPECT_EQ(seg.status, 200);
  EXPECT_EQ(seg.headers["content-type"], "video/iso.segment");
  EXPECT_EQ(seg.headers["cache-control"], "max-age=31536000, immutable");
  // The time route: ISO 8601 UTC with milliseconds, never cached, what Date.parse() reads.
  Reply time = get(url(t, "time", "cmaf"));
  EXPECT_EQ(time.status, 200);
  EXPECT_EQ(time.headers["cache-control"], "no-store");
  EXPECT_EQ(time.headers["content-type"], "text/plain");
  ASSERT_TRUE(std::regex_match(time.body, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << time.body;
  GDateTime *dt = g_date_time_new_from_iso8601(time.body.c_str(), nullptr);
  ASSERT_NE(dt, nullptr) << time.body;
  EXPECT_NEAR((double)g_date_time_to_unix(dt), g_get_real_time() / 1e6, 5.0);
  g_date_time_unref(dt);
  // ... behind the token, like every file of the channel.
  Reply forged = get(url(t.substr(0, t.size() - 2) + "zz", "time", "cmaf"));
  EXPECT_EQ(forged.status, 403);
  EXPECT_TRUE(forged.body.empty());
  EXPECT_EQ(get(base_ + "/hls/cmaf/time").status, 403) << "no token";
}

// Item 2: a Range header of thousands of overlapping ranges is answered with the file once,
// never a multipart/byteranges response many times its size.
TEST_F(OriginTest, RangeAmplificationAnswersTheFileOnce) {
  std::string t = token();
  Reply seg = get(url(t, "seg-2.ts"));
  ASSERT_EQ(seg.status, 200);
  std::string many = "bytes=0-";
  for (int i = 0; i < 2000; ++i) many += ",0-";
  Reply r = get(url(t, "seg-2.ts"), "-H 'Range: " + many + "'");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), seg.body.size());
  EXPECT_EQ(r.headers["content-type"], "video/mp2t");
  // Disjoint ranges: the whole file (never multipart); overlapping ones merge into one range.
  Reply two = get(url(t, "seg-2.ts"), "-H 'Range: bytes=0-9,100-109'");
  EXPECT_EQ(two.status, 200);
  EXPECT_EQ(two.body, seg.body);
  Reply merged = get(url(t, "seg-2.ts"), "-H 'Range: bytes=0-9,5-19'");
  EXPECT_EQ(merged.status, 206);
  EXPECT_EQ(merged.body, seg.body.substr(0, 20));
  EXPECT_EQ(merged.headers["content-range"], "bytes 0-19/" + std::to_string(seg.body.size()));
}

// Item 5: range arithmetic: clamped ends, huge suffixes, 416 with `bytes */LEN`.
TEST_F(OriginTest, RangeArithmeticClampsAndRefusesUnsatisfiable) {
  std::string t = token();
  Reply seg = get(url(t, "seg-2.ts"));
  ASSERT_EQ(seg.status, 200);
  std::string len = std::to_string(seg.body.size());
  // Ends beyond the file are clamped: a range from 0 is the whole file (200, RFC 9110 lets a
  // server ignore Range), one from 10 is 206 with a true Content-Range.
  Reply big = get(url(t, "seg-2.ts"), "-H 'Range: bytes=0-99999999999'");
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(big.body, seg.body);
  Reply from10 = get(url(t, "seg-2.ts"), "-H 'Range: bytes=10-99999999999'");
  EXPECT_EQ(from10.status, 206);
  EXPECT_EQ(from10.headers["content-range"],
            "bytes 10-" + std::to_string(seg.body.size() - 1) + "/" + len);
  EXPECT_EQ(from10.body, seg.body.substr(10));
  Reply suffix = get(url(t, "seg-2.ts"), "-H 'Range: bytes=-99999999999999999999'");
  EXPECT_EQ(suffix.status, 200);
  EXPECT_EQ(suffix.body, seg.body);
  Reply tail = get(url(t, "seg-2.ts"), "-H 'Range: bytes=-188'");
  EXPECT_EQ(tail.status, 206);
  EXPECT_EQ(tail.body, seg.body.substr(seg.body.size() - 188));
  Reply beyond = get(url(t, "seg-2.ts"), "-H 'Range: bytes=" + len + "-'");
  EXPECT_EQ(beyond.status, 416);
  EXPECT_EQ(beyond.headers["content-range"], "bytes */" + len);
  EXPECT_TRUE(beyond.body.empty());
  Reply reversed = get(url(t, "seg-2.ts"), "-H 'Range: bytes=10-5'");
  EXPECT_EQ(reversed.status, 200);  // invalid: ignored
  EXPECT_EQ(reversed.body.size(), seg.body.size());
}

// Item 10: an unknown channel is refused exactly like a known one with the same token; RFC 9110
// conditionals; Allow on 405.
TEST_F(OriginTest, UnknownChannelLooksLikeABadTokenAndConditionalsFollowRfc9110) {
  std::string bad = "garbage";
  for (const std::string &ch : {std::string("news"), std::string("no-such-channel")}) {
    Reply missing = get(base_ + "/hls/" + ch + "/index.m3u8");
    EXPECT_EQ(missing.status, 403) << ch;
    EXPECT_EQ(missing.headers["x-iptv-deny"], "missing") << ch;
    Reply malformed = get(url(bad, "index.m3u8", ch));
    EXPECT_EQ(malformed.status, 403) << ch;
    EXPECT_EQ(malformed.headers["x-iptv-deny"], "malformed") << ch;
    Reply other = get(url(token("sports"), "index.m3u8", ch));
    EXPECT_EQ(other.status, 403) << ch;
    EXPECT_EQ(other.headers["x-iptv-deny"], "scope") << ch;
  }
  std::string t = token();
  Reply seg = get(url(t, "seg-2.ts"));
  std::string etag = seg.headers["etag"];
  ASSERT_FALSE(etag.empty());
  for (const std::string &inm : {std::string("*"), "W/" + etag, "\"nope\", " + etag}) {
    Reply r = get(url(t, "seg-2.ts"), "-H 'If-None-Match: " + inm + "'");
    EXPECT_EQ(r.status, 304) << inm;
    EXPECT_TRUE(r.body.empty()) << inm;
  }
  EXPECT_EQ(get(url(t, "seg-2.ts"), "-H 'If-None-Match: \"nope\"'").status, 200);
  EXPECT_EQ(get(url(t, "seg-2.ts"), "-H 'If-Modified-Since: " + seg.headers["last-modified"] + "'")
                .status,
            304);
  EXPECT_EQ(get(url(t, "seg-2.ts"), "-H 'If-Match: \"nope\"'").status, 412);
  // If-Range: the range only while the validator still names this version.
  Reply same = get(url(t, "seg-2.ts"), "-r 0-9 -H 'If-Range: " + etag + "'");
  EXPECT_EQ(same.status, 206);
  EXPECT_EQ(same.body, seg.body.substr(0, 10));
  Reply changed = get(url(t, "seg-2.ts"), "-r 0-9 -H 'If-Range: \"old\"'");
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.body, seg.body);
  Reply weak = get(url(t, "seg-2.ts"), "-r 0-9 -H 'If-Range: W/" + etag + "'");
  EXPECT_EQ(weak.status, 200);
  Reply post = get(url(t, "seg-2.ts"), "-X POST");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");
}

TEST_F(OriginTest, PurgeChangesManifestValidatorsAndForcesRevalidation) {
  std::string t = token();
  Reply before = get(url(t));
  ASSERT_EQ(before.status, 200);
  std::string etag = before.headers["etag"];
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(get(url(t), "-H 'If-None-Match: " + etag + "'").status, 304);
  Reply seg_before = get(url(t, "seg-2.ts"));
  origin_->purge_channel("news", 2);
  Reply after = get(url(t), "-H 'If-None-Match: " + etag + "'");
  EXPECT_EQ(after.status, 200) << "a cache holding the old manifest must get a fresh copy";
  EXPECT_NE(after.headers["etag"], etag);
  EXPECT_EQ(after.headers["cache-control"], "no-cache");
  // Segments are immutable: a purge leaves them alone.
  Reply seg = get(url(t, "seg-2.ts"));
  EXPECT_EQ(seg.headers["etag"], seg_before.headers["etag"]);
  EXPECT_EQ(seg.headers["cache-control"], "max-age=31536000, immutable");
  // The no-cache window ends; the new validator stays.
  g_usleep(2100 * 1000);
  Reply later = get(url(t));
  EXPECT_EQ(later.headers["cache-control"], "max-age=1");
  EXPECT_EQ(later.headers["etag"], after.headers["etag"]);
}

// ---- the edge's authorization route (docs/deploy/nginx-edge.conf's auth_request) ----

TEST_F(OriginTest, EdgeAuthRouteChecksLikeTheOriginAndIsNeverCachedPastExpiry) {
  auto auth = [&](const std::string &channel, const std::string &tok) {
    return get(base_ + "/hls-auth/" + channel + "/" + tok);
  };
  // Allowed: 200 with no body, cacheable for at most edge_auth_max_age (5 s) ...
  Reply ok = auth("news", token("news", 600));
  EXPECT_EQ(ok.status, 200);
  EXPECT_TRUE(ok.body.empty());
  EXPECT_EQ(ok.headers["cache-control"], "max-age=5");
  // ... and never beyond the token's expiry.
  Reply soon = auth("news", token("news", 2));
  EXPECT_EQ(soon.status, 200);
  EXPECT_TRUE(soon.headers["cache-control"] == "max-age=2" ||
              soon.headers["cache-control"] == "max-age=1")
      << soon.headers["cache-control"];
  // Every refusal is a 403 (auth_request passes only 401/403 on) naming the reason.
  std::string forged = token();
  forged[forged.size() - 1] = forged.back() == '0' ? '1' : '0';
  const std::pair<std::string, std::string> cases[] = {
      {auth("news", forged).headers["x-iptv-deny"], "forged"},
      {auth("news", token("news", -5, "s1", "", -60)).headers["x-iptv-deny"], "expired"},
      {auth("news", token("other")).headers["x-iptv-deny"], "scope"},
      {auth("nope", token("nope")).headers["x-iptv-deny"], "path"},
      {auth("news", "garbage").headers["x-iptv-deny"], "malformed"},
      {auth("news", token("news", 60, "s1", "198.51.100.7")).headers["x-iptv-deny"], "ip"},
  };
  for (const auto &[got, want] : cases) EXPECT_EQ(got, want);
  EXPECT_EQ(auth("news", forged).status, 403);
  EXPECT_EQ(auth("news", token("news", -5, "s1", "", -60)).status, 403);
  // A revoked session is refused at once (the edge's cached answer bounds it, not the origin).
  std::string tok = token("news", 600, "s-revoke-me");
  EXPECT_EQ(auth("news", tok).status, 200);
  origin_->revoke_session("s-revoke-me");
  Reply rv = auth("news", tok);
  EXPECT_EQ(rv.status, 403);
  EXPECT_EQ(rv.headers["x-iptv-deny"], "revoked");
  EXPECT_EQ(rv.headers["cache-control"], "max-age=5");
  // Counted apart from file requests.
  auto st = origin_->stats();
  EXPECT_EQ(st.edge_auth["ok"], 3u);
  EXPECT_EQ(st.edge_auth["revoked"], 1u);
  EXPECT_EQ(st.requests, 0u);
  EXPECT_EQ(get(base_ + "/hls-auth/news").status, 404);
}

TEST(OriginEdgeAuth, TokenModeNoneHasNoAuthRoute) {
  iptv::Origin open(iptv::OriginConfig{});
  std::string err;
  ASSERT_TRUE(open.start(&err)) << err;
  open.add_channel("news", "/nonexistent");
  EXPECT_EQ(get("http://127.0.0.1:" + std::to_string(open.port()) + "/hls-auth/news/x").status,
            404);
}

// ---- nginx as a caching edge that checks tokens itself (stock secure_link) ----

TEST(OriginEdge, NginxCachesOnceAndEachViewerSeesOnlyTheirToken) {
  if (sh("command -v nginx").empty()) GTEST_SKIP() << "nginx not installed";
  iptv_test::TempDir dir;
  std::string tree = dir.path() + "/tree/news", prefix = dir.path() + "/nginx";
  fs::create_directories(tree);
  fs::create_directories(prefix);
  int st = -1;
  sh("ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=160x90:rate=25 -t 4 -c:v libx264 "
     "-preset ultrafast -g 25 -f hls -hls_time 1 -hls_list_size 0 -hls_segment_filename " +
         tree + "/seg-%d.ts " + tree + "/index.m3u8",
     &st);
  ASSERT_EQ(st, 0);
  const std::string secret = "edge-secret-0123456789";
  iptv::OriginConfig cfg;
  cfg.mode = iptv::TokenMode::kSecureLink;
  cfg.securelink_secret = secret;
  iptv::Origin origin(cfg);
  std::string err;
  ASSERT_TRUE(origin.start(&err)) << err;
  origin.add_channel("news", tree);
  int port = iptv_test::free_port();
  std::string conf;
  ASSERT_TRUE(
      iptv::read_file(iptv_test::source_root() + "/docs/deploy/nginx-edge-securelink.conf", conf));
  auto subst = [&](const std::string &k, const std::string &v) {
    for (size_t at; (at = conf.find(k)) != std::string::npos;) conf.replace(at, k.size(), v);
  };
  subst("@PREFIX@", prefix);
  subst("@LISTEN@", "127.0.0.1:" + std::to_string(port));
  subst("@ORIGIN@", "127.0.0.1:" + std::to_string(origin.port()));
  subst("@SECRET@", secret);
  subst("worker_processes auto;",
        geteuid() == 0 ? "worker_processes 1;\nuser root;" : "worker_processes 1;");
  ASSERT_EQ(iptv::write_file_atomic(prefix + "/nginx.conf", conf), "");
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execlp("nginx", "nginx", "-p", prefix.c_str(), "-c", (prefix + "/nginx.conf").c_str(),
           (char *)nullptr);
    _exit(127);
  }
  struct Reaper {
    pid_t pid;
    ~Reaper() {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
  } reaper{pid};
  std::string edge = "http://127.0.0.1:" + std::to_string(port);
  for (int i = 0; i < 50 && get(edge + "/").status == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  int64_t exp = g_get_real_time() / 1000000 + 120;
  std::string tok_a = iptv::securelink_segment("news", exp, secret);
  std::string tok_b = iptv::securelink_segment("news", exp + 1, secret);
  ASSERT_NE(tok_a, tok_b);
  int segments = 0;
  for (const auto &[viewer, tok] : {std::pair{"a", tok_a}, std::pair{"b", tok_b}}) {
    std::string base = edge + "/hls/news/" + tok + "/";
    Reply pl = get(base + "index.m3u8");
    ASSERT_EQ(pl.status, 200) << viewer << " " << sh("cat " + prefix + "/error.log");
    // Each viewer only ever sees their own token: playlists hold none, URIs are relative.
    EXPECT_EQ(pl.body.find("s-"), std::string::npos) << pl.body;
    segments = 0;
    for (const auto &line : iptv::split(pl.body, '\n')) {
      if (line.empty() || line[0] == '#') continue;
      ++segments;
      Reply s = get(base + line);
      EXPECT_EQ(s.status, 200) << line;
      EXPECT_EQ(s.headers["x-cache-status"], std::string(viewer) == "a" ? "MISS" : "HIT")
          << viewer << " " << line;
    }
  }
  ASSERT_GE(segments, 4);
  // One origin fetch per segment (plus the playlist, which viewer b may refetch once it
  // expires), and one cache file per segment.
  auto stats = origin.stats();
  EXPECT_LE(stats.statuses[200], (uint64_t)segments + 2);
  size_t cache_files = 0;
  for (auto &e : fs::recursive_directory_iterator(prefix + "/cache"))
    if (e.is_regular_file()) ++cache_files;
  EXPECT_LE(cache_files, (size_t)segments + 1);
  // The edge refuses bad tokens itself (the origin never sees them).
  uint64_t before = origin.stats().requests;
  std::string forged = tok_a;
  forged[3] = forged[3] == 'A' ? 'B' : 'A';
  EXPECT_EQ(get(edge + "/hls/news/" + forged + "/index.m3u8").status, 403);
  EXPECT_EQ(get(edge + "/hls/news/" +
                iptv::securelink_segment("news", g_get_real_time() / 1000000 - 10, secret) +
                "/index.m3u8")
                .status,
            410);
  EXPECT_EQ(origin.stats().requests, before);
}

}  // namespace
