// AES-128 with rotating keys, below the daemon: the cipher (NIST SP 800-38A vectors, PKCS7),
// key wrapping with the master key, the key store in a real SQLite file (idempotent, survives a
// reopen, useless under another master key, no clear key in the file), the master key file's
// errors, EXT-X-KEY in media playlists (init segments clear, restore), and EXT-X-KEY in catch-up
// playlists from the key ids kept per archived segment.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>

#include "archive/archive_index.h"
#include "archive/catchup_service.h"
#include "crypto/aes.h"
#include "hls/playlist.h"
#include "keys/key_store.h"
#include "test_support.h"
#include "util/atomic_file.h"

namespace c = iptv::crypto;

namespace {

std::string hex(const std::string &h) {
  return *c::from_hex(h);
}

int count(const std::string &text, const std::string &what) {
  int n = 0;
  for (size_t at = 0; (at = text.find(what, at)) != std::string::npos; at += what.size()) ++n;
  return n;
}

}  // namespace

TEST(Aes128Cbc, NistVectorsAndPkcs7) {
  // SP 800-38A F.2.1 CBC-AES128.Encrypt, four blocks.
  std::string key = hex("2b7e151628aed2a6abf7158809cf4f3c");
  std::string iv = hex("000102030405060708090a0b0c0d0e0f");
  std::string plain =
      hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
          "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710");
  std::string expect =
      "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
      "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7";
  std::string out = c::aes128_cbc_encrypt(key, iv, plain);
  ASSERT_EQ(out.size(), 80u);  // a whole block of padding after a multiple of 16
  EXPECT_EQ(c::to_hex(out.substr(0, 64)), expect);
  auto back = c::aes128_cbc_decrypt(key, iv, out);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, plain);
  // Every length pads to the next block, and round-trips.
  for (size_t n : {0u, 1u, 15u, 16u, 17u, 188u, 1000u}) {
    std::string p(n, 'x');
    std::string e = c::aes128_cbc_encrypt(key, iv, p);
    EXPECT_EQ(e.size(), (n / 16 + 1) * 16) << n;
    EXPECT_EQ(c::aes128_cbc_decrypt(key, iv, e).value_or("?"), p) << n;
  }
  // A wrong key does not give the plaintext (bad padding or garbage).
  std::string other = hex("000102030405060708090a0b0c0d0e0f");
  auto wrong =
      c::aes128_cbc_decrypt(other, iv, c::aes128_cbc_encrypt(key, iv, std::string(188, 'G')));
  EXPECT_TRUE(!wrong || *wrong != std::string(188, 'G'));
  EXPECT_TRUE(c::aes128_cbc_encrypt("short", iv, plain).empty());
}

TEST(KeyWrap, Aes256GcmAuthenticatesKeyAndRow) {
  std::string master = c::random_bytes(32), secret = c::random_bytes(16);
  ASSERT_EQ(master.size(), 32u);
  std::string w = c::wrap_key(master, secret, "news/ab");
  ASSERT_EQ(w.size(), 12u + 16u + 16u);
  EXPECT_EQ(c::unwrap_key(master, w, "news/ab").value_or(""), secret);
  EXPECT_FALSE(c::unwrap_key(master, w, "news/cd"));               // another row
  EXPECT_FALSE(c::unwrap_key(c::random_bytes(32), w, "news/ab"));  // another master key
  std::string bad = w;
  bad[20] ^= 1;
  EXPECT_FALSE(c::unwrap_key(master, bad, "news/ab"));   // tampered
  EXPECT_NE(c::wrap_key(master, secret, "news/ab"), w);  // a fresh nonce each time
}

TEST(KeyStore, OneKeyPerPeriodKeptWrappedAcrossReopen) {
  iptv_test::TempDir dir;
  std::string db_path = dir.path() + "/iptvd.db";
  std::string master = c::random_bytes(32);
  iptv::keys::ContentKey k5, k6;
  {
    auto db = iptv::db::Db::open(db_path);
    iptv::keys::KeyStore ks(*db, master);
    std::string err;
    auto a = ks.ensure("news", 5, &err);
    ASSERT_TRUE(a) << err;
    EXPECT_EQ(a->key.size(), 16u);
    EXPECT_EQ(a->iv.size(), 16u);
    EXPECT_EQ(a->key_id.size(), 16u);
    auto again = ks.ensure("news", 5);  // idempotent
    ASSERT_TRUE(again);
    EXPECT_EQ(again->key, a->key);
    EXPECT_EQ(again->key_id, a->key_id);
    k5 = *a;
    k6 = *ks.ensure("news", 6);
    EXPECT_NE(k6.key, k5.key);
    EXPECT_NE(k6.iv, k5.iv);
    EXPECT_NE(k6.key_id, k5.key_id);
    EXPECT_NE(ks.ensure("sports", 5)->key, k5.key);
    EXPECT_EQ(ks.find("news", k5.key_id)->key, k5.key);
    EXPECT_FALSE(ks.find("sports", k5.key_id));  // key ids are per channel
    EXPECT_EQ(ks.iv("news", k6.key_id).value_or(""), k6.iv);
  }
  // The database file never holds a key in the clear.
  std::string raw;
  ASSERT_TRUE(iptv::read_file(db_path, raw));
  std::string wal;
  iptv::read_file(db_path + "-wal", wal);
  for (const std::string &k : {k5.key, k6.key}) {
    EXPECT_EQ(raw.find(k), std::string::npos);
    EXPECT_EQ(raw.find(c::to_hex(k)), std::string::npos);
    EXPECT_EQ(wal.find(c::to_hex(k)), std::string::npos);
  }
  {
    auto db = iptv::db::Db::open(db_path);
    iptv::keys::KeyStore ks(*db, master);
    EXPECT_EQ(ks.ensure("news", 5)->key, k5.key);  // the same key after a restart
    EXPECT_EQ(ks.find("news", k6.key_id)->key, k6.key);
  }
  {
    auto db = iptv::db::Db::open(db_path);
    iptv::keys::KeyStore ks(*db, c::random_bytes(32));  // another master key: nothing unwraps
    EXPECT_FALSE(ks.find("news", k5.key_id));
    std::string err;
    EXPECT_FALSE(ks.ensure("news", 5, &err));
    EXPECT_NE(err.find("does not unwrap"), std::string::npos) << err;
  }
}

// Issue 19: keys of periods older than the channel's longest retention go, in one transaction,
// except those an archived segment still names; a failure part-way deletes nothing.
TEST(KeyStore, PrunesKeysOlderThanTheLongestRetentionInOneTransaction) {
  iptv_test::TempDir dir;
  auto db = iptv::db::Db::open(dir.path() + "/iptvd.db");
  iptv::archive::ArchiveIndex index(*db);  // ar_segments: which keys archived segments name
  iptv::keys::KeyStore ks(*db, c::random_bytes(32));
  const int64_t now = 1'800'000'000'000, day = 86'400'000;
  // news: periods 1..4 made 10, 5, 2 and 0 days ago; sports: 1..2 made 10 days and 1 h ago.
  std::map<std::string, std::string> ids;
  auto make = [&](const std::string &ch, uint64_t period, int64_t made) {
    auto k = ks.ensure(ch, period);
    ASSERT_TRUE(k);
    ids[ch + std::to_string(period)] = k->key_id;
    db->prepare("UPDATE enc_keys SET created_ms=? WHERE channel_id=? AND period=?")
        .bind(1, made)
        .bind(2, ch)
        .bind(3, static_cast<int64_t>(period))
        .run();
  };
  make("news", 1, now - 10 * day);
  make("news", 2, now - 5 * day);
  make("news", 3, now - 2 * day);
  make("news", 4, now);
  make("sports", 1, now - 10 * day);
  make("sports", 2, now - 3'600'000);
  // An archived segment of news (kept, e.g. by a size cap not reached) still names period 1.
  iptv::archive::Entry e;
  e.channel = "news";
  e.rendition = "360p";
  e.start_ms = now - 10 * day;
  e.duration_ms = 2000;
  e.path = "/warm/x.ts";
  e.key_id = ids["news1"];
  index.add({e});
  // news keeps 3 days (catch-up), sports 2 hours (its DVR window); one hour of margin.
  auto retention = [&](const std::string &ch) -> int64_t {
    return ch == "news" ? 3 * day : 2 * 3'600'000;
  };
  // A trigger refusing one deletion: the whole prune rolls back (nothing deleted).
  db->exec(
      "CREATE TRIGGER refuse BEFORE DELETE ON enc_keys WHEN old.channel_id='sports'"
      " BEGIN SELECT RAISE(ABORT, 'refused'); END;");
  EXPECT_THROW(ks.prune(retention, now, 3'600'000), iptv::db::Error);
  EXPECT_TRUE(ks.find("news", ids["news2"])) << "rolled back";
  db->exec("DROP TRIGGER refuse");
  EXPECT_EQ(ks.prune(retention, now, 3'600'000), 2);  // news 2, sports 1
  EXPECT_TRUE(ks.find("news", ids["news1"])) << "an archived segment still names it";
  EXPECT_FALSE(ks.find("news", ids["news2"]));
  EXPECT_TRUE(ks.find("news", ids["news3"]));
  EXPECT_TRUE(ks.find("news", ids["news4"]));
  EXPECT_FALSE(ks.find("sports", ids["sports1"]));
  EXPECT_TRUE(ks.find("sports", ids["sports2"]));
  // Once the segment is gone (retention), its key goes on the next prune.
  index.remove({e});
  EXPECT_EQ(ks.prune(retention, now, 3'600'000), 1);
  EXPECT_FALSE(ks.find("news", ids["news1"]));
  EXPECT_EQ(ks.prune(retention, now, 3'600'000), 0);
}

// Issue 19: the master key is rotated in one transaction; the content keys stay the same (players
// keep their keys), the old master no longer opens them, and a key that does not unwrap stops the
// rotation with nothing changed.
TEST(KeyStore, RewrapsEveryKeyUnderANewMasterKey) {
  iptv_test::TempDir dir;
  std::string db_path = dir.path() + "/iptvd.db";
  std::string old_master = c::random_bytes(32), new_master = c::random_bytes(32);
  std::vector<iptv::keys::ContentKey> made;
  {
    auto db = iptv::db::Db::open(db_path);
    iptv::keys::KeyStore ks(*db, old_master);
    for (uint64_t p = 1; p <= 3; ++p) made.push_back(*ks.ensure("news", p));
    made.push_back(*ks.ensure("sports", 7));
    std::string err;
    EXPECT_TRUE(ks.master_opens(&err)) << err;
    EXPECT_EQ(ks.rewrap(new_master), 4);
    EXPECT_EQ(ks.find("news", made[0].key_id)->key, made[0].key);  // in use at once
  }
  {
    auto db = iptv::db::Db::open(db_path);
    iptv::keys::KeyStore old_ks(*db, old_master);
    std::string err;
    EXPECT_FALSE(old_ks.master_opens(&err));
    EXPECT_NE(err.find("does not open"), std::string::npos) << err;
    for (auto &k : made) EXPECT_FALSE(old_ks.find(k.channel, k.key_id)) << k.key_id;
    iptv::keys::KeyStore ks(*db, new_master);
    EXPECT_TRUE(ks.master_opens(&err)) << err;
    for (auto &k : made) {
      auto got = ks.find(k.channel, k.key_id);
      ASSERT_TRUE(got) << k.key_id;
      EXPECT_EQ(got->key, k.key);
      EXPECT_EQ(got->iv, k.iv);
    }
    EXPECT_EQ(ks.ensure("news", 2)->key_id, made[1].key_id);  // the same periods, the same keys
  }
  {
    // A row that does not unwrap (another master, a damaged row): nothing is rewrapped.
    auto db = iptv::db::Db::open(db_path);
    db->prepare("UPDATE enc_keys SET wrapped='00' || substr(wrapped, 3) WHERE channel_id='sports'")
        .run();
    iptv::keys::KeyStore ks(*db, new_master);
    std::string third = c::random_bytes(32);
    try {
      ks.rewrap(third);
      ADD_FAILURE() << "rewrap went on past a damaged key";
    } catch (const std::runtime_error &e) {
      EXPECT_NE(std::string(e.what()).find("of channel sports"), std::string::npos) << e.what();
    }
    EXPECT_EQ(ks.find("news", made[0].key_id)->key, made[0].key) << "rolled back";
    iptv::keys::KeyStore under_third(*db, third);
    EXPECT_FALSE(under_third.find("news", made[0].key_id));
  }
}

TEST(MasterKeyFile, CreatedOwnerOnlyOrAClearErrorNamingThePath) {
  iptv_test::TempDir dir;
  std::string path = dir.path() + "/master.key", err;
  bool created = false;
  auto k = iptv::keys::load_master_key(path, true, &err, &created);
  ASSERT_TRUE(k) << err;
  EXPECT_TRUE(created);
  EXPECT_EQ(k->size(), 32u);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(iptv::keys::load_master_key(path, false, &err).value_or(""), *k);  // read back
  std::string missing = dir.path() + "/nope.key";
  EXPECT_FALSE(iptv::keys::load_master_key(missing, false, &err));
  EXPECT_NE(err.find(missing), std::string::npos) << err;
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;
  std::ofstream(dir.path() + "/short.key") << "abcd\n";
  EXPECT_FALSE(iptv::keys::load_master_key(dir.path() + "/short.key", false, &err));
  EXPECT_NE(err.find("64 hex digits"), std::string::npos) << err;
}

TEST(MediaPlaylistKeys, KeyLinesWhereTheKeyChangesAndInitSegmentsStayClear) {
  iptv::hls::MediaPlaylist pl(iptv::hls::PlaylistType::kLive, 2, 10, 0);
  for (uint64_t i = 0; i < 6; ++i) {
    iptv::hls::Segment s;
    s.sequence = i;
    s.duration = 2;
    s.uri = "seg-" + std::to_string(i) + ".m4s";
    s.map_uri = i < 4 ? "init.mp4" : "init-4.mp4";
    s.key = "METHOD=AES-128,URI=\"k/" + std::to_string(i / 2) + "\",IV=0x" + std::string(31, '0') +
            std::to_string(i / 2);
    pl.add(s);
  }
  std::string text = pl.render();
  // Periods of two: keys 0, 1, 2; the new init segment at segment 4 comes between a
  // METHOD=NONE and key 2 (the key must not cover it: it is lifted before each EXT-X-MAP).
  EXPECT_EQ(count(text, "#EXT-X-KEY:METHOD=AES-128"), 3) << text;
  EXPECT_EQ(count(text, "#EXT-X-KEY:METHOD=NONE"), 1) << text;
  size_t map1 = text.find("#EXT-X-MAP:URI=\"init.mp4\""), key0 = text.find("URI=\"k/0\"");
  EXPECT_LT(map1, key0) << text;  // the first map comes before any key
  size_t none = text.find("METHOD=NONE"), map2 = text.find("init-4.mp4");
  EXPECT_LT(none, map2) << text;
  EXPECT_LT(map2, text.find("URI=\"k/2\"", none)) << text;
  // A restart restores each segment's key.
  iptv::hls::MediaPlaylist again(iptv::hls::PlaylistType::kLive, 2, 10, 0);
  ASSERT_TRUE(again.restore(text));
  ASSERT_EQ(again.segments().size(), 6u);
  EXPECT_EQ(again.segments()[3].key, pl.segments()[3].key);
  EXPECT_EQ(again.render(), text);
}

TEST(CatchupKeys, EveryArchivedSegmentKeepsItsKeyAcrossARotation) {
  iptv_test::TempDir dir;
  auto db = iptv::db::Db::open(dir.path() + "/state.db");
  iptv::archive::ArchiveIndex idx(*db);
  constexpr int64_t kNow = 1796668159000, kT0 = kNow - 600 * 1000;
  std::vector<iptv::archive::Entry> batch;
  for (int i = 0; i < 12; ++i) {
    iptv::archive::Entry e;
    e.channel = "news";
    e.rendition = "180p";
    e.start_ms = kT0 + i * 2000LL;
    e.duration_ms = 2000;
    e.path = dir.path() + "/" + std::to_string(e.start_ms) + ".ts";
    e.bytes = 1000;
    e.key_id = "key" + std::to_string(i / 5);  // rotation every 5 segments
    batch.push_back(e);
  }
  idx.add(batch);
  // A re-index (no key id known from the file name) keeps the key ids.
  for (auto &e : batch) e.key_id.clear();
  idx.add(batch);
  iptv::archive::CatchupRules rules;
  rules.catchup_days = 1;
  rules.rights_days = 1;
  rules.target_seconds = 2;
  rules.key_line = [](const std::string &kid) {
    return "METHOD=AES-128,URI=\"../../../../keys/news/{token}/" + kid + "\",IV=0x" +
           std::string(28, '0') + "00" + kid.substr(3) + "0";
  };
  iptv::archive::CatchupService svc(
      idx, [&](const std::string &) { return std::optional(rules); }, [] { return kNow; });
  auto a = svc.answer("news", "/180p/index.m3u8",
                      "start=" + std::to_string((kT0 + 6000) / 1000) +
                          "&end=" + std::to_string((kT0 + 18000) / 1000));
  ASSERT_EQ(a.status, 200) << a.body;
  // Segments 3..8: keys 0 (3, 4), 1 (5..8): two EXT-X-KEY lines, in order, before their segments.
  EXPECT_EQ(count(a.body, "#EXT-X-KEY:"), 2) << a.body;
  size_t k0 = a.body.find("/key0\""), k1 = a.body.find("/key1\"");
  ASSERT_NE(k0, std::string::npos) << a.body;
  ASSERT_NE(k1, std::string::npos) << a.body;
  EXPECT_LT(k0, a.body.find("archive/" + std::to_string(kT0 + 6000))) << a.body;
  EXPECT_LT(a.body.find("archive/" + std::to_string(kT0 + 8000)), k1) << a.body;
  EXPECT_LT(k1, a.body.find("archive/" + std::to_string(kT0 + 10000))) << a.body;
}
