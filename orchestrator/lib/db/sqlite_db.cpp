#include "db/sqlite_db.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace iptv::db {

Stmt::Stmt(Stmt &&o) noexcept : db_(o.db_), s_(o.s_) {
  o.s_ = nullptr;
}

Stmt::~Stmt() {
  if (s_) sqlite3_finalize(s_);
}

Stmt &Stmt::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(s_, i, v) != SQLITE_OK) db_->fail("bind");
  return *this;
}
Stmt &Stmt::bind(int i, double v) {
  if (sqlite3_bind_double(s_, i, v) != SQLITE_OK) db_->fail("bind");
  return *this;
}
Stmt &Stmt::bind(int i, std::string_view v) {
  if (sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    db_->fail("bind");
  return *this;
}
Stmt &Stmt::bind_null(int i) {
  if (sqlite3_bind_null(s_, i) != SQLITE_OK) db_->fail("bind");
  return *this;
}

bool Stmt::step() {
  std::lock_guard lk(db_->mu_);
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(std::string("step: ") + (sqlite3_sql(s_) ? sqlite3_sql(s_) : ""));
}

void Stmt::run() {
  while (step()) {
  }
}

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

int64_t Stmt::col_int64(int c) const {
  return sqlite3_column_int64(s_, c);
}
double Stmt::col_double(int c) const {
  return sqlite3_column_double(s_, c);
}
std::string Stmt::col_text(int c) const {
  const unsigned char *t = sqlite3_column_text(s_, c);
  if (!t) return {};
  return std::string(reinterpret_cast<const char *>(t),
                     static_cast<size_t>(sqlite3_column_bytes(s_, c)));
}
bool Stmt::col_null(int c) const {
  return sqlite3_column_type(s_, c) == SQLITE_NULL;
}

std::unique_ptr<Db> Db::open(const std::string &path) {
  if (path != ":memory:" && !path.empty()) {
    // The database holds subjects, entitlements, sessions, audit rows and key hashes: owner
    // only. SQLite gives the -wal and -shm files the mode of the database file, so creating it
    // 0600 (and tightening an older 0644 one and its companions) covers all three.
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw Error("sqlite: cannot open " + path + ": " + std::strerror(errno));
    ::fchmod(fd, 0600);
    ::close(fd);
    for (const char *suffix : {"-wal", "-shm", "-journal"})
      ::chmod((path + suffix).c_str(), 0600);  // absent: ENOENT, nothing to do
  }
  sqlite3 *h = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &h,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = h ? sqlite3_errmsg(h) : "out of memory";
    if (h) sqlite3_close(h);
    throw Error("sqlite: cannot open " + path + ": " + msg);
  }
  std::unique_ptr<Db> db(new Db(h, path));
  sqlite3_busy_timeout(h, 5000);
  if (path != ":memory:") db->exec("PRAGMA journal_mode=WAL");
  db->exec("PRAGMA synchronous=NORMAL");
  db->exec("PRAGMA foreign_keys=ON");
  db->exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " component TEXT NOT NULL, version INTEGER NOT NULL, applied_at INTEGER NOT NULL,"
      " PRIMARY KEY(component, version))");
  return db;
}

Db::~Db() {
  sqlite3_close_v2(h_);
}

void Db::fail(const std::string &what) {
  throw Error("sqlite " + path_ + ": " + what + ": " + sqlite3_errmsg(h_));
}

void Db::exec(const std::string &sql) {
  std::lock_guard lk(mu_);
  char *err = nullptr;
  if (sqlite3_exec(h_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "error";
    sqlite3_free(err);
    throw Error("sqlite " + path_ + ": " + msg);
  }
}

Stmt Db::prepare(const std::string &sql) {
  std::lock_guard lk(mu_);
  sqlite3_stmt *s = nullptr;
  if (sqlite3_prepare_v2(h_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK)
    fail("prepare: " + sql);
  return Stmt(*this, s);
}

void Db::set_busy_timeout(int ms) {
  std::lock_guard lk(mu_);
  sqlite3_busy_timeout(h_, ms);
}

void Db::tx(const std::function<void()> &fn) {
  std::lock_guard lk(mu_);
  if (tx_depth_ > 0) {
    ++tx_depth_;
    try {
      fn();
    } catch (...) {
      --tx_depth_;
      throw;
    }
    --tx_depth_;
    return;
  }
  exec("BEGIN IMMEDIATE");
  tx_depth_ = 1;
  try {
    fn();
  } catch (...) {
    tx_depth_ = 0;
    sqlite3_exec(h_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  tx_depth_ = 0;
  try {
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(h_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

int Db::schema_version(const std::string &component) {
  auto s = prepare("SELECT COALESCE(MAX(version),0) FROM schema_migrations WHERE component=?");
  s.bind(1, component);
  s.step();
  return static_cast<int>(s.col_int64(0));
}

int Db::migrate(const std::string &component, const std::vector<Migration> &steps) {
  std::lock_guard lk(mu_);
  int have = schema_version(component);
  int known = steps.empty() ? 0 : steps.back().version;
  if (have > known)
    throw Error("sqlite " + path_ + ": component '" + component + "' is at schema version " +
                std::to_string(have) + " but this build knows only up to " + std::to_string(known) +
                " (database written by a newer iptvd?)");
  int expect = 1;
  for (const auto &m : steps) {
    if (m.version != expect++)
      throw Error("migrations of '" + component + "' are not numbered 1, 2, 3 ...");
    if (m.version <= have) continue;
    tx([&] {
      exec(m.sql);
      auto ins =
          prepare("INSERT INTO schema_migrations(component, version, applied_at) VALUES(?,?,?)");
      ins.bind(1, component)
          .bind(2, m.version)
          .bind(3, static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()));
      ins.run();
    });
    have = m.version;
  }
  return have;
}

int64_t Db::last_insert_rowid() {
  return sqlite3_last_insert_rowid(h_);
}
int Db::changes() {
  return sqlite3_changes(h_);
}

}  // namespace iptv::db
