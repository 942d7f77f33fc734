#include "engine/stop_matcher.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rbees::engine {
namespace {

// Feeds the pieces one by one; returns everything emitted (flushing at the end when nothing matched)
// and the index of the matched stop, -1 for none.
std::pair<std::string, int> run(std::vector<std::string> stops, const std::vector<std::string>& pieces) {
  StopMatcher m(std::move(stops));
  std::string out;
  int matched = -1;
  for (const auto& p : pieces) {
    auto r = m.feed(p);
    out += r.text;
    if (r.matched) matched = static_cast<int>(*r.matched);
  }
  if (!m.stopped()) out += m.flush();
  return {out, matched};
}

TEST(StopMatcher, NoStopsPassesEverythingThrough) {
  StopMatcher m({});
  EXPECT_EQ(m.feed("Hello").text, "Hello");
  EXPECT_EQ(m.feed(", world").text, ", world");
  EXPECT_EQ(m.pending(), 0u);
}

TEST(StopMatcher, StopInsideOnePieceCutsBeforeIt) {
  StopMatcher m({"END"});
  auto r = m.feed("abcENDdef");
  EXPECT_EQ(r.text, "abc");
  ASSERT_TRUE(r.matched);
  EXPECT_EQ(*r.matched, 0u);
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.feed("more").text, "");
}

TEST(StopMatcher, StopSplitAcrossPiecesIsHeldBackThenDropped) {
  StopMatcher m({"\n\nUser:"});
  auto a = m.feed("Sure.\n");
  EXPECT_EQ(a.text, "Sure.");  // "\n" could start the stop
  EXPECT_FALSE(a.matched);
  auto b = m.feed("\nUs");
  EXPECT_EQ(b.text, "");
  EXPECT_EQ(m.pending(), 4u);
  auto c = m.feed("er: hi");
  EXPECT_EQ(c.text, "");
  ASSERT_TRUE(c.matched);
}

TEST(StopMatcher, HeldBackTextIsReleasedWhenItCannotBeAStop) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.feed("abST").text, "ab");
  EXPECT_EQ(m.feed("x").text, "STx");
  EXPECT_EQ(m.pending(), 0u);
}

TEST(StopMatcher, FlushReleasesHeldBackText) {
  StopMatcher m({"STOP"});
  EXPECT_EQ(m.feed("abSTO").text, "ab");
  EXPECT_EQ(m.flush(), "STO");
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, OneCharacterPiecesFindTheStop) {
  std::vector<std::string> pieces;
  for (char c : std::string("the cat sat")) pieces.emplace_back(1, c);
  auto [out, matched] = run({"sat"}, pieces);
  EXPECT_EQ(out, "the cat ");
  EXPECT_EQ(matched, 0);
}

TEST(StopMatcher, OverlappingPrefixRestartsCorrectly) {
  // "aab" must be found in "aaab" although the first "aa" turns out not to start it.
  auto [out, matched] = run({"aab"}, {"x", "a", "a", "a", "b", "y"});
  EXPECT_EQ(out, "xa");
  EXPECT_EQ(matched, 0);
  auto [out2, matched2] = run({"abab"}, {"ab", "a", "x", "ab", "ab"});
  EXPECT_EQ(out2, "abax");
  EXPECT_EQ(matched2, 0);
}

TEST(StopMatcher, EarliestOfSeveralStopsWins) {
  auto [out, matched] = run({"world", "lo"}, {"hello world"});
  EXPECT_EQ(out, "hel");
  EXPECT_EQ(matched, 1);
}

TEST(StopMatcher, HoldsBackForTheLongestPossibleStop) {
  StopMatcher m({"xy", "abcd"});
  EXPECT_EQ(m.feed("zzabc").text, "zz");
  EXPECT_EQ(m.pending(), 3u);
  auto r = m.feed("d!");
  EXPECT_EQ(r.text, "");
  ASSERT_TRUE(r.matched);
  EXPECT_EQ(*r.matched, 1u);
}

TEST(StopMatcher, SameStartPrefersTheListedFirstThatIsComplete) {
  auto [out, matched] = run({"abc", "ab"}, {"xab", "c"});
  EXPECT_EQ(out, "x");
  EXPECT_EQ(matched, 1);  // "ab" completed first, before "c" arrived
}

TEST(StopMatcher, NoMatchEmitsEverythingInOrder) {
  auto [out, matched] = run({"zzz", "qq"}, {"a z", "z b q", " c", "z"});
  EXPECT_EQ(out, "a zz b q cz");
  EXPECT_EQ(matched, -1);
}

TEST(StopMatcher, EmptyStopNeverMatches) {
  auto [out, matched] = run({""}, {"abc"});
  EXPECT_EQ(out, "abc");
  EXPECT_EQ(matched, -1);
}

TEST(StopMatcher, MultibyteStopAcrossPieces) {
  // "é" is C3 A9; "—" is E2 80 94.
  auto [out, matched] = run({"é—"}, {"caf", "é", "—", "x"});
  EXPECT_EQ(out, "caf");
  EXPECT_EQ(matched, 0);
}

TEST(StopMatcher, IncompleteUtf8IsHeldUntilComplete) {
  StopMatcher m({});
  EXPECT_EQ(m.feed("a\xE2\x80").text, "a");
  EXPECT_EQ(m.feed("\x94").text, "\xE2\x80\x94");
  EXPECT_EQ(m.feed("\xF0\x9F").text, "");
  EXPECT_EQ(m.feed("\x98\x80z").text, "\xF0\x9F\x98\x80z");
}

TEST(StopMatcher, EmittedTextIsAlwaysCompleteUtf8) {
  // A stop whose prefix is held back must not split the character before it.
  StopMatcher m({"ü!"});
  EXPECT_EQ(m.feed("añü").text, "añ");
  EXPECT_EQ(m.feed("?").text, "ü?");
}

TEST(StopMatcher, Helpers) {
  EXPECT_EQ(partial_stop_suffix("hello wor", "world"), 3u);
  EXPECT_EQ(partial_stop_suffix("hello", "world"), 0u);
  EXPECT_EQ(partial_stop_suffix("world", "world"), 0u);  // proper prefixes only
  EXPECT_EQ(partial_stop_suffix("aa", "aab"), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab"), 2u);
  EXPECT_EQ(complete_utf8_prefix("a\xC3"), 1u);
  EXPECT_EQ(complete_utf8_prefix("a\xC3\xA9"), 3u);
  EXPECT_EQ(complete_utf8_prefix("\xF0\x9F\x98"), 0u);
}

}  // namespace
}  // namespace rbees::engine
