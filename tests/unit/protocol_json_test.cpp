// The strict JSON reader: validate/compact, ObjectReader/ArrayReader, string
// unescaping and UTF-8 checks, number grammar, depth limit, scalar
// conversions.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/Json.h"

namespace json = sb::protocol::json;

namespace {

bool valid(std::string_view s) { return json::validate(s); }

std::string errorOf(std::string_view s) {
  std::string error;
  EXPECT_FALSE(json::validate(s, &error)) << s;
  return error;
}

// --- validate: accepted documents ------------------------------------------

TEST(ProtocolJsonValidate, AcceptsScalarsAtTopLevel) {
  for (const char* s : {"0", "-0", "1", "-1", "123", "1.5", "-1.5e10", "1E+2", "1e-2", "0.0", "true", "false",
                        "null", "\"\"", "\"abc\""}) {
    EXPECT_TRUE(valid(s)) << s;
  }
}

TEST(ProtocolJsonValidate, AcceptsContainersAndWhitespace) {
  EXPECT_TRUE(valid("{}"));
  EXPECT_TRUE(valid("[]"));
  EXPECT_TRUE(valid(" \t\r\n{ \"a\" : [ 1 , 2 , { } , [ ] ] , \"b\" : null } \n"));
  EXPECT_TRUE(valid("[[[[]]]]"));
  EXPECT_TRUE(valid("{\"a\":{\"b\":{\"c\":[true,false,null]}}}"));
}

TEST(ProtocolJsonValidate, AcceptsDuplicateKeys) { EXPECT_TRUE(valid("{\"a\":1,\"a\":2}")); }

TEST(ProtocolJsonValidate, AcceptsHugeNumbersAsText) {
  EXPECT_TRUE(valid("123456789012345678901234567890123456789012345678901234567890"));
  EXPECT_TRUE(valid("1e999999"));
  EXPECT_TRUE(valid("-0.000000000000000000000000000001"));
}

TEST(ProtocolJsonValidate, AcceptsEscapesAndUtf8InStrings) {
  EXPECT_TRUE(valid(R"("\" \\ \/ \b \f \n \r \t \u0000 \u00e9 \uFFFF")"));
  EXPECT_TRUE(valid(R"("\ud83d\ude00")"));  // surrogate pair
  EXPECT_TRUE(valid("\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\""));
  EXPECT_TRUE(valid("\"\x7F\""));  // DEL is not a control character in JSON
}

// --- validate: refused documents -------------------------------------------

TEST(ProtocolJsonValidate, RefusesEmptyAndWhitespaceOnly) {
  EXPECT_NE(errorOf("").find("empty"), std::string::npos);
  EXPECT_FALSE(valid("   \n"));
}

TEST(ProtocolJsonValidate, RefusesTruncatedDocuments) {
  for (const char* s : {"{", "[", "{\"a\"", "{\"a\":", "{\"a\":1", "[1,", "\"abc", "tru", "nul", "-", "1.", "1e",
                        "{\"a\":\"b", "[\"\\", "\"\\u12"}) {
    EXPECT_FALSE(valid(s)) << s;
  }
}

TEST(ProtocolJsonValidate, RefusesTrailingCommas) {
  EXPECT_FALSE(valid("[1,]"));
  EXPECT_FALSE(valid("{\"a\":1,}"));
  EXPECT_FALSE(valid("[,1]"));
  EXPECT_FALSE(valid("{,}"));
}

TEST(ProtocolJsonValidate, RefusesTrailingCharacters) {
  EXPECT_NE(errorOf("{} x").find("trailing"), std::string::npos);
  EXPECT_FALSE(valid("1 2"));
  EXPECT_FALSE(valid("{}{}"));
  EXPECT_FALSE(valid("truex"));
  EXPECT_FALSE(valid("[1]]"));
}

TEST(ProtocolJsonValidate, RefusesNonJsonTokens) {
  for (const char* s : {"NaN", "Infinity", "-Infinity", "undefined", "'a'", "{a:1}", "{\"a\" 1}", "[1 2]",
                        "{\"a\":1 \"b\":2}", "// c\n1", "/* c */ 1", "True", "nulL", "{1:2}", "[1;2]"}) {
    EXPECT_FALSE(valid(s)) << s;
  }
}

TEST(ProtocolJsonValidate, RefusesBadNumbers) {
  for (const char* s : {"01", "-01", "00", "+1", ".5", "1.", "1.e5", "1e", "1e+", "--1", "0x10", "1_000", "-",
                        "- 1", "1.5.5", "[01]"}) {
    EXPECT_FALSE(valid(s)) << s;
  }
  EXPECT_NE(errorOf("01").find("leading zero"), std::string::npos);
}

TEST(ProtocolJsonValidate, RefusesBadEscapes) {
  for (const char* s : {R"("\x")", R"("\a")", R"("\u12G4")", R"("\u123")", R"("\U0041")", R"("\')", R"("\0")"}) {
    EXPECT_FALSE(valid(s)) << s;
  }
}

TEST(ProtocolJsonValidate, RefusesLoneSurrogates) {
  for (const char* s : {R"("\ud800")", R"("\udfff")", R"("\ud83d\u0041")", R"("\ud83dx")", R"("\ude00\ud83d")",
                        R"("\ud83d\ud83d")"}) {
    EXPECT_NE(errorOf(s).find("surrogate"), std::string::npos) << s;
  }
}

TEST(ProtocolJsonValidate, RefusesRawControlCharactersInStrings) {
  EXPECT_FALSE(valid("\"a\nb\""));
  EXPECT_FALSE(valid("\"a\tb\""));
  EXPECT_FALSE(valid(std::string("\"a\0b\"", 5)));
  EXPECT_NE(errorOf("\"\x1f\"").find("control"), std::string::npos);
}

TEST(ProtocolJsonValidate, RefusesInvalidUtf8InStrings) {
  for (const char* s : {"\"\x80\"", "\"\xC0\xAF\"", "\"\xC1\xBF\"", "\"\xE0\x80\xAF\"", "\"\xED\xA0\x80\"",
                        "\"\xF0\x80\x80\xAF\"", "\"\xF4\x90\x80\x80\"", "\"\xF5\x80\x80\x80\"", "\"\xFF\"",
                        "\"\xC3\"", "\"\xE2\x82\"", "\"\xF0\x9F\x98\""}) {
    EXPECT_NE(errorOf(s).find("UTF-8"), std::string::npos) << s;
  }
}

TEST(ProtocolJsonValidate, RefusesBytesOutsideStrings) {
  EXPECT_FALSE(valid("\xEF\xBB\xBF{}"));  // a BOM is not JSON whitespace
  EXPECT_FALSE(valid("{}\v"));
  EXPECT_FALSE(valid(std::string("{}\0", 3)));
}

TEST(ProtocolJsonValidate, DepthLimitIsExact) {
  const std::string ok = std::string(json::kMaxDepth, '[') + std::string(json::kMaxDepth, ']');
  EXPECT_TRUE(valid(ok));
  const std::string deep = std::string(json::kMaxDepth + 1, '[') + std::string(json::kMaxDepth + 1, ']');
  EXPECT_NE(errorOf(deep).find("deep"), std::string::npos);
  std::string objects;
  for (int i = 0; i < json::kMaxDepth; ++i) objects += "{\"a\":";
  objects += "1" + std::string(json::kMaxDepth, '}');
  EXPECT_TRUE(valid(objects));
  EXPECT_FALSE(valid("{\"a\":" + objects + "}"));
}

TEST(ProtocolJsonValidate, HugeNestingFailsWithoutRecursion) {
  EXPECT_FALSE(valid(std::string(1 << 20, '[')));
  EXPECT_FALSE(valid(std::string(100000, '{')));
  std::string mixed;
  for (int i = 0; i < 100000; ++i) mixed += "{\"a\":[";
  EXPECT_FALSE(valid(mixed));
}

TEST(ProtocolJsonValidate, ErrorNamesTheOffset) {
  EXPECT_NE(errorOf("[1,2,x]").find("offset 5"), std::string::npos);
}

// --- compact -----------------------------------------------------------------

TEST(ProtocolJsonCompact, StripsInsignificantWhitespaceOnly) {
  std::string out;
  ASSERT_TRUE(json::compact(" {\n \"a b\" : [ 1 ,\t2 ] ,\r\n \"c\" : \" x \\n \\\" y \" } \n", out));
  EXPECT_EQ(out, "{\"a b\":[1,2],\"c\":\" x \\n \\\" y \"}");
  EXPECT_EQ(out.find('\n'), std::string::npos);
}

TEST(ProtocolJsonCompact, KeepsEscapedQuoteAndBackslashBoundaries) {
  std::string out;
  ASSERT_TRUE(json::compact("[ \"a\\\\\" , \"b\\\\\\\" c\" ]", out));
  EXPECT_EQ(out, "[\"a\\\\\",\"b\\\\\\\" c\"]");
}

TEST(ProtocolJsonCompact, AppendsToExistingOutput) {
  std::string out = "prefix:";
  ASSERT_TRUE(json::compact(" 1 ", out));
  EXPECT_EQ(out, "prefix:1");
}

TEST(ProtocolJsonCompact, InvalidInputLeavesOutputAlone) {
  std::string out = "keep";
  std::string error;
  EXPECT_FALSE(json::compact("{\"a\":1,}", out, &error));
  EXPECT_EQ(out, "keep");
  EXPECT_FALSE(error.empty());
}

TEST(ProtocolJsonCompact, CompactOutputIsValidAndStable) {
  const char* docs[] = {"{ }", "[ 1, [ 2 , { \"k\" : null } ] ]", "\" spaced string \"", " -1.5e3 ",
                        "{\"u\":\"\\ud83d\\ude00\"}"};
  for (const char* d : docs) {
    std::string once, twice;
    ASSERT_TRUE(json::compact(d, once)) << d;
    EXPECT_TRUE(json::validate(once)) << once;
    ASSERT_TRUE(json::compact(once, twice));
    EXPECT_EQ(once, twice);
  }
}

// --- ObjectReader -------------------------------------------------------------

TEST(ProtocolJsonObjectReader, ListsMembersWithRawValuesAndTypes) {
  json::ObjectReader r(R"( { "s" : "x" , "n": -1.5, "t":true, "f":false, "z":null, "o":{"a":[1]}, "a":[ 1, 2 ] } )");
  json::Member m;
  std::vector<std::tuple<std::string, std::string, json::Type>> got;
  while (r.next(m)) got.emplace_back(m.key, std::string(m.raw), m.type);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(got.size(), 7u);
  EXPECT_EQ(got[0], std::make_tuple(std::string("s"), std::string("\"x\""), json::Type::String));
  EXPECT_EQ(got[1], std::make_tuple(std::string("n"), std::string("-1.5"), json::Type::Number));
  EXPECT_EQ(got[2], std::make_tuple(std::string("t"), std::string("true"), json::Type::True));
  EXPECT_EQ(got[3], std::make_tuple(std::string("f"), std::string("false"), json::Type::False));
  EXPECT_EQ(got[4], std::make_tuple(std::string("z"), std::string("null"), json::Type::Null));
  EXPECT_EQ(got[5], std::make_tuple(std::string("o"), std::string("{\"a\":[1]}"), json::Type::Object));
  EXPECT_EQ(got[6], std::make_tuple(std::string("a"), std::string("[ 1, 2 ]"), json::Type::Array));
}

TEST(ProtocolJsonObjectReader, UnescapesKeys) {
  json::ObjectReader r(R"({"a\"b\u00e9\n":1})");
  json::Member m;
  ASSERT_TRUE(r.next(m));
  EXPECT_EQ(m.key, "a\"b\xC3\xA9\n");
  EXPECT_FALSE(r.next(m));
  EXPECT_TRUE(r.ok());
}

TEST(ProtocolJsonObjectReader, EmptyObject) {
  json::ObjectReader r(" { } ");
  json::Member m;
  EXPECT_FALSE(r.next(m));
  EXPECT_TRUE(r.ok());
  EXPECT_FALSE(r.next(m));  // stays finished
}

TEST(ProtocolJsonObjectReader, ReportsDuplicatesInOrder) {
  json::ObjectReader r(R"({"a":1,"a":2})");
  json::Member m;
  ASSERT_TRUE(r.next(m));
  EXPECT_EQ(m.raw, "1");
  ASSERT_TRUE(r.next(m));
  EXPECT_EQ(m.raw, "2");
  EXPECT_FALSE(r.next(m));
  EXPECT_TRUE(r.ok());
}

TEST(ProtocolJsonObjectReader, RefusesNonObjects) {
  for (const char* s : {"[]", "1", "\"{}\"", "", "null"}) {
    json::ObjectReader r(s);
    json::Member m;
    EXPECT_FALSE(r.next(m)) << s;
    EXPECT_FALSE(r.ok()) << s;
  }
}

TEST(ProtocolJsonObjectReader, RefusesMalformedObjects) {
  for (const char* s : {"{\"a\":1,}", "{\"a\":1", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{\"a\":1}x", "{\"a\":[1,]}",
                        "{\"a\":\"\\q\"}", "{\"a\":1 \"b\":2}", "{\"a\":01}"}) {
    json::ObjectReader r(s);
    json::Member m;
    while (r.next(m)) {
    }
    EXPECT_FALSE(r.ok()) << s;
    EXPECT_FALSE(r.error().empty()) << s;
  }
}

TEST(ProtocolJsonObjectReader, MembersBeforeAnErrorAreStillDelivered) {
  json::ObjectReader r(R"({"a":1,"b":[})");
  json::Member m;
  ASSERT_TRUE(r.next(m));
  EXPECT_EQ(m.key, "a");
  EXPECT_FALSE(r.next(m));
  EXPECT_FALSE(r.ok());
}

TEST(ProtocolJsonObjectReader, DepthCountsTheObjectItself) {
  std::string inner = std::string(json::kMaxDepth - 1, '[') + std::string(json::kMaxDepth - 1, ']');
  {
    const std::string doc = "{\"a\":" + inner + "}";
    json::ObjectReader r(doc);
    json::Member m;
    EXPECT_TRUE(r.next(m));
    EXPECT_TRUE(r.ok());
  }
  {
    const std::string doc = "{\"a\":[" + inner + "]}";
    json::ObjectReader r(doc);
    json::Member m;
    EXPECT_FALSE(r.next(m));
    EXPECT_NE(r.error().find("deep"), std::string::npos);
  }
}

// --- ArrayReader ------------------------------------------------------------------

TEST(ProtocolJsonArrayReader, ListsElements) {
  json::ArrayReader r(R"([ 1 , "two" , {"three":3} , [4] , null ])");
  std::string_view raw;
  json::Type type;
  std::vector<std::pair<std::string, json::Type>> got;
  while (r.next(raw, type)) got.emplace_back(std::string(raw), type);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got[0], std::make_pair(std::string("1"), json::Type::Number));
  EXPECT_EQ(got[1], std::make_pair(std::string("\"two\""), json::Type::String));
  EXPECT_EQ(got[2], std::make_pair(std::string("{\"three\":3}"), json::Type::Object));
  EXPECT_EQ(got[3], std::make_pair(std::string("[4]"), json::Type::Array));
  EXPECT_EQ(got[4], std::make_pair(std::string("null"), json::Type::Null));
}

TEST(ProtocolJsonArrayReader, EmptyAndMalformed) {
  {
    json::ArrayReader r("[ ]");
    std::string_view raw;
    json::Type t;
    EXPECT_FALSE(r.next(raw, t));
    EXPECT_TRUE(r.ok());
  }
  for (const char* s : {"[1,]", "[1", "{}", "[1 2]", "[1]x", ""}) {
    json::ArrayReader r(s);
    std::string_view raw;
    json::Type t;
    while (r.next(raw, t)) {
    }
    EXPECT_FALSE(r.ok()) << s;
  }
}

// --- scalar conversions --------------------------------------------------------

TEST(ProtocolJsonScalars, AsString) {
  EXPECT_EQ(json::asString("\"abc\""), "abc");
  EXPECT_EQ(json::asString("\"\""), "");
  EXPECT_EQ(json::asString(R"("\u00e9\ud83d\ude00\t")"), "\xC3\xA9\xF0\x9F\x98\x80\t");
  EXPECT_EQ(json::asString(R"("\u0000")"), std::string(1, '\0'));
  EXPECT_EQ(json::asString(" \"x\" "), "x");
  EXPECT_FALSE(json::asString("abc"));
  EXPECT_FALSE(json::asString("1"));
  EXPECT_FALSE(json::asString("null"));
  EXPECT_FALSE(json::asString("\"a\" \"b\""));
  EXPECT_FALSE(json::asString("\"abc"));
  EXPECT_FALSE(json::asString(R"("\ud800")"));
  EXPECT_FALSE(json::asString("\"\xFF\""));
}

TEST(ProtocolJsonScalars, AsBool) {
  EXPECT_EQ(json::asBool("true"), true);
  EXPECT_EQ(json::asBool("false"), false);
  EXPECT_FALSE(json::asBool("1"));
  EXPECT_FALSE(json::asBool("\"true\""));
  EXPECT_FALSE(json::asBool("null"));
  EXPECT_FALSE(json::asBool("tru"));
}

TEST(ProtocolJsonScalars, AsIntRange) {
  EXPECT_EQ(json::asInt("0"), 0);
  EXPECT_EQ(json::asInt("-0"), 0);
  EXPECT_EQ(json::asInt("42"), 42);
  EXPECT_EQ(json::asInt("-42"), -42);
  EXPECT_EQ(json::asInt("9223372036854775807"), INT64_MAX);
  EXPECT_EQ(json::asInt("-9223372036854775808"), INT64_MIN);
  EXPECT_FALSE(json::asInt("9223372036854775808"));
  EXPECT_FALSE(json::asInt("-9223372036854775809"));
  EXPECT_FALSE(json::asInt("99999999999999999999999999"));
}

TEST(ProtocolJsonScalars, AsIntRefusesNonIntegerForms) {
  for (const char* s : {"5.0", "1e2", "1E2", "0.5", "\"5\"", "true", "null", "", "-", "01", "+5", "5 5", "0x5"}) {
    EXPECT_FALSE(json::asInt(s)) << s;
  }
}

TEST(ProtocolJsonScalars, AsUintRange) {
  EXPECT_EQ(json::asUint("0"), 0u);
  EXPECT_EQ(json::asUint("5"), 5u);
  EXPECT_EQ(json::asUint("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(json::asUint("18446744073709551616"));
  EXPECT_FALSE(json::asUint("-1"));
  EXPECT_FALSE(json::asUint("-0"));  // documented: no sign in an unsigned literal
}

TEST(ProtocolJsonScalars, AsUintRefusesNonIntegerForms) {
  for (const char* s : {"5.0", "1e2", "5e0", "\"5\"", "[5]", "null", "00", "05"}) {
    EXPECT_FALSE(json::asUint(s)) << s;
  }
}

TEST(ProtocolJsonUtf8, SequenceLengths) {
  EXPECT_EQ(json::utf8SequenceLength("a", 0), 1u);
  EXPECT_EQ(json::utf8SequenceLength("\xC3\xA9", 0), 2u);
  EXPECT_EQ(json::utf8SequenceLength("\xE2\x82\xAC", 0), 3u);
  EXPECT_EQ(json::utf8SequenceLength("\xF0\x9F\x98\x80", 0), 4u);
  EXPECT_EQ(json::utf8SequenceLength("\xF4\x8F\xBF\xBF", 0), 4u);   // U+10FFFF
  EXPECT_EQ(json::utf8SequenceLength("\xED\x9F\xBF", 0), 3u);       // U+D7FF
  EXPECT_EQ(json::utf8SequenceLength("\xEE\x80\x80", 0), 3u);       // U+E000
  EXPECT_EQ(json::utf8SequenceLength("\xED\xA0\x80", 0), 0u);       // surrogate
  EXPECT_EQ(json::utf8SequenceLength("\xF4\x90\x80\x80", 0), 0u);   // > U+10FFFF
  EXPECT_EQ(json::utf8SequenceLength("\xE0\x9F\xBF", 0), 0u);       // overlong
  EXPECT_EQ(json::utf8SequenceLength("\xC3", 0), 0u);               // truncated
  EXPECT_EQ(json::utf8SequenceLength("\xC3\x28", 0), 0u);           // bad continuation
  EXPECT_EQ(json::utf8SequenceLength("a", 1), 0u);                  // past the end
}

}  // namespace
