// A small, strict SQLite wrapper shared by every daemon store (media state, events, control plane).
//
// - open() sets WAL, busy_timeout and foreign keys.
// - tx() runs a function inside BEGIN IMMEDIATE ... COMMIT and rolls back on any exception, so a
//   change and the event that reports it land together or not at all.
// - migrate() applies versioned migrations per component, each in its own transaction, recorded
//   in `schema_migrations(component, version, applied_at)`. A database newer than the code is an
//   error, never silently used.
//
// Threads: a Db may be shared; every statement runs under the Db's recursive mutex, and tx()
// holds it for the whole transaction.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace iptv::db {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Db;

// A prepared statement. Bind indexes are 1-based, column indexes 0-based (as in SQLite).
class Stmt {
 public:
  Stmt(Stmt &&o) noexcept;
  Stmt &operator=(Stmt &&) = delete;
  Stmt(const Stmt &) = delete;
  ~Stmt();

  Stmt &bind(int i, int64_t v);
  Stmt &bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt &bind(int i, double v);
  Stmt &bind(int i, std::string_view v);
  Stmt &bind(int i, const char *v) { return bind(i, std::string_view(v)); }
  Stmt &bind(int i, const std::string &v) { return bind(i, std::string_view(v)); }
  Stmt &bind_null(int i);
  template <typename T>
  Stmt &bind(int i, const std::optional<T> &v) {
    return v ? bind(i, *v) : bind_null(i);
  }

  // Steps once: true when a row is available, false when done.
  bool step();
  // Steps to the end (for INSERT/UPDATE/DELETE).
  void run();
  void reset();

  int64_t col_int64(int c) const;
  double col_double(int c) const;
  std::string col_text(int c) const;
  bool col_null(int c) const;

 private:
  friend class Db;
  Stmt(Db &db, sqlite3_stmt *s) : db_(&db), s_(s) {}
  Db *db_;
  sqlite3_stmt *s_;
};

struct Migration {
  int version;      // 1, 2, 3 ... in order
  std::string sql;  // one or more statements
};

class Db {
 public:
  // Opens (creating if needed) the database file; ":memory:" works for tests.
  static std::unique_ptr<Db> open(const std::string &path);
  ~Db();
  Db(const Db &) = delete;
  Db &operator=(const Db &) = delete;

  void exec(const std::string &sql);
  Stmt prepare(const std::string &sql);

  // Runs fn in one IMMEDIATE transaction; commits on return, rolls back on exception (rethrown).
  // Nested calls join the outer transaction.
  void tx(const std::function<void()> &fn);

  // Applies the migrations of `component` above its recorded version. Returns the new version.
  int migrate(const std::string &component, const std::vector<Migration> &steps);
  int schema_version(const std::string &component);

  // How long a statement waits for another process's lock before failing (5000 ms by default).
  void set_busy_timeout(int ms);

  int64_t last_insert_rowid();
  int changes();
  const std::string &path() const { return path_; }

  // The lock every statement takes; exposed so a multi-statement read can hold it.
  std::recursive_mutex &mutex() { return mu_; }

 private:
  friend class Stmt;
  Db(sqlite3 *h, std::string path) : h_(h), path_(std::move(path)) {}
  [[noreturn]] void fail(const std::string &what);
  sqlite3 *h_;
  std::string path_;
  std::recursive_mutex mu_;
  int tx_depth_ = 0;
};

}  // namespace iptv::db
