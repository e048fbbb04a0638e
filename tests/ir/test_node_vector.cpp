// ir::NodeVector (a node's sequences in 16 bytes) and the shared parts of a node (OpRef, TypeRef): what
// they hold stays valid whoever holds it, and however the graph whose arena made it is copied or freed.
#include <gtest/gtest.h>

#include <memory_resource>
#include <string>
#include <vector>

#include "graphcache/ir.hpp"

namespace graphcache::ir {
namespace {

std::string long_text(int i) {
  return "a string too long for the small-string buffer #" + std::to_string(i);
}

TEST(NodeVector, IsHalfAPmrVector) {
  static_assert(sizeof(NodeVector<Attribute>) == 16);
  static_assert(sizeof(NodeVector<ValueRef>) == sizeof(std::pmr::vector<ValueRef>) / 2);
}

TEST(NodeVector, GrowsKeepingElementsAndTakesItsOwnElementsWhileGrowing) {
  NodeVector<std::string> v;
  v.push_back(long_text(0));
  for (int i = 1; i < 100; ++i) v.push_back(v[static_cast<size_t>(i - 1)] + "+");  // reads what growing moves
  ASSERT_EQ(v.size(), 100u);
  EXPECT_EQ(v[99], long_text(0) + std::string(99, '+'));
  v.pop_back();
  EXPECT_EQ(v.back(), long_text(0) + std::string(98, '+'));
  v.clear();
  EXPECT_TRUE(v.empty());
}

TEST(NodeVector, CopiesOutliveTheArenaOfTheOriginal) {
  NodeVector<std::string> copy, moved_into;
  {
    std::pmr::monotonic_buffer_resource arena;
    NodeVector<std::string> in_arena(&arena);
    for (int i = 0; i < 10; ++i) in_arena.push_back(long_text(i));
    copy = in_arena;  // copy-assigned: into copy's own (heap) memory
    NodeVector<std::string> other_arena_source(&arena);
    other_arena_source.push_back(long_text(42));
    moved_into = std::move(other_arena_source);  // another resource: the elements move, not the block
    const NodeVector<std::string> copy_constructed(in_arena);
    EXPECT_EQ(copy_constructed, in_arena);
  }  // the arena is gone: ASan reports any element still in it
  ASSERT_EQ(copy.size(), 10u);
  EXPECT_EQ(copy[9], long_text(9));
  ASSERT_EQ(moved_into.size(), 1u);
  EXPECT_EQ(moved_into[0], long_text(42));
  moved_into.push_back(long_text(43));  // grows in its own memory
  EXPECT_EQ(moved_into[1], long_text(43));
}

TEST(NodeVector, MovesWithinOneArenaTakeTheBlock) {
  std::pmr::monotonic_buffer_resource arena;
  NodeVector<ValueRef> a(&arena), b(&arena);
  b = {ValueRef::graph_input(1),
       ValueRef::weight(2)};  // initializer lists allocate from the vector's resource
  const ValueRef* block = b.data();
  a = std::move(b);
  EXPECT_EQ(a.data(), block);
  EXPECT_TRUE(b.empty());
  b.push_back(ValueRef::capture(3));  // the moved-from vector is usable, still in the arena
  EXPECT_EQ(b[0], ValueRef::capture(3));
}

TEST(NodeVector, NodesOfACopiedGraphOutliveTheOriginal) {
  Graph copy;
  {
    Graph g;
    g.arena = std::make_shared<std::pmr::monotonic_buffer_resource>();
    Node& n = g.nodes.emplace_back(g.arena.get());
    n.op = OpId{"", "Relu", "", 14};
    n.inputs.push_back(ValueRef::graph_input(0));
    n.outputs.push_back({long_text(1), TensorType::of(DType::kFloat32, {2, 3})});
    n.attributes.push_back({long_text(2), long_text(3)});
    copy = g;
  }
  const Node& n = copy.nodes[0];
  EXPECT_EQ(n.op, (OpId{"", "Relu", "", 14}));
  EXPECT_EQ(n.inputs[0], ValueRef::graph_input(0));
  EXPECT_EQ(n.outputs[0].name, long_text(1));
  EXPECT_EQ(*n.outputs[0].type, TensorType::of(DType::kFloat32, {2, 3}));
  EXPECT_EQ(n.attributes[0].name, long_text(2));
}

TEST(SharedRefs, EmptyRefsReadAsTheEmptyOpAndTheUnknownType) {
  const OpRef op;
  EXPECT_EQ(*op, OpId{});
  const TypeRef unknown, declared_unknown = TensorType{};
  EXPECT_EQ(*unknown, TensorType{});
  EXPECT_EQ(unknown, declared_unknown);
  EXPECT_FALSE(TypeRef(TensorType::of(DType::kInt64, {})) == unknown);  // rank 0 is known
  const OpRef relu = OpId{"", "Relu", "", 14}, again = OpId{"", "Relu", "", 14}, shared = relu;
  EXPECT_EQ(relu, again);  // equal by value, not by identity
  EXPECT_EQ(&*shared, &*relu);
  EXPECT_FALSE(relu == OpRef(OpId{"", "Relu", "", 13}));
}

TEST(SharedRefs, OpRefsShareOneOpUntilTheLastGoes) {
  static_assert(sizeof(OpRef) == 8);
  static_assert(sizeof(Node) <= 96, "a node of a million-node graph: keep it small (bench/hardening)");
  std::vector<OpRef> refs;
  {
    const OpRef first(OpId{"com.example", "Fn", "", 1}, long_text(0));
    for (int i = 0; i < 100; ++i) refs.push_back(first);  // copies (and moves as the vector grows)
  }  // the first holder is gone; the copies still hold the op
  OpRef assigned;
  assigned = refs[50];
  refs[50] = std::move(refs[10]);  // a move over a holder of the same op
  const OpRef& same = refs[10];
  refs[10] = same;  // self-assignment keeps it
  refs.erase(refs.begin(), refs.begin() + 60);
  EXPECT_EQ(assigned->name, "Fn");
  EXPECT_EQ(assigned.definition(), long_text(0));
  EXPECT_EQ(refs.back(), assigned);
  EXPECT_FALSE(assigned == (OpId{"com.example", "Fn", "", 1}));  // it has a definition, an OpId none
  refs.clear();
  EXPECT_EQ(assigned->domain, "com.example");  // ASan: freed only with the last holder
}

TEST(Name, HoldsAnyTextInSixteenBytes) {
  static_assert(sizeof(Name) == 16);
  for (const size_t size : {0, 1, 14, 15, 16, 17, 1000}) {  // inline up to 15 characters, else on the heap
    std::string text(size, 'x');
    if (size > 0) text.back() = '\0';  // names may hold any byte
    const Name name(text);
    EXPECT_EQ(name.size(), size);
    EXPECT_EQ(name.view(), text);
    Name copy = name, moved = Name(text);
    EXPECT_EQ(copy.view(), text);
    EXPECT_EQ(moved.view(), text);
    copy = moved;  // copy-assigned over a name that may own a block
    moved = Name("short");
    EXPECT_EQ(copy.view(), text);
    EXPECT_EQ(moved, "short");
    Name taken = std::move(copy);
    EXPECT_EQ(taken.view(), text);
    EXPECT_TRUE(copy.empty());  // NOLINT: a moved-from name is empty
  }
  const Name node = long_text(7);
  EXPECT_EQ("node '" + node + "'", "node '" + long_text(7) + "'");
  EXPECT_EQ(node + ":0", long_text(7) + ":0");
  EXPECT_EQ(Name().view(), "");
}

}  // namespace
}  // namespace graphcache::ir
