// normalize_arguments: the exec key must not depend on where the model and engine files live, and it must
// never read outside an argument (an equal-length argument once did, found by ASan in CI).
#include <gtest/gtest.h>

#include <filesystem>

#include "exec_identity.hpp"

namespace graphcache::cli {
namespace {

TEST(ExecIdentity, WholeArgumentAndOptionValuesBecomePlaceholders) {
  const auto out = normalize_arguments({"--onnx=m.onnx", "-o:e.plan", "m.onnx", "--x,e.plan", "--verbose"},
                                       "m.onnx", "e.plan");
  EXPECT_EQ(out, (std::vector<std::string>{"--onnx={input}", "-o:{output}", "{input}", "--x,{output}",
                                           "--verbose"}));
}

TEST(ExecIdentity, AbsoluteSpellingIsReplacedWholeNotHalfway) {
  const std::string absolute = (std::filesystem::current_path() / "m.onnx").lexically_normal().string();
  const auto out = normalize_arguments({"--onnx=" + absolute}, "m.onnx", "e.plan");
  EXPECT_EQ(out, std::vector<std::string>{"--onnx={input}"});
}

TEST(ExecIdentity, SameLengthOtherArgumentIsLeftAlone) {
  // Same length as the input path, not equal: there is no room for a prefix, and nothing may be read before
  // it. Paths longer than the small-string buffer, so that ASan sees a read before a heap block.
  const std::string input = "models/some_long_model_name.onnx";
  const std::string other = "models/another_model_name_.onnx";
  ASSERT_EQ(input.size(), other.size() + 1);
  const auto out =
      normalize_arguments({other + "x", "X" + input, "engine_output.plan2"}, input, "engine_output.plan");
  EXPECT_EQ(out, (std::vector<std::string>{other + "x", "X" + input, "engine_output.plan2"}));
}

TEST(ExecIdentity, SubstringInsideAnotherWordIsNotReplaced) {
  const auto out = normalize_arguments({"--name=prefixm.onnx", "m.onnx.bak"}, "m.onnx", "e.plan");
  EXPECT_EQ(out, (std::vector<std::string>{"--name=prefixm.onnx", "m.onnx.bak"}));
}

}  // namespace
}  // namespace graphcache::cli
