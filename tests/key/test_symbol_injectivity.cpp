// Property test of the symbol encoding's injectivity: for random symbol spellings over an alphabet that
// includes the characters the old canonical form used itself ('$', digits, spaces), two graphs get the same
// key exactly when a reference canonicalizer (tokenize; number identifiers and opaque names by first
// occurrence; drop whitespace between tokens) says their symbols are equal up to consistent renaming.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "graphcache/key.hpp"

namespace graphcache {
namespace {

struct Symbol {
  std::string text;
  bool opaque;
};

// The reference: one token list per dim, as strings that cannot be confused with each other.
std::vector<std::string> reference(const std::vector<Symbol>& dims) {
  std::map<std::string, size_t> identifiers, opaque;
  std::vector<std::string> out;
  for (const Symbol& s : dims) {
    if (s.opaque) {
      out.push_back("opaque#" + std::to_string(opaque.emplace(s.text, opaque.size()).first->second));
      continue;
    }
    std::string form = "expr";
    for (size_t i = 0; i < s.text.size();) {
      const unsigned char c = s.text[i];
      size_t j = i + 1;
      if (std::isalpha(c) || c == '_') {
        while (j < s.text.size() && (std::isalnum(static_cast<unsigned char>(s.text[j])) || s.text[j] == '_'))
          ++j;
        form += "|id" + std::to_string(
                            identifiers.emplace(s.text.substr(i, j - i), identifiers.size()).first->second);
      } else if (std::isdigit(c)) {
        while (j < s.text.size() && std::isdigit(static_cast<unsigned char>(s.text[j]))) ++j;
        form += "|num" + s.text.substr(i, j - i);
      } else if (!std::isspace(c)) {
        form += "|op" + std::string(1, static_cast<char>(c));
      }
      i = j;
    }
    out.push_back(form);
  }
  return out;
}

Digest key_of(const std::vector<Symbol>& dims) {
  ir::GraphBuilder b;
  std::vector<ir::Dim> shape;
  for (const Symbol& s : dims) shape.push_back(s.opaque ? ir::Dim::param(s.text) : ir::Dim::symbolic(s.text));
  auto x = b.input("x", ir::TensorType::of(ir::DType::kFloat32, shape));
  b.output(b.op("Relu", {x}));
  return structural_hash(std::move(b).build()).digest;
}

TEST(SymbolInjectivity, SameKeyExactlyWhenEqualUpToRenaming) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab$01 +_";
  auto random_symbol = [&] {
    Symbol s{"", rng() % 4 == 0};
    const size_t length = 1 + rng() % 4;
    for (size_t i = 0; i < length; ++i) s.text += alphabet[rng() % alphabet.size()];
    if (s.text.find_first_not_of(' ') == std::string::npos) s.text = "a";  // all-space: an empty expression
    return s;
  };
  size_t equal_pairs = 0, pairs = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<Symbol> a, b;
    const size_t rank = 1 + rng() % 3;
    for (size_t d = 0; d < rank; ++d) a.push_back(random_symbol());
    b = a;
    for (Symbol& s : b) {  // perturb some: often into an equal-up-to-renaming spelling, often not
      if (rng() % 2) s = random_symbol();
    }
    const bool same = reference(a) == reference(b);
    ASSERT_EQ(key_of(a) == key_of(b), same) << "'" << a[0].text << "' vs '" << b[0].text << "' rank " << rank;
    ++pairs;
    equal_pairs += same;
  }
  EXPECT_GT(equal_pairs, 1000u);  // the property is exercised on both sides
  EXPECT_LT(equal_pairs, pairs - 1000);
}

}  // namespace
}  // namespace graphcache
