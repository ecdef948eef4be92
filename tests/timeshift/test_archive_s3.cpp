// The archive tier (storage.archive) through a real iptvd and a real S3-compatible server
// (s3rver, from npm): finished periods are uploaded with SigV4-signed PUTs, their warm copies are
// deleted (warm_keep_seconds: 0), and a catch-up URL over segments that only the archive holds
// plays in ffprobe (decoded frames), read back through the local cache. A credentials file that
// others may read stops iptvd at start with the file named and the secret never printed.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <ctime>
#include <filesystem>
#include <thread>

#include "iptvd_fixture.h"
#include "s3_server.h"
#include "test_support.h"
#include "util/strutil.h"

using namespace iptvd_test;
namespace fs = std::filesystem;

namespace {

int64_t unix_now() {
  return (int64_t)std::time(nullptr);
}

std::string archive_config(const iptv_test::S3Server &s3, const std::string &creds) {
  return "tokens:\n  ttl_seconds: 600\nstorage:\n  sweep_seconds: 1\n  archive:\n"
         "    endpoint: " +
         s3.endpoint() + "\n    bucket: " + s3.bucket() +
         "\n    region: us-east-1\n    prefix: iptv/\n    credentials_file: " + creds +
         "\n    period_seconds: 4\n    warm_keep_seconds: 0\n    cache_megabytes: 64\n";
}

const char *kCreds =
    "# s3rver's built-in account\naccess_key_id: S3RVER\nsecret_access_key: S3RVER\n";

}  // namespace

TEST(ArchiveS3, FinishedPeriodsGoToTheArchiveAndCatchupReadsThemBack) {
  std::string missing = iptv_test::s3_server_missing();
  ASSERT_EQ(missing, "") << "the archive test needs " << missing;
  iptv_test::TempDir s3dir;
  iptv_test::S3Server s3(s3dir.path(), "archive");
  ASSERT_TRUE(s3.start()) << s3.log();

  iptv_test::TempDir dir;
  write_file(dir.path() + "/news.yaml",
             channel_yaml("news",
                          "access:\n  account_required: false\n"
                          "rights: {owner: Test, licence: T-1, catchup_days: 2}\n"
                          "catchup: {days: 1}\n"));
  iptv_test::TempDir state;
  std::string data = state.path() + "/data";
  fs::create_directories(data);
  std::string creds = state.path() + "/s3.credentials";
  write_file(creds, kCreds);
  ::chmod(creds.c_str(), 0600);
  write_file(state.path() + "/iptvd.yaml", archive_config(s3, creds));
  Iptvd d(dir.path(), {"--config", state.path() + "/iptvd.yaml"}, data);
  d.start();
  ASSERT_TRUE(d.running()) << d.log();
  ASSERT_TRUE(d.wait_live({"news"}, 60, 1)) << d.log();
  int64_t t0 = unix_now();
  int64_t a = t0 + 2, b = t0 + 8;
  // Every segment of [a, b) uploaded and gone from the warm tier: the live window is 6 + 2
  // segments of 1 s and a period 4 s, so this takes ~16 s after b.
  std::string evicted_q =
      "SELECT COUNT(*) FROM ar_segments s JOIN ar_objects o USING(channel_id, rendition, "
      "start_ms) WHERE s.channel_id='news' AND s.rendition='180p' AND s.path='' AND s.start_ms>=" +
      std::to_string((a - 1) * 1000) + " AND s.start_ms<" + std::to_string(b * 1000);
  ASSERT_TRUE(wait_for(120, [&] { return std::atoi(d.sql(evicted_q).c_str()) >= 6; }))
      << d.sql(evicted_q) << "\n"
      << d.sql("SELECT rendition, start_ms, path FROM ar_segments LIMIT 20") << "\n"
      << d.sql("SELECT * FROM ar_objects LIMIT 5") << "\n"
      << d.log();

  // The objects are in the bucket, byte for byte, and their warm files are gone.
  std::string row = d.sql(
      "SELECT o.object_key, s.bytes FROM ar_segments s JOIN ar_objects o USING(channel_id, "
      "rendition, start_ms) WHERE s.channel_id='news' AND s.path='' ORDER BY s.start_ms LIMIT 1");
  auto fields = iptv::split(iptv::trim(row), '|');
  ASSERT_EQ(fields.size(), 2u) << row;
  EXPECT_EQ(s3.object("iptv/" + fields[0]).size(), (size_t)std::atoll(fields[1].c_str())) << row;
  EXPECT_FALSE(fs::exists(data + "/warm/" + fields[0])) << fields[0];
  EXPECT_GE(s3.object_count(), 6);

  // The catch-up URL over [a, b): every segment comes back from the archive and decodes.
  std::string url = d.playback_url("news");
  ASSERT_FALSE(url.empty());
  std::string range_url = url + "?start=" + std::to_string(a) + "&end=" + std::to_string(b);
  std::string probe =
      sh("ffprobe -v error -show_entries format=duration -of csv=p=0 '" + range_url + "' 2>&1");
  double dur = std::atof(probe.c_str());
  EXPECT_GE(dur, 5.9) << probe << d.log();
  EXPECT_LE(dur, 7.2) << probe;
  std::string frames =
      sh("ffprobe -v error -select_streams v:0 -count_frames -show_entries stream=nb_read_frames "
         "-of csv=p=0 '" +
         range_url + "' 2>&1");
  EXPECT_GE(std::atoi(frames.c_str()), 24) << frames;
  // Read through the bounded cache.
  int cached = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(data + "/archive-cache", ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    cached += it->is_regular_file(ec) ? 1 : 0;
  EXPECT_GE(cached, 6);
  // The live window went on meanwhile, and the secret never reached the log.
  EXPECT_FALSE(parse_media(d.playlist("news", "180p")).durations.empty());
  EXPECT_EQ(d.log().find("S3RVER"), std::string::npos) << d.log();
  d.signal(SIGTERM);
  EXPECT_EQ(d.wait_exit(30), 0) << d.log();
}

TEST(ArchiveS3, CredentialsThatOthersMayReadStopTheStart) {
  iptv_test::TempDir state;
  std::string creds = state.path() + "/s3.credentials";
  write_file(creds, kCreds);
  ::chmod(creds.c_str(), 0644);
  iptv_test::S3Server s3(state.path() + "/none", "archive");  // not started: never reached
  write_file(state.path() + "/iptvd.yaml", archive_config(s3, creds));
  fs::create_directories(state.path() + "/channels");
  std::string out =
      sh(iptv_test::build_root() + "/orchestrator/iptvd/iptvd --channels " + state.path() +
         "/channels --data " + state.path() + "/data --listen 127.0.0.1:0 --config " +
         state.path() + "/iptvd.yaml 2>&1; echo rc=$?");
  EXPECT_NE(out.find(creds), std::string::npos) << out;
  EXPECT_NE(out.find("chmod 600"), std::string::npos) << out;
  EXPECT_EQ(out.find("rc=0"), std::string::npos) << out;
  EXPECT_EQ(out.find("S3RVER"), std::string::npos) << out;
}
