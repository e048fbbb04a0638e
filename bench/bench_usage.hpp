// Every benchmark answers -h / --help with its usage and exits 0, instead of starting a run that can take
// minutes and gigabytes (the benches otherwise read their arguments positionally).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace graphcache::bench {

inline void exit_if_help(int argc, char** argv, const char* usage) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0) {
      std::printf("usage: %s\n", usage);
      std::exit(0);
    }
  }
}

}  // namespace graphcache::bench
