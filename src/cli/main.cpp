// graphcache command line: every error reaches the user as one line on stderr and a non-zero exit.
// Usage errors (unknown option, missing argument, unknown command) print `graphcache: error: ...` with a
// hint and exit 2, like every other error; --help and --version exit 0.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "commands.hpp"
#include "graphcache/error.hpp"

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// The first word that should have been a command, skipping the root's options and their values.
std::string first_command_word(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] != '-') return arg;
    if (arg.find('=') != std::string::npos) continue;
    try {
      const CLI::Option* option = app.get_option(arg);
      if (option->get_type_size() != 0) ++i;  // skip its value
    } catch (const CLI::OptionNotFound&) {
    }
  }
  return {};
}

std::string usage_hint(CLI::App& app, int argc, char** argv) {
  const std::vector<CLI::App*> used = app.get_subcommands();
  if (used.empty()) {
    const std::string word = first_command_word(app, argc, argv);
    std::string best;
    size_t best_distance = 3;  // farther than 2 edits is not a typo
    for (const CLI::App* command : app.get_subcommands({})) {
      const size_t d = edit_distance(word, command->get_name());
      if (!word.empty() && d < best_distance) best = command->get_name(), best_distance = d;
    }
    if (!best.empty()) return "unknown command '" + word + "'; did you mean '" + best + "'?";
    return "run 'graphcache --help' for the commands";
  }
  const std::string name = used.front()->get_name();
  if (name == "exec" &&
      std::find_if(argv, argv + argc, [](const char* a) { return std::string(a) == "--"; }) == argv + argc) {
    return "put the compiler's command line after '--': graphcache exec --input MODEL --output ENGINE -- "
           "COMPILER ARGS...";
  }
  return "run 'graphcache " + name + " --help' for its usage";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"graphcache: structural keys and an engine cache for deep-learning compilers"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "graphcache 0.1.0");
  graphcache::cli::register_all_commands(app);  // new command groups register in commands.cpp
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {  // a command's own non-zero status (e.g. diff: keys differ)
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    std::fprintf(stderr, "graphcache: error: %s\ngraphcache: hint: %s\n", e.what(),
                 usage_hint(app, argc, argv).c_str());
    return 2;
  } catch (const graphcache::Error& e) {
    std::fprintf(stderr, "graphcache: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graphcache: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
