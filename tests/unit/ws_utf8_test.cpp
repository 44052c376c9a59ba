// Utf8Validator: RFC 3629 validity, incremental feeding across arbitrary
// splits, and fail-fast (the exact byte at which feed() first returns false).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/Utf8Validator.h"
#include "../support/Utf8Reference.h"

using sb::ws::Utf8Validator;

namespace {

using sb::testsupport::refValid;

bool refValid(const std::string& s) { return sb::testsupport::refValid(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }

std::string encode(uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
  return out;
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Index of the byte at which a byte-at-a-time feed first fails, or -1.
long failIndex(const std::string& s) {
  Utf8Validator v;
  for (size_t i = 0; i < s.size(); ++i)
    if (!v.feed(u8(s) + i, 1)) return long(i);
  return -1;
}

}  // namespace

TEST(Utf8Validator, StateIsOneByte) { EXPECT_EQ(sizeof(Utf8Validator), 1u); }

TEST(Utf8Validator, ValidSamples) {
  for (const char* s : {"", "hello", "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
                        "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", "\xf0\x9f\x98\x80 emoji",
                        "\xef\xbb\xbf BOM", "\xf4\x8f\xbf\xbf", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbf"}) {
    EXPECT_TRUE(Utf8Validator::isValid(s)) << s;
  }
  std::string nul("a\0b", 3);
  EXPECT_TRUE(Utf8Validator::isValid(nul));
}

TEST(Utf8Validator, BoundaryCodePoints) {
  for (uint32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xD7FFu, 0xE000u, 0xFFFDu, 0xFFFEu, 0xFFFFu, 0x10000u,
                      0x10FFFFu}) {
    EXPECT_TRUE(Utf8Validator::isValid(encode(cp))) << std::hex << cp;
  }
}

TEST(Utf8Validator, EveryCodePoint) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(Utf8Validator::isValid(encode(cp)), !surrogate) << std::hex << cp;
  }
}

TEST(Utf8Validator, InvalidSamples) {
  const char* bad[] = {
      "\x80", "\xbf", "\x80\x80",                      // lone continuation bytes
      "\xc0\x80", "\xc1\xbf",                          // overlong 2-byte (C0/C1 never valid)
      "\xe0\x80\x80", "\xe0\x9f\xbf",                  // overlong 3-byte
      "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",          // overlong 4-byte
      "\xed\xa0\x80", "\xed\xbf\xbf", "\xed\xa0\x80\xed\xb0\x80",  // surrogates
      "\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf",          // above U+10FFFF
      "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", "\xfc\x84\x80\x80\x80\x80", "\xfe", "\xff",
      "\xc2\x41", "\xe1\x80\x41", "\xf1\x80\x80\x41",  // bad continuation
      "\xc2", "\xe1\x80", "\xf1\x80\x80",              // truncated
      "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",  // Autobahn 6.3.1
  };
  for (const char* s : bad) EXPECT_FALSE(Utf8Validator::isValid(s)) << testing::PrintToString(std::string(s));
}

TEST(Utf8Validator, TruncatedIsIncompleteNotFailed) {
  for (std::string s : {"\xc2", "\xe1\x80", "\xf1\x80\x80", "ab\xf0\x9f\x98", "\xe0\xa0", "\xed\x9f", "\xf4\x8f\xbf"}) {
    Utf8Validator v;
    EXPECT_TRUE(v.feed(s)) << testing::PrintToString(s);
    EXPECT_FALSE(v.complete());
    EXPECT_FALSE(v.failed());
  }
}

TEST(Utf8Validator, ExhaustiveOneAndTwoBytes) {
  for (int a = 0; a < 256; ++a) {
    std::string s1(1, char(a));
    ASSERT_EQ(Utf8Validator::isValid(s1), refValid(s1)) << a;
    for (int b = 0; b < 256; ++b) {
      std::string s2{char(a), char(b)};
      ASSERT_EQ(Utf8Validator::isValid(s2), refValid(s2)) << a << " " << b;
    }
  }
}

TEST(Utf8Validator, ExhaustiveThreeByteLeads) {
  // Every lead E0..F4 with every pair of following bytes (4-byte leads end up
  // incomplete or failed), checked against the reference decoder.
  for (int a = 0xE0; a <= 0xF4; ++a)
    for (int b = 0; b < 256; ++b)
      for (int c = 0; c < 256; ++c) {
        uint8_t s[3] = {uint8_t(a), uint8_t(b), uint8_t(c)};
        ASSERT_EQ(Utf8Validator::isValid(s, 3), refValid(s, 3)) << a << " " << b << " " << c;
      }
}

TEST(Utf8Validator, SplitAtEveryBytePosition) {
  std::string text = "a\xc2\xb5" "b\xe2\x82\xac" "cdefghij\xf0\x9f\x98\x80\xf4\x8f\xbf\xbfklmnopqrstuvwxyz\xed\x9f\xbf!";
  ASSERT_TRUE(Utf8Validator::isValid(text));
  for (size_t i = 0; i <= text.size(); ++i)
    for (size_t j = i; j <= text.size(); ++j) {
      Utf8Validator v;
      ASSERT_TRUE(v.feed(u8(text), i));
      ASSERT_TRUE(v.feed(u8(text) + i, j - i));
      ASSERT_TRUE(v.feed(u8(text) + j, text.size() - j));
      ASSERT_TRUE(v.complete()) << i << " " << j;
    }
  // One byte per call.
  Utf8Validator v;
  for (size_t i = 0; i < text.size(); ++i) {
    ASSERT_TRUE(v.feed(u8(text) + i, 1));
    // complete() exactly at character boundaries
    bool boundary = i + 1 == text.size() || (uint8_t(text[i + 1]) & 0xC0) != 0x80;
    ASSERT_EQ(v.complete(), boundary) << i;
  }
}

TEST(Utf8Validator, InvalidDetectedUnderEverySplit) {
  for (std::string text : {std::string("abc\xed\xa0\x80xyz"), std::string("12345678\xf4\x90\x80\x80"),
                           std::string("\xe2\x82\xac\xe0\x9f\xbf"), std::string("xxxxxxxxxxxxxxxx\xc0\xaf")}) {
    for (size_t i = 0; i <= text.size(); ++i) {
      Utf8Validator v;
      bool ok = v.feed(u8(text), i) && v.feed(u8(text) + i, text.size() - i) && v.complete();
      ASSERT_FALSE(ok) << i;
      ASSERT_TRUE(v.failed());
    }
  }
}

TEST(Utf8Validator, FailFastPosition) {
  // The automaton rejects at the first byte that cannot start or continue a
  // valid sequence, without waiting for the rest.
  struct Case {
    std::string s;
    long at;
  } cases[] = {
      {"abc\x80", 3},
      {"\xc0\x80", 0},                 // C0 can never be valid
      {"ok\xe0\x80\x80", 3},           // E0 then 80: overlong known at the second byte
      {"\xed\xa0\x80", 1},             // surrogate known at the second byte
      {"\xf4\x90\x80\x80", 1},         // > U+10FFFF known at the second byte
      {"\xf0\x8f\xbf\xbf", 1},         // overlong 4-byte
      {"\xf5", 0},
      {"\xe2\x82\x41", 2},             // bad third byte
      {"\xf0\x9f\x98\x41", 3},         // bad fourth byte
      {"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65", 12},  // Autobahn 6.3.1
      {std::string(100, 'a') + "\xff" + std::string(10, 'b'), 100},
  };
  for (const auto& c : cases) EXPECT_EQ(failIndex(c.s), c.at) << testing::PrintToString(c.s);
}

TEST(Utf8Validator, FailureIsStickyUntilReset) {
  Utf8Validator v;
  EXPECT_FALSE(v.feed(std::string_view("\xff")));
  EXPECT_FALSE(v.feed(std::string_view("abc")));
  EXPECT_FALSE(v.complete());
  v.reset();
  EXPECT_TRUE(v.feed(std::string_view("abc")));
  EXPECT_TRUE(v.complete());
}

TEST(Utf8Validator, LongAsciiFastPathThenError) {
  // Exercise the 8-byte ASCII skip with the error at every offset.
  for (size_t pos = 0; pos < 40; ++pos) {
    std::string s(40, 'x');
    s[pos] = char(0x80);
    EXPECT_EQ(failIndex(s), long(pos));
    EXPECT_FALSE(Utf8Validator::isValid(s));
    Utf8Validator v;
    EXPECT_FALSE(v.feed(s));
  }
}

TEST(Utf8Validator, RandomAgainstReference) {
  uint32_t seed = 12345;
  auto rnd = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 16;
  };
  const uint8_t interesting[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xff};
  for (int iter = 0; iter < 200000; ++iter) {
    size_t n = rnd() % 12;
    std::string s;
    for (size_t i = 0; i < n; ++i) s += char(interesting[rnd() % sizeof interesting]);
    ASSERT_EQ(Utf8Validator::isValid(s), refValid(s)) << testing::PrintToString(s);
  }
}
