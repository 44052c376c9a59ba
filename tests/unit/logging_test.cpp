// Structured log events: the message and fields as the text and JSON formats
// write them, and the JSON line the configured logger emits.
#include <gtest/gtest.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "util/Logging.h"

using sb::logging::appendJsonMessage;
using sb::logging::appendTextMessage;
using sb::logging::encodePayload;

TEST(LoggingFields, TextQuotesOnlyWhatNeedsIt) {
  std::string out;
  appendTextMessage(out, encodePayload("client connected", {{"client", "ab-12"}, {"user", "alice smith"},
                                                            {"code", 3001}, {"empty", ""}}));
  EXPECT_EQ(out, "client connected client=ab-12 user=\"alice smith\" code=3001 empty=\"\"");
}

TEST(LoggingFields, JsonEscapesMessageAndValues) {
  std::string out;
  appendJsonMessage(out, encodePayload("say \"hi\"\n", {{"user", "a\\b\"c"}, {"code", uint16_t(3008)},
                                                         {"n", int64_t(-5)}}));
  EXPECT_EQ(out, "\"msg\":\"say \\\"hi\\\"\\n\",\"user\":\"a\\\\b\\\"c\",\"code\":3008,\"n\":-5");
}

TEST(LoggingFields, PlainMessagesHaveNoFields) {
  std::string out;
  appendJsonMessage(out, "listening on 127.0.0.1:8000");
  EXPECT_EQ(out, "\"msg\":\"listening on 127.0.0.1:8000\"");
}

TEST(LoggingFields, AValueCannotForgeAField) {
  // The separator byte inside user input is replaced, so "user" stays one field.
  std::string out;
  appendJsonMessage(out, encodePayload("m", {{"user", "x\x1fsadmin=yes"}}));
  EXPECT_EQ(out, "\"msg\":\"m\",\"user\":\"x?sadmin=yes\"");
}

TEST(LoggingFields, JsonFormatWritesOneObjectPerLine) {
  std::ostringstream stream;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream);
  sink->set_formatter(sb::app::makeLogFormatter("json"));
  auto logger = std::make_shared<spdlog::logger>("logging-test", sink);
  logger->set_level(spdlog::level::debug);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(logger);
  sb::logging::event(spdlog::level::debug, "client connected", {{"client", "c1"}, {"transport", "websocket"}});
  sb::logging::event(spdlog::level::trace, "not logged", {{"client", "c2"}});  // below the level
  spdlog::warn("plain \"quoted\"");
  spdlog::set_default_logger(previous);

  std::string text = stream.str();
  size_t nl = text.find('\n');
  ASSERT_NE(nl, std::string::npos) << text;
  std::string first = text.substr(0, nl);
  EXPECT_TRUE(first.starts_with("{\"time\":\"")) << first;
  EXPECT_NE(first.find("Z\",\"level\":\"debug\",\"thread\":"), std::string::npos) << first;
  EXPECT_TRUE(first.ends_with(",\"msg\":\"client connected\",\"client\":\"c1\",\"transport\":\"websocket\"}"))
      << first;
  std::string second = text.substr(nl + 1);
  EXPECT_NE(second.find("\"level\":\"warning\""), std::string::npos) << second;
  EXPECT_TRUE(second.ends_with(",\"msg\":\"plain \\\"quoted\\\"\"}\n")) << second;
  EXPECT_EQ(text.find("not logged"), std::string::npos);
}
