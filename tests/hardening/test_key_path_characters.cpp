// Keys carrying path characters through every entry point that accepts a key as text: Digest::from_hex
// (which LocalStore, RedisStore and the Python binding take their keys through: their C++ API only
// accepts a parsed Key) and the CLI's get/put/rm (local and with a Redis remote). Each must be refused
// with a clear error before anything touches the file system or the network.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "graphcache/digest.hpp"
#include "graphcache/error.hpp"
#include "store_test_util.hpp"

namespace graphcache {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> hostile_keys() {
  const std::string valid(64, 'a');
  return {
      "../../etc/passwd",
      "../" + valid.substr(3),
      valid.substr(0, 30) + "/../" + valid.substr(0, 30),
      "/" + valid.substr(1),
      valid.substr(0, 63) + "/",
      std::string("aa") + '\0' + valid.substr(3),
      valid.substr(0, 62) + "\\.",
      "~/" + valid.substr(2),
      valid.substr(0, 32) + "%2e%2e%2f" + valid.substr(0, 23),
      valid + "/../x",
      std::string(64, 'A'),  // upper case would alias entries on case-insensitive file systems
      "",
  };
}

TEST(KeyPathCharacters, FromHexRefusesEveryHostileKey) {
  for (const std::string& text : hostile_keys()) {
    SCOPED_TRACE(::testing::PrintToString(text));
    EXPECT_FALSE(Digest::is_valid_hex(text));
    try {
      (void)Digest::from_hex(text);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    }
  }
}

#ifdef GRAPHCACHE_CLI
struct CliResult {
  int status = -1;
  std::string output;
};

// Runs the real CLI with `args` (no shell: each argument is passed verbatim, NULs excepted).
CliResult run_cli(const std::vector<std::string>& args, const std::string& output_file) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::freopen(output_file.c_str(), "w", stdout);
    ::dup2(::fileno(stdout), 2);
    std::vector<char*> argv{const_cast<char*>(GRAPHCACHE_CLI)};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(GRAPHCACHE_CLI, argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::ifstream in(output_file);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
          std::string(std::istreambuf_iterator<char>(in), {})};
}

TEST(KeyPathCharacters, CliGetPutRmRefuseHostileKeysLocallyAndWithARemote) {
  testing::ScratchDir scratch;
  const std::string cache = scratch / "cache";
  const std::string engine = scratch / "engine.bin";
  std::ofstream(engine) << "engine bytes";
  const std::string log = scratch / "cli.log";
  // Port 1 refuses connections: a key that got as far as Redis would fail with a connection error.
  const std::vector<std::vector<std::string>> tiers{{}, {"--remote", "redis://127.0.0.1:1/0"}};
  for (const std::string& key : hostile_keys()) {
    if (key.find('\0') != std::string::npos) continue;  // cannot be an argv element
    for (const auto& tier : tiers) {
      for (const std::vector<std::string>& command :
           {std::vector<std::string>{"put", "--cache-dir", cache, key, engine},
            std::vector<std::string>{"get", "--cache-dir", cache, key, scratch / "out.bin"},
            std::vector<std::string>{"rm", "--cache-dir", cache, key}}) {
        std::vector<std::string> args = command;
        args.insert(args.end(), tier.begin(), tier.end());
        SCOPED_TRACE(::testing::PrintToString(args));
        const CliResult r = run_cli(args, log);
        EXPECT_NE(r.status, 0);
        EXPECT_LT(r.status, 128) << "the CLI crashed: " << r.output;
        EXPECT_NE(r.output.find("key"), std::string::npos) << r.output;
        EXPECT_EQ(r.output.find("connect"), std::string::npos) << "reached Redis: " << r.output;
        EXPECT_FALSE(fs::exists(scratch / "out.bin"));
      }
    }
  }
  // Nothing was written anywhere but (at most) the cache's own bookkeeping.
  for (const auto& e : fs::recursive_directory_iterator(scratch.path())) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "cache" || name == "engine.bin" || name == "cli.log" ||
                e.path().string().starts_with(cache + "/"))
        << e.path();
    if (e.is_regular_file() && e.path().string().starts_with(cache + "/")) {
      EXPECT_FALSE(Digest::is_valid_hex(name)) << "an entry was stored: " << e.path();
    }
  }
}
#endif

}  // namespace
}  // namespace graphcache
