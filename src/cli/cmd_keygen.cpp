// `graphcache keygen PRIVATE.pem [PUBLIC.pem]`: a fresh Ed25519 key pair for signed entries.
#include <cstdio>
#include <string>

#include "commands.hpp"
#include "graphcache/signing.hpp"

namespace graphcache::cli {

void register_keygen_command(CLI::App& app) {
  struct Args {
    std::string private_path, public_path;
  };
  static Args a;
  auto* keygen = app.add_subcommand(
      "keygen", "Write a new Ed25519 key pair: PRIVATE (mode 0600) and PUBLIC (default PRIVATE.pub.pem)");
  keygen->add_option("PRIVATE", a.private_path, "Private key to create (PEM, refused if it exists)")
      ->required();
  keygen->add_option("PUBLIC", a.public_path, "Public key to create (PEM)");
  keygen->callback([] {
    std::string public_path = a.public_path;
    if (public_path.empty()) {
      public_path = a.private_path;
      if (public_path.ends_with(".pem")) public_path.resize(public_path.size() - 4);
      public_path += ".pub.pem";
    }
    const PublicKeyBytes key = generate_key_pair(a.private_path, public_path);
    std::printf("private key %s\npublic key  %s (ed25519 %s)\n", a.private_path.c_str(), public_path.c_str(),
                public_key_hex(key).c_str());
  });
}

}  // namespace graphcache::cli
