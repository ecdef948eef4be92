// Structured logger: text and JSON formats, levels, channel_id on every line, and redaction
// (a registered or URL-carried secret never appears in the output).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "log/log.h"
#include "test_support.h"

using iptv::log::Field;
using iptv::log::Format;
using iptv::log::Level;
using iptv::log::Logger;

namespace {

struct Capture {
  Logger logger;
  std::vector<std::string> lines;
  std::mutex mu;
  Capture(Format f = Format::kText, Level l = Level::kDebug) {
    logger.configure(f, l);
    logger.set_sink([this](std::string_view line) {
      std::lock_guard lk(mu);
      lines.emplace_back(line);
    });
  }
  std::string all() {
    std::string s;
    for (auto &l : lines) s += l;
    return s;
  }
};

}  // namespace

TEST(Log, TextLineHasTimeLevelChannelMessageAndTypedFields) {
  Capture c;
  c.logger.info("news", "worker started", {{"pid", 4242}, {"ratio", 0.5}, {"ok", true}});
  c.logger.warn("", "daemon wide \"quoted\"", {{"path", "/var/lib/x y"}});
  ASSERT_EQ(c.lines.size(), 2u);
  EXPECT_NE(
      c.lines[0].find(" info channel_id=news msg=\"worker started\" pid=4242 ratio=0.5 ok=true\n"),
      std::string::npos)
      << c.lines[0];
  EXPECT_EQ(c.lines[0][4], '-');   // 2026-...
  EXPECT_EQ(c.lines[0][23], 'Z');  // ms precision UTC
  EXPECT_NE(c.lines[1].find(" warn channel_id=\"\" msg=\"daemon wide \\\"quoted\\\"\" "
                            "path=\"/var/lib/x y\"\n"),
            std::string::npos)
      << c.lines[1];
}

TEST(Log, JsonLinesAreObjectsWithChannelId) {
  Capture c(Format::kJson);
  c.logger.error("news", "encoder failed\nbadly",
                 {{"rendition", "360p"}, {"code", 7}, {"msg", "clash"}});
  c.logger.info("", "reload");
  ASSERT_EQ(c.lines.size(), 2u);
  for (auto &l : c.lines) {
    EXPECT_EQ(l.back(), '\n');
    EXPECT_EQ(std::count(l.begin(), l.end(), '\n'), 1);
  }
  auto j = nlohmann::json::parse(c.lines[0]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["channel_id"], "news");
  EXPECT_EQ(j["msg"], "encoder failed\nbadly");
  EXPECT_EQ(j["rendition"], "360p");
  EXPECT_EQ(j["code"], 7);
  EXPECT_EQ(j["f_msg"], "clash");  // a field never overwrites a fixed key
  EXPECT_TRUE(j["ts"].is_string());
  auto k = nlohmann::json::parse(c.lines[1]);
  ASSERT_TRUE(k.contains("channel_id"));
  EXPECT_EQ(k["channel_id"], "");
}

TEST(Log, LevelsFilter) {
  Capture c(Format::kText, Level::kWarn);
  c.logger.debug("a", "d");
  c.logger.info("a", "i");
  c.logger.warn("a", "w");
  c.logger.error("a", "e");
  EXPECT_EQ(c.lines.size(), 2u);
  EXPECT_FALSE(c.logger.enabled(Level::kInfo));
  EXPECT_EQ(iptv::log::parse_level("warning"), Level::kWarn);
  EXPECT_FALSE(iptv::log::parse_level("loud"));
  EXPECT_EQ(iptv::log::parse_format("json"), Format::kJson);
  EXPECT_FALSE(iptv::log::parse_format("xml"));
}

TEST(Log, RegisteredSecretsNeverAppear) {
  for (Format f : {Format::kText, Format::kJson}) {
    Capture c(f);
    const std::string key = "9f2c41d0aa77e3b5c6d8e9f00112233445566778899aabbccddeeff001122334";
    const std::string hook = "whsec_S3cr3t/with+chars";
    EXPECT_TRUE(c.logger.add_secret(key));
    EXPECT_TRUE(c.logger.add_secret(hook));
    EXPECT_FALSE(c.logger.add_secret("abc"));  // too short to mask safely
    c.logger.info("news", "loaded key " + key + " ok", {{"file", "keys/" + key}});
    c.logger.info("", "posting", {{"note", "sig with " + hook}, {"n", 1}});
    // Percent-encoded in a URL.
    c.logger.info("", "GET http://h/cb?x=whsec_S3cr3t%2Fwith%2Bchars");
    // Inside the channel id field and a field key.
    c.logger.info("ch-" + hook, "x", {{"k" + key, "v"}});
    std::string out = c.all();
    EXPECT_EQ(out.find(key), std::string::npos) << out;
    EXPECT_EQ(out.find("S3cr3t"), std::string::npos) << out;
    EXPECT_NE(out.find("[redacted]"), std::string::npos);
  }
}

TEST(Log, UrlTokensAndSensitiveParametersAreMasked) {
  Capture c(Format::kJson);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"srt://10.0.0.1:9000?mode=caller&passphrase=topsecretpass&latency=200",
       "srt://10.0.0.1:9000?mode=caller&passphrase=[redacted]&latency=200"},
      {"GET /hls/news/st=1700000000~exp=1700003600~ch=news~kid=k1~hmac=deadbeef00/index.m3u8",
       "GET /hls/news/[redacted]/index.m3u8"},
      {"GET /hls/news/s-Zm9vYmFy-1700003600/360p/seg-7.ts 200",
       "GET /hls/news/[redacted]/360p/seg-7.ts 200"},
      {"GET /hls/news/360p/seg-7.ts", "GET /hls/news/360p/seg-7.ts"},  // token mode none
      {"rtmp://publisher:hunter22@live.example/app/stream",
       "rtmp://publisher:[redacted]@live.example/app/stream"},
      {"https://api.example/x?api_key=AKIA123456&page=2&Token=abcdef",
       "https://api.example/x?api_key=[redacted]&page=2&Token=[redacted]"},
      {"rtmp://live.example/app?stream_key=sk_live_998877",
       "rtmp://live.example/app?stream_key=[redacted]"},
      {"Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig", "Authorization: Bearer [redacted]"},
      {"secret=abc12345 keyframe=2 monkey=banana", "secret=[redacted] keyframe=2 monkey=banana"},
  };
  for (const auto &[in, want] : cases) {
    c.lines.clear();
    c.logger.info("news", in, {{"uri", in}});
    auto j = nlohmann::json::parse(c.lines.at(0));
    EXPECT_EQ(j["msg"], want) << in;
    EXPECT_EQ(j["uri"], want) << in;
  }
}

TEST(Log, SensitiveFieldNamesAreMaskedWhole) {
  Capture c;
  c.logger.info("news", "config",
                {{"webhook_secret", "plain-value-1"},
                 {"token", "tok-value-2"},
                 {"passphrase", 12345678},
                 {"key", "k-value-3"},
                 {"keyframes", 48}});
  std::string out = c.all();
  for (const char *s : {"plain-value-1", "tok-value-2", "12345678", "k-value-3"})
    EXPECT_EQ(out.find(s), std::string::npos) << out;
  EXPECT_NE(out.find("webhook_secret=[redacted]"), std::string::npos) << out;
  EXPECT_NE(out.find("keyframes=48"), std::string::npos) << out;
}

TEST(Log, ConcurrentWritersProduceWholeLines) {
  Capture c(Format::kJson);
  c.logger.add_secret("concurrent-secret-xyz");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i)
        c.logger.info("ch" + std::to_string(t), "line concurrent-secret-xyz", {{"i", i}});
    });
  // Registering secrets while others log is safe too.
  for (int i = 0; i < 50; ++i) c.logger.add_secret("other-secret-" + std::to_string(i));
  for (auto &t : ts) t.join();
  ASSERT_EQ(c.lines.size(), 800u);
  for (auto &l : c.lines) {
    auto j = nlohmann::json::parse(l);
    EXPECT_EQ(j["msg"], "line [redacted]");
  }
}

TEST(Log, RawByteKeysAreMaskedInTheirHexAndBase64Forms) {
  Capture c;
  const std::string raw("\x9f\x2c\x41\xd0\xaa\x77\xe3\xb5\x00\x11", 10);  // as the KeyRing holds it
  ASSERT_TRUE(c.logger.add_secret(raw));
  c.logger.info("", "key file line: k1 9f2c41d0aa77e3b50011");
  c.logger.info("", "upper 9F2C41D0AA77E3B50011");
  c.logger.info("", "b64 nyxB0Kp347UAEQ and url nyxB0Kp347UAEQ");
  std::string out = c.all();
  EXPECT_EQ(out.find("9f2c41d0aa77e3b50011"), std::string::npos) << out;
  EXPECT_EQ(out.find("9F2C41D0AA77E3B50011"), std::string::npos) << out;
  EXPECT_EQ(out.find("nyxB0Kp347UAEQ"), std::string::npos) << out;
  EXPECT_NE(out.find("k1 [redacted]"), std::string::npos) << out;
}

TEST(Log, RedactorStandsAlone) {
  iptv::log::Redactor r;
  r.add_secret("apikey-0123456789");
  EXPECT_EQ(r.redact("x apikey-0123456789 y"), "x [redacted] y");
  r.clear_secrets();
  EXPECT_EQ(r.redact("x apikey-0123456789 y"), "x apikey-0123456789 y");
  EXPECT_TRUE(iptv::log::Redactor::sensitive_key("X-Api-Token"));
  EXPECT_FALSE(iptv::log::Redactor::sensitive_key("keyframes"));
}
