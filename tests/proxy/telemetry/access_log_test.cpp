// The access log: the JSON line (keys, order, nulls, hostile strings, time)
// and the file it goes to (two workers, drops, flush, reopen for logrotate).
#include "proxy/telemetry/access_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace wsedge::telemetry {
namespace {

using Json = nlohmann::ordered_json;

const std::vector<std::string> kKeys = {"time",
                                        "client",
                                        "sni",
                                        "method",
                                        "host",
                                        "path",
                                        "route",
                                        "pool",
                                        "backend",
                                        "subprotocol",
                                        "tls_version",
                                        "tls_cipher",
                                        "status",
                                        "handshake_ms",
                                        "duration_ms",
                                        "messages_from_client",
                                        "messages_from_backend",
                                        "bytes_from_client",
                                        "bytes_from_backend",
                                        "close_code_from_client",
                                        "close_reason_from_client",
                                        "close_code_from_backend",
                                        "close_reason_from_backend",
                                        "close_code_to_client",
                                        "close_code_to_backend",
                                        "closed_first"};

std::vector<std::string> keysOf(const Json& j) {
  std::vector<std::string> keys;
  for (const auto& item : j.items()) keys.push_back(item.key());
  return keys;
}

// A parsed line: exactly one '\n', at the end, and valid JSON (the parser
// also refuses invalid UTF-8).
Json parseLine(const std::string& line) {
  EXPECT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  return Json::parse(line);
}

AccessEntry fullEntry() {
  AccessEntry e;
  e.timeUnixMs = 1796168401123;
  e.client = "192.0.2.7:51234";
  e.sni = "chat.example.com";
  e.host = "chat.example.com";
  e.path = "/chat/room?x=1";
  e.route = "chat";
  e.pool = "chat-pool";
  e.backend = "127.0.0.1:9001";
  e.subprotocol = "graphql-ws";
  e.tlsVersion = "TLSv1.3";
  e.tlsCipher = "TLS_AES_128_GCM_SHA256";
  e.status = 101;
  e.handshakeMs = 12;
  e.durationMs = 60000;
  e.messagesFromClient = 3;
  e.messagesFromBackend = 5;
  e.bytesFromClient = 300;
  e.bytesFromBackend = 18446744073709551615ull;
  e.closeCodeFromClient = 1000;
  e.closeReasonFromClient = "bye";
  e.closeCodeFromBackend = 1001;
  e.closeReasonFromBackend = "going away";
  e.closeCodeToClient = 1001;
  e.closeCodeToBackend = 1000;
  e.closedFirst = "client";
  return e;
}

TEST(AccessLine, EveryKeyInOrderWithItsValue) {
  const Json j = parseLine(formatAccessLine(fullEntry()));
  EXPECT_EQ(keysOf(j), kKeys);
  EXPECT_EQ(j["time"], "2026-12-01T23:40:01.123Z");
  EXPECT_EQ(j["client"], "192.0.2.7:51234");
  EXPECT_EQ(j["sni"], "chat.example.com");
  EXPECT_EQ(j["host"], "chat.example.com");
  EXPECT_EQ(j["path"], "/chat/room?x=1");
  EXPECT_EQ(j["route"], "chat");
  EXPECT_EQ(j["pool"], "chat-pool");
  EXPECT_EQ(j["backend"], "127.0.0.1:9001");
  EXPECT_EQ(j["subprotocol"], "graphql-ws");
  EXPECT_EQ(j["tls_version"], "TLSv1.3");
  EXPECT_EQ(j["tls_cipher"], "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(j["status"], 101);
  EXPECT_EQ(j["handshake_ms"], 12);
  EXPECT_EQ(j["duration_ms"], 60000);
  EXPECT_EQ(j["messages_from_client"], 3);
  EXPECT_EQ(j["messages_from_backend"], 5);
  EXPECT_EQ(j["bytes_from_client"], 300);
  EXPECT_EQ(j["bytes_from_backend"].get<std::uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(j["close_code_from_client"], 1000);
  EXPECT_EQ(j["close_reason_from_client"], "bye");
  EXPECT_EQ(j["close_code_from_backend"], 1001);
  EXPECT_EQ(j["close_reason_from_backend"], "going away");
  EXPECT_EQ(j["close_code_to_client"], 1001);
  EXPECT_EQ(j["close_code_to_backend"], 1000);
  EXPECT_EQ(j["closed_first"], "client");
}

TEST(AccessLine, AbsentValuesAreNullAndCountsAreZero) {
  AccessEntry e;
  e.timeUnixMs = 0;
  const Json j = parseLine(formatAccessLine(e));
  EXPECT_EQ(keysOf(j), kKeys);
  EXPECT_EQ(j["time"], "1970-01-01T00:00:00.000Z");
  for (const char* key : {"client",
                          "sni",
                          "method",
                          "host",
                          "path",
                          "route",
                          "pool",
                          "backend",
                          "subprotocol",
                          "tls_version",
                          "tls_cipher",
                          "status",
                          "handshake_ms",
                          "close_code_from_client",
                          "close_reason_from_client",
                          "close_code_from_backend",
                          "close_reason_from_backend",
                          "close_code_to_client",
                          "close_code_to_backend",
                          "closed_first"}) {
    EXPECT_TRUE(j[key].is_null()) << key;
  }
  for (const char* key : {"duration_ms", "messages_from_client", "messages_from_backend",
                          "bytes_from_client", "bytes_from_backend"}) {
    EXPECT_EQ(j[key], 0) << key;
  }
}

TEST(AccessLine, ZeroIsAValueWhereZeroCanBeMeasured) {
  AccessEntry e;
  e.handshakeMs = 0;
  e.closeCodeFromClient = 0;
  e.path = "";
  const Json j = parseLine(formatAccessLine(e));
  EXPECT_EQ(j["handshake_ms"], 0);
  EXPECT_EQ(j["close_code_from_client"], 0);
  EXPECT_EQ(j["path"], "");
}

TEST(AccessLine, HostileBytesStayOneValidLineWithTheValidPartsKept) {
  // Quote, backslash, NUL, newline, CR, tab, 0xff 0xfe, a truncated UTF-8
  // sequence before more text and another at the very end.
  constexpr char kHostile[] = "/a\"b\\c\0d\ne\r\tf\xff\xfeg\xe2\x82h\xc3\xa9\xe2\x82";
  constexpr char kKept[] = "/a\"b\\c\0d\ne\r\tf";  // the part before the first bad byte
  const std::string hostile(kHostile, sizeof kHostile - 1);
  const std::string expected = std::string(kKept, sizeof kKept - 1) +
                               "\xef\xbf\xbd\xef\xbf\xbdg\xef\xbf\xbdh\xc3\xa9\xef\xbf\xbd";
  AccessEntry e = fullEntry();
  e.client = hostile;
  for (auto* field : {&e.sni, &e.method, &e.host, &e.path, &e.route, &e.pool, &e.backend,
                      &e.subprotocol, &e.tlsVersion, &e.tlsCipher, &e.closeReasonFromClient,
                      &e.closeReasonFromBackend, &e.closedFirst}) {
    *field = hostile;
  }
  const std::string line = formatAccessLine(e);
  for (char c : line.substr(0, line.size() - 1)) {
    ASSERT_GE(static_cast<unsigned char>(c), 0x20) << "raw control byte in " << line;
  }
  const Json j = parseLine(line);
  EXPECT_EQ(keysOf(j), kKeys);
  for (const char* key : {"client", "sni", "method", "host", "path", "route", "pool", "backend",
                          "subprotocol", "tls_version", "tls_cipher", "close_reason_from_client",
                          "close_reason_from_backend", "closed_first"}) {
    EXPECT_EQ(j[key].get<std::string>(), expected) << key;
  }
  EXPECT_EQ(j["status"], 101) << "the fields after the hostile ones are intact";
}

TEST(AccessLine, TimeIsRfc3339UtcWithMilliseconds) {
  auto timeOf = [](std::int64_t ms) {
    AccessEntry e;
    e.timeUnixMs = ms;
    return parseLine(formatAccessLine(e))["time"].get<std::string>();
  };
  EXPECT_EQ(timeOf(1796168401123), "2026-12-01T23:40:01.123Z");
  EXPECT_EQ(timeOf(1796168401007), "2026-12-01T23:40:01.007Z");
  EXPECT_EQ(timeOf(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(timeOf(-1), "1969-12-31T23:59:59.999Z");
}

// A fresh directory per test, removed at the end.
class AccessLogFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "access_log_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/access.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static std::vector<std::string> lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream all;
    all << in.rdbuf();
    const std::string text = all.str();
    EXPECT_TRUE(text.empty() || text.back() == '\n') << "ends with a whole line";
    std::vector<std::string> out;
    std::string line;
    std::istringstream split(text);
    while (std::getline(split, line)) out.push_back(line + '\n');
    return out;
  }

  std::unique_ptr<AccessLog> open(unsigned workers, std::size_t bytes) {
    std::string error;
    auto log = AccessLog::open(path_, workers, bytes, &error);
    EXPECT_NE(log, nullptr) << error;
    return log;
  }

  std::string dir_;
  std::string path_;
};

std::string lineFor(unsigned worker, std::uint64_t i) {
  AccessEntry e = fullEntry();
  e.client = "w" + std::to_string(worker);
  e.messagesFromClient = i;
  return formatAccessLine(e);
}

TEST_F(AccessLogFile, TwoWorkersEveryLineWholeAndInOrderPerWorker) {
  constexpr unsigned kWorkers = 2;
  constexpr std::uint64_t kLines = 5000;
  // Big enough for a worker's whole burst: nothing may be dropped.
  auto log = open(kWorkers, 4 << 20);
  ASSERT_NE(log, nullptr);
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (std::uint64_t i = 0; i < kLines; ++i) log->write(w, lineFor(w, i));
    });
  }
  for (auto& t : workers) t.join();
  ASSERT_TRUE(log->flush());
  EXPECT_EQ(log->dropped(), 0u);
  EXPECT_EQ(log->written(), kWorkers * kLines);

  const auto got = lines(path_);
  ASSERT_EQ(got.size(), kWorkers * kLines);
  std::uint64_t next[kWorkers] = {0, 0};
  for (const std::string& line : got) {
    const Json j = parseLine(line);
    const unsigned w = j["client"] == "w0" ? 0 : 1;
    ASSERT_EQ(line, lineFor(w, next[w])) << "whole and in order";
    ++next[w];
  }
  EXPECT_EQ(next[0], kLines);
  EXPECT_EQ(next[1], kLines);
}

TEST_F(AccessLogFile, ALineThatDoesNotFitIsDroppedAndCounted) {
  const std::string line = lineFor(0, 1);
  auto log = open(1, line.size());
  ASSERT_NE(log, nullptr);
  log->write(0, line);  // exactly the capacity: fits in the empty buffer
  std::string longer = line;
  longer.insert(0, " ");
  log->write(0, longer);  // longer than the whole buffer: never fits
  log->write(0, longer);
  ASSERT_TRUE(log->flush());
  EXPECT_EQ(log->dropped(), 2u);
  EXPECT_EQ(log->written(), 3u);
  EXPECT_EQ(lines(path_), std::vector<std::string>{line});
}

TEST_F(AccessLogFile, ABurstOverTheCapDropsWholeLinesOnly) {
  const std::string line = lineFor(0, 7);
  constexpr std::uint64_t kBurst = 20000;
  auto log = open(1, 8 * line.size());
  ASSERT_NE(log, nullptr);
  for (std::uint64_t i = 0; i < kBurst; ++i) log->write(0, line);
  ASSERT_TRUE(log->flush());
  const auto got = lines(path_);
  EXPECT_EQ(got.size() + log->dropped(), kBurst) << "each line is written or counted";
  for (const std::string& l : got) ASSERT_EQ(l, line);
}

TEST_F(AccessLogFile, ReopenAfterRenameWritesANewFileAtThePath) {
  auto log = open(1, 1 << 16);
  ASSERT_NE(log, nullptr);
  log->write(0, lineFor(0, 1));
  log->write(0, lineFor(0, 2));
  ASSERT_TRUE(log->flush());
  const std::string rotated = path_ + ".1";
  ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
  log->reopen();
  log->write(0, lineFor(0, 3));
  ASSERT_TRUE(log->flush());
  EXPECT_EQ(lines(rotated), (std::vector<std::string>{lineFor(0, 1), lineFor(0, 2)}));
  EXPECT_EQ(lines(path_), std::vector<std::string>{lineFor(0, 3)});
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  const mode_t mask = ::umask(0);
  ::umask(mask);
  EXPECT_EQ(st.st_mode & 0777, 0644 & ~mask) << "created 0644 (less the umask)";
}

TEST_F(AccessLogFile, AFailedReopenKeepsWritingToTheOldFile) {
  auto log = open(1, 1 << 16);
  ASSERT_NE(log, nullptr);
  log->write(0, lineFor(0, 1));
  ASSERT_TRUE(log->flush());
  const std::string rotated = path_ + ".1";
  ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
  // A directory where the file was: open() fails even for root.
  ASSERT_TRUE(std::filesystem::create_directory(path_));
  log->reopen();
  log->write(0, lineFor(0, 2));
  ASSERT_TRUE(log->flush());
  EXPECT_EQ(lines(rotated), (std::vector<std::string>{lineFor(0, 1), lineFor(0, 2)}));
}

TEST_F(AccessLogFile, DestroyingWritesWhatIsBuffered) {
  {
    auto log = open(2, 1 << 16);
    ASSERT_NE(log, nullptr);
    log->write(1, lineFor(1, 1));
  }
  EXPECT_EQ(lines(path_), std::vector<std::string>{lineFor(1, 1)});
}

TEST_F(AccessLogFile, AnUnopenablePathSaysWhy) {
  const std::string bad = dir_ + "/missing/access.log";
  std::string error;
  EXPECT_EQ(AccessLog::open(bad, 1, 1024, &error), nullptr);
  EXPECT_EQ(error, "cannot open access log " + bad + ": No such file or directory");
}

TEST(AccessLog, StdoutIsUsedAndNeverClosed) {
  std::string error;
  {
    auto log = AccessLog::open("stdout", 1, 1024, &error);
    ASSERT_NE(log, nullptr) << error;
    log->reopen();  // nothing to do for stdout
    EXPECT_TRUE(log->flush());
  }
  EXPECT_NE(::fcntl(STDOUT_FILENO, F_GETFD), -1) << "stdout still open";
}

}  // namespace
}  // namespace wsedge::telemetry
