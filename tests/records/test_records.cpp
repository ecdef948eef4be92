// Channel records: profile catalog, strict loader, positioned errors, cross-file checks.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "records/loader.h"
#include "records/profiles_yaml.h"
#include "profiles/profiles.h"
#include "test_support.h"
#include "util/atomic_file.h"
#include "util/strutil.h"

namespace fs = std::filesystem;

namespace {

std::string data(const std::string &rel) {
  return iptv_test::source_root() + "/tests/data/" + rel;
}

std::vector<iptv::LoadError> parse_errors(const std::string &yaml, const std::string &file) {
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord rec;
  std::vector<iptv::LoadError> errors;
  iptv::parse_channel(yaml, file, cat, rec, errors);
  return errors;
}

// ---- profiles ----

TEST(Profiles, CatalogNames) {
  iptv::ProfileCatalog cat;
  auto p = cat.resolve("720p-3mbps");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->width, 1280);
  EXPECT_EQ(p->height, 720);
  EXPECT_EQ(p->kbps, 3000);
  EXPECT_EQ(p->max_fps, 0);
  auto hd = cat.resolve("1080p-6mbps");
  ASSERT_TRUE(hd);
  EXPECT_EQ(hd->height, 1080);
  EXPECT_EQ(hd->kbps, 6000);
  EXPECT_TRUE(cat.resolve("passthrough")->passthrough);
}

TEST(Profiles, ExplicitForms) {
  iptv::ProfileCatalog cat;
  auto p = cat.resolve("1280x720@3000");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->width, 1280);
  EXPECT_EQ(p->kbps, 3000);
  auto f = cat.resolve("640x360@800@30");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->max_fps, 30);
  std::string err;
  EXPECT_FALSE(cat.resolve("1281x720@3000", &err));
  EXPECT_NE(err.find("even"), std::string::npos) << err;
  EXPECT_FALSE(cat.resolve("1280x720@3mbps", &err));
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
  EXPECT_FALSE(iptv::parse_explicit_profile("720p-3mbps"));
}

TEST(Profiles, UnknownSuggestsNearest) {
  iptv::ProfileCatalog cat;
  std::string err;
  EXPECT_FALSE(cat.resolve("720p-3mbs", &err));
  EXPECT_EQ(err, "unknown profile '720p-3mbs' (did you mean '720p-3mbps'?)");
  EXPECT_FALSE(cat.resolve("potato", &err));
  EXPECT_EQ(err, "unknown profile 'potato'");
}

TEST(Profiles, OverridesFromYaml) {
  iptv::ProfileCatalog cat;
  std::vector<std::string> errors;
  ASSERT_TRUE(
      iptv::load_profiles_yaml(cat,
                               "720p-3mbps: {width: 1280, height: 720, kbps: 3500}\n"
                               "mobile-low: {width: 416, height: 234, kbps: 300, max_fps: 15}\n",
                               "profiles.yaml", &errors));
  EXPECT_EQ(cat.resolve("720p-3mbps")->kbps, 3500);
  auto m = cat.resolve("mobile-low");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->max_fps, 15);
  EXPECT_FALSE(iptv::load_profiles_yaml(cat,
                                        "bad: {width: 417, height: 234, kbps: 300}\n"
                                        "worse: {widht: 416, height: 234, kbps: 300}\n",
                                        "profiles.yaml", &errors));
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "profiles.yaml:1:6: profiles.bad: width and height must be even");
  EXPECT_EQ(errors[1],
            "profiles.yaml:2:9: profiles.worse: unknown key 'widht' (did you mean 'width'?)");
}

// ---- single records ----

TEST(Loader, ArticleRecordLoadsExactlyAsWritten) {
  iptv::LoadResult res = iptv::load_channels({data("article")});
  ASSERT_TRUE(res.ok()) << res.errors[0].str();
  ASSERT_EQ(res.channels.size(), 2u);
  const iptv::ChannelRecord &r = res.channels[0];
  EXPECT_EQ(r.channel_id, "local-news-hd");
  EXPECT_EQ(r.status, iptv::ChannelStatus::kActive);
  EXPECT_EQ(r.source_type, "licensed-live-feed");
  ASSERT_EQ(r.profiles.size(), 3u);
  EXPECT_EQ(r.profiles[0].name, "1080p-6mbps");
  EXPECT_EQ(r.profiles[1].name, "720p-3mbps");
  EXPECT_EQ(r.profiles[2].name, "480p-1mbps");
  EXPECT_EQ(r.access.regions, std::vector<std::string>{"permitted-market"});
  EXPECT_TRUE(r.access.account_required);
  EXPECT_TRUE(r.failover.enabled);
  EXPECT_EQ(r.failover.backup_source, "local-news-sd");
  EXPECT_DOUBLE_EQ(r.observability.alert_after_segment_gap_seconds, 12);
  // It has no source, so it loads but is reported as not runnable.
  auto warnings = iptv::record_warnings(r);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("no source"), std::string::npos);
}

TEST(Loader, MinimalRecordIsFiveLinesWithDefaults) {
  std::string yaml =
      "channel_id: lobby\n"
      "source: udp://239.1.1.1:5000\n"
      "rights:\n"
      "  owner: Example Venue\n"
      "  licence: owned\n";
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord r;
  std::vector<iptv::LoadError> errors;
  ASSERT_TRUE(iptv::parse_channel(yaml, "lobby.yaml", cat, r, errors));
  EXPECT_EQ(r.name, "lobby");
  EXPECT_EQ(r.source.kind, iptv::SourceKind::kUdp);
  EXPECT_EQ(r.status, iptv::ChannelStatus::kActive);
  EXPECT_EQ(r.profiles.size(), 2u);
  EXPECT_EQ(r.encoder, iptv::EncoderChoice::kAuto);
  EXPECT_DOUBLE_EQ(r.keyframe_interval_seconds, 2);
  EXPECT_DOUBLE_EQ(r.hls.segment_seconds, 4);
  EXPECT_EQ(r.hls.window_segments, 6);
  EXPECT_EQ(r.hls.sequence_mode, iptv::SequenceMode::kEpoch);
  EXPECT_TRUE(r.access.account_required);
  EXPECT_FALSE(r.failover.enabled);
  EXPECT_EQ(r.epg.tvg_id, "lobby");
  EXPECT_TRUE(r.runnable_rights());
  EXPECT_TRUE(iptv::record_warnings(r).empty());
  EXPECT_EQ(r.content_sha256.size(), 64u);
}

TEST(Loader, FullRecordParsesEveryField) {
  std::string yaml =
      "channel_id: full\n"
      "name: Full Channel\n"
      "status: disabled\n"
      "source_type: owned-content\n"
      "source: {uri: 'srt://:9000?mode=listener', latency_ms: 120}\n"
      "rights: {owner: Us, licence: owned, regions: [eu, uk], expires: 2030-01-01}\n"
      "profiles: [720p-3mbps, 640x360@700@25]\n"
      "encoder: nvenc\n"
      "preset: faster\n"
      "keyframe_interval_seconds: 1\n"
      "access: {region: [eu], account_required: false}\n"
      "failover: {enabled: true, backup_source: other, primary_loss_seconds: 2,"
      " return_after_seconds: 30, triggers: [silence, freeze]}\n"
      "observability: {alert_after_segment_gap_seconds: 8}\n"
      "quality: {silence_threshold_db: -50, silence_seconds: 4, black_threshold: 0.1,"
      " black_seconds: 3, freeze_seconds: 6}\n"
      "hls: {segment_seconds: 6, window_segments: 10, dvr_seconds: 3600, playlist_type: event,"
      " sequence_mode: counter}\n"
      "outputs: [{type: srt, uri: 'srt://cloud.example:9000'}, {type: udp, uri: "
      "'udp://239.2.2.2:5000'}, {type: rtmp, uri: 'rtmp://ingest.example/live/x'}]\n"
      "epg: {tvg_id: full.example, logo: 'https://example/logo.png', group: Sports, schedule: "
      "full.xml}\n"
      "placement: {node: venue-1, role: edge}\n";
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord r;
  std::vector<iptv::LoadError> errors;
  ASSERT_TRUE(iptv::parse_channel(yaml, "full.yaml", cat, r, errors))
      << (errors.empty() ? "" : errors[0].str());
  EXPECT_EQ(r.status, iptv::ChannelStatus::kDisabled);
  EXPECT_EQ(r.source.kind, iptv::SourceKind::kSrt);
  EXPECT_EQ(r.source.latency_ms, 120);
  EXPECT_EQ(r.rights.regions.size(), 2u);
  EXPECT_GT(r.rights.expires_unix, 1800000000);
  EXPECT_EQ(r.profiles[1].max_fps, 25);
  EXPECT_EQ(r.encoder, iptv::EncoderChoice::kNvenc);
  EXPECT_EQ(r.preset, "faster");
  EXPECT_FALSE(r.access.account_required);
  EXPECT_DOUBLE_EQ(r.failover.return_after_seconds, 30);
  EXPECT_EQ(r.failover.triggers.size(), 2u);
  EXPECT_DOUBLE_EQ(r.quality.freeze_seconds, 6);
  EXPECT_EQ(r.hls.playlist_type, iptv::PlaylistType::kEvent);
  EXPECT_EQ(r.hls.sequence_mode, iptv::SequenceMode::kCounter);
  ASSERT_EQ(r.outputs.size(), 3u);
  EXPECT_EQ(r.outputs[2].kind, iptv::OutputKind::kRtmp);
  EXPECT_EQ(r.epg.group, "Sports");
  EXPECT_EQ(r.placement.role, iptv::PlacementRole::kEdge);
}

TEST(Loader, ErrorCarriesFileLineColumnAndPath) {
  auto errors = parse_errors(
      "channel_id: news\nsource: test://smpte\nprofiles:\n  - 1080p-6mbps\n  - 720p-3mbs\n",
      "channels/news.yaml");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].str(),
            "channels/news.yaml:5:5: profiles[1]: unknown profile '720p-3mbs' (did you mean "
            "'720p-3mbps'?)");
  EXPECT_EQ(errors[0].channel_id, "news");
}

// redundancy (docs/cluster.md, "Hot standby"): none by default, hot-standby, and anything else
// refused with file:line and the allowed values.
TEST(Loader, RedundancyHotStandby) {
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord r;
  std::vector<iptv::LoadError> errors;
  const std::string base = "channel_id: news\nsource: test://smpte\nprofiles: [720p-3mbps]\n";
  ASSERT_TRUE(iptv::parse_channel(base, "news.yaml", cat, r, errors));
  EXPECT_EQ(r.redundancy, iptv::Redundancy::kNone);
  ASSERT_TRUE(iptv::parse_channel(base + "redundancy: hot-standby\n", "news.yaml", cat, r, errors))
      << errors[0].str();
  EXPECT_EQ(r.redundancy, iptv::Redundancy::kHotStandby);
  auto bad = parse_errors(base + "redundancy: hot-stanby\n", "channels/news.yaml");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].str(),
            "channels/news.yaml:4:13: redundancy: unknown value 'hot-stanby' (expected one of: "
            "none, hot-standby); did you mean 'hot-standby'?");
}

TEST(Loader, AllErrorsInOneRun) {
  auto errors = parse_errors(
      "channel_id: news\nsource: test://smpte\nstatus: live\nencoder: qsv\nhls:\n  "
      "window_segments: 1\n  segmnt_seconds: 4\n",
      "news.yaml");
  ASSERT_EQ(errors.size(), 4u);
  EXPECT_EQ(errors[0].path, "status");
  EXPECT_EQ(errors[1].path, "encoder");
  EXPECT_EQ(errors[2].path, "hls.segmnt_seconds");  // a mapping's unknown keys come first
  EXPECT_NE(errors[2].message.find("did you mean 'segment_seconds'"), std::string::npos);
  EXPECT_EQ(errors[3].path, "hls.window_segments");
}

TEST(Loader, DuplicateKeyIsAnError) {
  auto errors =
      parse_errors("channel_id: a\nsource: test://smpte\nsource: test://ball\n", "a.yaml");
  ASSERT_FALSE(errors.empty());
  EXPECT_NE(errors[0].message.find("duplicate key 'source'"), std::string::npos);
}

TEST(Loader, ExpiredRightsWarn) {
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord r;
  std::vector<iptv::LoadError> errors;
  ASSERT_TRUE(iptv::parse_channel(
      "channel_id: old\nsource: udp://239.1.1.1:5000\nrights: {owner: A, licence: B, expires: "
      "2020-01-01}\n",
      "old.yaml", cat, r, errors));
  auto w = iptv::record_warnings(r);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("expired"), std::string::npos);
}

TEST(Loader, DemoChannelsAreValid) {
  iptv::LoadResult res = iptv::load_channels({iptv_test::source_root() + "/channels"});
  for (const auto &e : res.errors) ADD_FAILURE() << e.str();
  EXPECT_GE(res.channels.size(), 2u);
  for (const auto &c : res.channels) EXPECT_TRUE(iptv::record_warnings(c).empty()) << c.channel_id;
}

TEST(Loader, ProfilesYamlBesideChannelsExtendsCatalog) {
  iptv_test::TempDir dir;
  ASSERT_EQ(iptv::write_file_atomic(dir.path() + "/profiles.yaml",
                                    "tiny: {width: 160, height: 90, kbps: 100}\n"),
            "");
  ASSERT_EQ(iptv::write_file_atomic(dir.path() + "/t.yaml",
                                    "channel_id: t\nsource: test://smpte\nprofiles: [tiny]\n"),
            "");
  iptv::LoadResult res = iptv::load_channels({dir.path()});
  ASSERT_TRUE(res.ok()) << res.errors[0].str();
  ASSERT_EQ(res.channels.size(), 1u);
  EXPECT_EQ(res.channels[0].profiles[0].width, 160);
}

// hls.low_latency.part_seconds: read into the record (0, off, when absent), with fMP4 or
// MPEG-TS segments alike (parts over TS: issue 16; it used to be refused without fmp4).
TEST(Loader, LowLatencyPartSeconds) {
  iptv_test::TempDir dir;
  ASSERT_EQ(iptv::write_file_atomic(dir.path() + "/ll.yaml",
                                    "channel_id: ll\nsource: test://smpte\nhls:\n"
                                    "  segment_seconds: 2\n  segment_format: fmp4\n"
                                    "  low_latency: {part_seconds: 0.5}\n"),
            "");
  ASSERT_EQ(iptv::write_file_atomic(dir.path() + "/llts.yaml",
                                    "channel_id: llts\nsource: test://smpte\nhls:\n"
                                    "  segment_seconds: 2\n  low_latency: {part_seconds: 0.5}\n"),
            "");
  ASSERT_EQ(iptv::write_file_atomic(dir.path() + "/plain.yaml",
                                    "channel_id: plain\nsource: test://smpte\n"),
            "");
  iptv::LoadResult res = iptv::load_channels({dir.path()});
  ASSERT_TRUE(res.ok()) << res.errors[0].str();
  ASSERT_EQ(res.channels.size(), 3u);
  for (const auto &c : res.channels)
    EXPECT_DOUBLE_EQ(c.hls.part_seconds, c.channel_id == "plain" ? 0.0 : 0.5) << c.channel_id;
}

// ---- the bad records ----

struct BadCase {
  std::string file, expected;
};

std::vector<BadCase> bad_cases() {
  std::vector<BadCase> out;
  std::string text;
  iptv::read_file(data("bad-channels/EXPECTED.tsv"), text);
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    out.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  return out;
}

TEST(BadRecords, EveryBadRecordFailsWithItsMessage) {
  auto cases = bad_cases();
  ASSERT_GE(cases.size(), 25u);
  size_t files = 0;
  for (auto &e : fs::directory_iterator(data("bad-channels")))
    if (e.path().extension() == ".yaml") ++files;
  EXPECT_EQ(cases.size(), files) << "every bad record needs a line in EXPECTED.tsv";
  for (const auto &c : cases) {
    std::string path = data("bad-channels/" + c.file);
    iptv::LoadResult res = iptv::load_channels({path});
    EXPECT_FALSE(res.ok()) << c.file << " was accepted";
    EXPECT_TRUE(res.channels.empty()) << c.file;
    bool found = false;
    for (const auto &e : res.errors) found |= e.str() == path + c.expected;
    EXPECT_TRUE(found) << c.file << ": expected '" << c.expected << "', got '"
                       << (res.errors.empty() ? "" : res.errors[0].str()) << "'";
  }
}

TEST(BadRecords, CrossFileChecks) {
  struct {
    const char *dir, *file, *expected;
  } cases[] = {
      {"duplicate-id", "news.yaml", ":1:1: channel_id: duplicate channel_id 'news' (also in "},
      {"backup-missing", "sports.yaml",
       ":5:18: failover.backup_source: backup_source 'sport-sd' names no channel (did you mean "
       "'sports-sd'?)"},
      {"failover-cycle", "a.yaml", ":5:18: failover.backup_source: failover cycle: a -> b -> a"},
      {"file-name-mismatch", "wether.yaml",
       ":1:1: channel_id: channel_id 'weather' disagrees with the file name 'wether.yaml' (name "
       "the file weather.yaml)"},
  };
  for (const auto &c : cases) {
    std::string dir = data(std::string("bad-channels/cross-file/") + c.dir);
    iptv::LoadResult res = iptv::load_channels({dir});
    EXPECT_FALSE(res.ok()) << c.dir;
    bool found = false;
    for (const auto &e : res.errors)
      found |= iptv::starts_with(e.str(), dir + "/" + c.file + c.expected);
    EXPECT_TRUE(found) << c.dir << ": got " << (res.errors.empty() ? "" : res.errors[0].str());
  }
}

TEST(BadRecords, OneBadFileDoesNotHideOthers) {
  // The bad record is reported; the good ones beside it still load.
  iptv_test::TempDir dir;
  iptv::write_file_atomic(dir.path() + "/good.yaml", "channel_id: good\nsource: test://smpte\n");
  iptv::write_file_atomic(dir.path() + "/bad.yaml", "channel_id: bad\nsource: nope\n");
  iptv::LoadResult res = iptv::load_channels({dir.path()});
  EXPECT_EQ(res.errors.size(), 1u);
  ASSERT_EQ(res.channels.size(), 1u);
  EXPECT_EQ(res.channels[0].channel_id, "good");
}

TEST(BadRecords, FuzzRegressionsNeverCrash) {
  // Inputs the fuzzer (tests/records/fuzz.sh) found or that target yaml-cpp's sharp edges.
  const char *inputs[] = {
      "source:\n  url: x\n",
      "channel_id: [a]\nsource: {uri: [x]}\n",
      "profiles: {a: b}\nhls: [1]\nfailover: 3\n",
      "? [a]\n: b\n",
      "channel_id: &a x\nname: *a\nstatus: *a\n",
      "outputs: [[1], {type: [x]}, {type: srt, uri: {a: 1}}]\n",
      "failover: {triggers: {a: 1}, backup_source: [x]}\n",
      "\xff\xfe\x00",
      "rights: {regions: [[1]], expires: [1]}\n",
  };
  for (const char *in : inputs) {
    auto errors = parse_errors(in, "fuzz.yaml");
    EXPECT_FALSE(errors.empty()) << "accepted: " << in;
  }
  std::string dir = data("fuzz-regressions");
  if (fs::exists(dir))
    for (auto &e : fs::directory_iterator(dir)) {
      std::string text;
      iptv::read_file(e.path().string(), text);
      parse_errors(text, e.path().string());
    }
}

}  // namespace

TEST(Loader, TimeShiftKeys) {
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord rec;
  std::vector<iptv::LoadError> errors;
  ASSERT_TRUE(
      iptv::parse_channel("channel_id: sports\nsource: udp://239.0.0.1:5000\n"
                          "rights: {owner: Venue FC, licence: LIC-1, catchup_days: 7}\n"
                          "dvr: {window_seconds: 1800}\ncatchup:\n  days: 3\n  max_gigabytes: 50\n",
                          "sports.yaml", cat, rec, errors))
      << (errors.empty() ? "" : errors[0].str());
  EXPECT_EQ(rec.hls.dvr_seconds, 1800);
  EXPECT_EQ(rec.rights.catchup_days, 7);
  EXPECT_EQ(rec.catchup.days, 3);
  EXPECT_EQ(rec.catchup.max_gigabytes, 50);
  EXPECT_EQ(rec.catchup.line, 6);
  // catchup.days 0 (off) needs no rights; unknown keys get a suggestion.
  auto e = parse_errors("channel_id: a\nsource: test://smpte\ncatchup: {days: 0, max_gb: 1}\n",
                        "a.yaml");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].path, "catchup.max_gb");
}

TEST(Loader, EncryptionKeys) {
  iptv::ProfileCatalog cat;
  iptv::ChannelRecord rec;
  std::vector<iptv::LoadError> errors;
  ASSERT_TRUE(
      iptv::parse_channel("channel_id: premium\nsource: udp://239.0.0.1:5000\n"
                          "encryption: {method: aes-128, rotate_segments: 4}\n",
                          "premium.yaml", cat, rec, errors))
      << (errors.empty() ? "" : errors[0].str());
  EXPECT_TRUE(rec.encryption.enabled);
  EXPECT_EQ(rec.encryption.rotate_segments, 4);
  EXPECT_EQ(rec.encryption.line, 3);
  // The default rotation; method none is clear; no encryption key: clear.
  iptv::ChannelRecord d;
  ASSERT_TRUE(
      iptv::parse_channel("channel_id: a\nsource: test://smpte\n"
                          "encryption: {method: aes-128}\n",
                          "a.yaml", cat, d, errors));
  EXPECT_EQ(d.encryption.rotate_segments, 10);
  iptv::ChannelRecord n;
  ASSERT_TRUE(
      iptv::parse_channel("channel_id: a\nsource: test://smpte\nencryption: {method: none}\n",
                          "a.yaml", cat, n, errors));
  EXPECT_FALSE(n.encryption.enabled);
  // Refused with their position: no method, an unknown key, DASH (which cannot carry it).
  auto e = parse_errors("channel_id: a\nsource: test://smpte\nencryption: {rotate_segments: 3}\n",
                        "a.yaml");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].path, "encryption.method");
  e = parse_errors("channel_id: a\nsource: test://smpte\nencryption: {method: aes-128, keys: 3}\n",
                   "a.yaml");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].path, "encryption.keys");
  e = parse_errors(
      "channel_id: a\nsource: test://smpte\nhls: {segment_format: fmp4}\ndash: true\n"
      "encryption: {method: aes-128}\n",
      "a.yaml");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].path, "encryption.method");
  EXPECT_NE(e[0].message.find("dash"), std::string::npos) << e[0].message;
}
