// Containers a template leaves in reference cycles are freed when the render's ValueArena closes
// (under LeakSanitizer, Robustness.DeeplyNestedValuesAndCyclesDoNotCrash checks the same end to end).
#include "chat/value.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace rbees::chat {
namespace {

// A callable whose captured marker is freed exactly when the callable itself is.
Value watched_callable(std::weak_ptr<int>& watch) {
  auto marker = std::make_shared<int>(0);
  watch = marker;
  return Value::callable("watched", [marker](CallArgs&) { return Value::none(); });
}

TEST(ValueArena, FreesDictsAndListsLeftInCycles) {
  std::weak_ptr<int> in_dict;
  std::weak_ptr<int> in_list;
  {
    ValueArena arena;
    Value ns = Value::namespace_object();
    ns.as_object().set("self", ns);
    ns.as_object().set("f", watched_callable(in_dict));
    Value list = Value::array();
    list.as_array().push_back(list);
    list.as_array().push_back(watched_callable(in_list));
    ASSERT_FALSE(in_dict.expired());
    ASSERT_FALSE(in_list.expired());
  }
  EXPECT_TRUE(in_dict.expired());
  EXPECT_TRUE(in_list.expired());
}

TEST(ValueArena, FreesCallablesThatHoldTheirOwnContainer) {
  std::weak_ptr<int> watch;
  {
    ValueArena arena;
    Value list = Value::array();
    auto marker = std::make_shared<int>(0);
    watch = marker;
    // A bound method stored in the list it is bound to.
    list.as_array().push_back(Value::callable("append", [marker, list](CallArgs&) { return list; }));
  }
  EXPECT_TRUE(watch.expired());
}

TEST(ValueArena, LeavesValuesMadeOutsideItAlone) {
  Value outside = Value::array({Value::integer(1), Value::integer(2)});
  {
    ValueArena arena;
    Value inside = Value::array({outside});
    outside.as_array().push_back(Value::string("kept"));
  }
  ASSERT_EQ(outside.as_array().size(), 3u);
  EXPECT_EQ(outside.as_array()[2].as_string(), "kept");
}

TEST(ValueArena, PruningTheRecordsKeepsLiveValuesIntact) {
  ValueArena arena;
  Value kept = Value::array();
  for (int i = 0; i < 100000; ++i) {
    Value tmp = Value::object();
    tmp.as_object().set("i", Value::integer(i));
    if (i % 1000 == 0) kept.as_array().push_back(tmp);
  }
  EXPECT_EQ(kept.as_array().size(), 100u);
  EXPECT_EQ(kept.as_array()[99].as_object().find("i")->as_int(), 99000);
}

}  // namespace
}  // namespace rbees::chat
