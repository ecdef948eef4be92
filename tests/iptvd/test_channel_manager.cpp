// The channel manager builds each record's worker spec once (issue 13 item 2): the reload plan
// compares that build's fingerprint, and the file the worker gets is that build's text. A real
// ChannelManager over a real state store; the worker path does not exist, so no worker runs and
// nothing here waits for one (a changed channel is rebuilt at once).
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "daemon/channel_manager.h"
#include "db/sqlite_db.h"
#include "log/log.h"
#include "origin/origin.h"
#include "records/loader.h"
#include "store/state_store.h"
#include "test_support.h"

using namespace iptv::daemon;

namespace {

void write(const std::string &path, const std::string &text) {
  std::ofstream(path) << text;
}

std::string slurp(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

const char kMain[] =
    "channel_id: main\nsource: test://smpte\nprofiles: [180p-250kbps]\n"
    "failover:\n  enabled: true\n  backup_source: spare\n";
const char kSpare[] = "channel_id: spare\nsource: test://smpte\nprofiles: [180p-250kbps]\n";

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    channels_ = tmp_.path() + "/channels";
    data_ = tmp_.path() + "/data";
    std::filesystem::create_directories(channels_);
    std::filesystem::create_directories(data_ + "/run");
    std::filesystem::create_directories(data_ + "/hls");
    db_ = iptv::db::Db::open(data_ + "/iptvd.db");
    store_ = std::make_unique<iptv::store::StateStore>(*db_);
    origin_ = std::make_unique<iptv::Origin>(iptv::OriginConfig{});  // not listening
    logger_.set_sink([this](std::string_view line) { log_ += line; });
    ManagerOptions o;
    o.channels_dir = channels_;
    o.data_dir = data_;
    o.worker_path = tmp_.path() + "/no-such-worker";
    manager_ = std::make_unique<ChannelManager>(o, *store_, *origin_, logger_);
  }
  void TearDown() override { manager_.reset(); }

  // The applied spec of `id`, checked against the file the worker would read.
  SpecFile spec_on_disk(const std::string &id) {
    auto s = manager_->spec(id);
    EXPECT_TRUE(s) << id;
    if (!s) return {};
    std::string file = slurp(manager_->spec_path(id));
    EXPECT_EQ(file, s->text) << id << ": the file is the planned build";
    EXPECT_EQ(s->sha256, iptv::sha256_hex(file)) << id;
    EXPECT_EQ(s->fingerprint(), iptv::sha256_hex(file) + "|" + iptv::to_string(s->status)) << id;
    return *s;
  }
  // The counts the last reload logged.
  bool reloaded(const std::string &counts) {
    return log_.rfind("reload: " + counts) != std::string::npos;
  }

  iptv_test::TempDir tmp_;
  std::string channels_, data_, log_;
  std::unique_ptr<iptv::db::Db> db_;
  std::unique_ptr<iptv::store::StateStore> store_;
  std::unique_ptr<iptv::Origin> origin_;
  iptv::log::Logger logger_;
  std::unique_ptr<ChannelManager> manager_;
};

}  // namespace

TEST_F(ManagerTest, TheSpecFileIsTheBuildTheReloadFingerprints) {
  write(channels_ + "/main.yaml", kMain);
  write(channels_ + "/spare.yaml", kSpare);
  manager_->load();
  SpecFile main0 = spec_on_disk("main");
  SpecFile spare0 = spec_on_disk("spare");
  EXPECT_NE(main0.text.find("test://smpte"), std::string::npos);

  // A comment changes the record file, not the spec: nothing is rebuilt.
  write(channels_ + "/main.yaml", std::string(kMain) + "# a note\n");
  manager_->reload("test: comment");
  EXPECT_TRUE(reloaded("2 unchanged, 0 changed")) << log_;
  EXPECT_EQ(manager_->spec("main")->fingerprint(), main0.fingerprint());
  EXPECT_EQ(spec_on_disk("main").text, main0.text);

  // The backup's source is part of main's spec: both channels change, and main's new file (with
  // the new backup source) is the build the plan compared.
  write(channels_ + "/spare.yaml",
        "channel_id: spare\nsource: test://ball\nprofiles: [180p-250kbps]\n");
  manager_->reload("test: backup source");
  EXPECT_TRUE(reloaded("0 unchanged, 2 changed")) << log_;
  SpecFile main1 = spec_on_disk("main");
  EXPECT_NE(main1.fingerprint(), main0.fingerprint());
  EXPECT_NE(main1.text.find("test://ball"), std::string::npos) << main1.text;
  EXPECT_NE(spec_on_disk("spare").fingerprint(), spare0.fingerprint());

  // A change to main's own pipeline: only main is rebuilt.
  write(channels_ + "/main.yaml", std::string(kMain) + "preset: ultrafast\n");
  manager_->reload("test: preset");
  EXPECT_TRUE(reloaded("1 unchanged, 1 changed")) << log_;
  SpecFile main2 = spec_on_disk("main");
  EXPECT_NE(main2.fingerprint(), main1.fingerprint());
  EXPECT_NE(main2.text.find("ultrafast"), std::string::npos);

  // The status is part of the fingerprint, not of the spec: disabling rebuilds (no worker, no
  // new file) with the same spec text.
  write(channels_ + "/main.yaml", std::string(kMain) + "preset: ultrafast\nstatus: disabled\n");
  manager_->reload("test: disabled");
  EXPECT_TRUE(reloaded("1 unchanged, 1 changed")) << log_;
  auto disabled = manager_->spec("main");
  ASSERT_TRUE(disabled);
  EXPECT_EQ(disabled->sha256, main2.sha256);
  EXPECT_NE(disabled->fingerprint(), main2.fingerprint());
  EXPECT_EQ(manager_->view("main")->state, "disabled");
}
