// `graphcache bundle create OUT [KEY... | --all]` and `graphcache bundle import FILE`
// (graphcache/bundle.hpp).
#include <cinttypes>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "graphcache/bundle.hpp"
#include "graphcache/error.hpp"
#include "graphcache/signing.hpp"
#include "store_options.hpp"

namespace graphcache::cli {
namespace {

struct BundleArgs {
  std::string out, file;
  std::vector<std::string> keys;
  bool all = false;
};

BundleArgs& args() {
  static BundleArgs a;
  return a;
}

void run_create() {
  const BundleArgs& a = args();
  if (a.all == !a.keys.empty())
    throw Error(ErrorKind::kInvalidArgument, "bundle create: give KEY... or --all (not both)");
  std::vector<Key> keys;
  for (const std::string& k : a.keys) keys.push_back(Digest::from_hex(k));
  auto store = open_cli_store().local;
  const auto trust = make_entry_trust(store->config().trust);
  const BundleCreateReport r = create_bundle(*store, keys, a.out, trust.get());
  std::fprintf(a.out == "-" ? stderr : stdout,
               "bundled %" PRIu64 " entries into %s (%s), %s; %" PRIu64 " entries unsigned\n", r.entries,
               a.out.c_str(), format_size(r.bytes).c_str(),
               r.signed_bundle ? "signed" : "not signed (no signing key)", r.unsigned_entries);
}

void run_import() {
  auto store = open_cli_store().local;
  const auto trust = make_entry_trust(store->config().trust);
  const BundleImportReport r = import_bundle(*store, args().file, trust.get());
  std::printf("imported %" PRIu64 " entries (%s) from %s, %s\n", r.entries, format_size(r.bytes).c_str(),
              args().file.c_str(), r.signed_bundle ? ("signed by " + r.signer_hex).c_str() : "unsigned");
}

}  // namespace

void register_bundle_commands(CLI::App& app) {
  BundleArgs& a = args();
  auto* bundle = app.add_subcommand("bundle", "Portable bundles of cache entries (create, import)");
  bundle->require_subcommand(1);
  auto* create = bundle->add_subcommand("create", "Write entries of the local cache to one bundle file");
  create->add_option("OUT", a.out, "Bundle file to write ('-' for stdout)")->required();
  create->add_option("KEY", a.keys, "Keys to bundle (hex)");
  create->add_flag("--all", a.all, "Bundle every entry");
  create->callback(run_create);
  auto* import = bundle->add_subcommand(
      "import", "Verify every entry of a bundle, then add them all to the local cache (nothing on failure)");
  import->add_option("FILE", a.file, "Bundle file ('-' for stdin)")->required();
  import->callback(run_import);
  for (CLI::App* command : {create, import}) add_store_options(*command);
}

}  // namespace graphcache::cli
