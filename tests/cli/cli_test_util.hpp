// Runs the real `graphcache` binary (GRAPHCACHE_CLI) for the CLI tests: no shell, stdout and stderr
// captured separately, so a test can check both what a user reads and the exit status.
#pragma once

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace graphcache::testing {

struct RunResult {
  int status = -1;
  std::string out, err;
};

inline void drain(int fd, std::string* into) {
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof(buf))) > 0;) into->append(buf, static_cast<size_t>(n));
  ::close(fd);
}

// `env` entries (NAME=value) are added to the child's environment.
inline RunResult run_cli(const std::vector<std::string>& args, const std::string& cwd = ".",
                         const std::vector<std::string>& env = {}) {
  int out_fds[2], err_fds[2];
  EXPECT_EQ(::pipe(out_fds), 0);
  EXPECT_EQ(::pipe(err_fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_fds[1], STDOUT_FILENO);
    ::dup2(err_fds[1], STDERR_FILENO);
    for (int fd : {out_fds[0], out_fds[1], err_fds[0], err_fds[1]}) ::close(fd);
    if (::chdir(cwd.c_str()) != 0) ::_exit(100);
    for (const std::string& e : env) ::putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> argv{const_cast<char*>(GRAPHCACHE_CLI)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(GRAPHCACHE_CLI, argv.data());
    ::_exit(101);
  }
  ::close(out_fds[1]);
  ::close(err_fds[1]);
  RunResult r;
  std::thread err_reader(drain, err_fds[0], &r.err);  // both pipes at once: neither can fill and block
  drain(out_fds[0], &r.out);
  err_reader.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 200;
  if (!r.err.empty()) std::fprintf(stderr, "%s", r.err.c_str());  // keep it in the test log
  return r;
}

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_script(const std::string& path, const std::string& body) {
  std::ofstream(path) << "#!/bin/sh\n" << body;
  ::chmod(path.c_str(), 0755);
}

}  // namespace graphcache::testing
