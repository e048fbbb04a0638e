// graphcache command line: every error reaches the user as one line on stderr and a non-zero exit.
#include <cstdio>
#include <exception>

#include "commands.hpp"
#include "graphcache/error.hpp"

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
    return app.exit(e);
  } catch (const graphcache::Error& e) {
    std::fprintf(stderr, "graphcache: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "graphcache: internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
