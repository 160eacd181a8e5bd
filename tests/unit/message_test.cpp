// message_test: the validating decoder accepts well-formed messages and refuses every field that is
// out of range, so that no message can make the runtime write outside the unit it names.
#include "transport/message.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {
using namespace dsm::rt;

const limits kLim{4, 1000, 4096, 4096};

header data(std::uint32_t offset, std::uint32_t length, std::uint64_t total) {
  header h{.type = msg::unit_data, .to = inbox::app, .flags = 1, .src = 1, .id = 7, .arg = 0, .arg2 = total,
           .offset = offset, .length = length};
  return h;
}

TEST(Message, HeaderIsFixedSize) { EXPECT_EQ(sizeof(header), 48u); }

TEST(Message, RoundTripThroughBytes) {
  header h{.type = msg::write_fwd, .to = inbox::engine, .src = 2, .origin = 3, .id = 999, .arg = 2, .arg2 = 1};
  std::vector<std::byte> bytes(sizeof h);
  std::memcpy(bytes.data(), &h, sizeof h);
  header out;
  ASSERT_TRUE(decode_header(bytes, out));
  EXPECT_EQ(out.type, msg::write_fwd);
  EXPECT_EQ(out.origin, 3);
  EXPECT_EQ(out.id, 999u);
  EXPECT_EQ(validate(out, 0, kLim), nullptr);
  EXPECT_FALSE(decode_header(std::span<const std::byte>(bytes.data(), 47), out));
}

TEST(Message, ValidDataGrant) {
  EXPECT_EQ(validate(data(0, 4096, 4096), 4096, kLim), nullptr);
  EXPECT_EQ(validate(data(0, 0, 0), 0, kLim), nullptr);  // a grant without data
}

TEST(Message, RefusesBadFields) {
  header h = data(0, 4096, 4096);
  h.magic = 0;
  EXPECT_NE(validate(h, 4096, kLim), nullptr);
  h = data(0, 4096, 4096);
  h.type = static_cast<msg>(200);
  EXPECT_STREQ(validate(h, 4096, kLim), "unknown message type");
  h = data(0, 4096, 4096);
  h.src = 4;
  EXPECT_STREQ(validate(h, 4096, kLim), "sender rank out of range");
  h.src = -1;
  EXPECT_STREQ(validate(h, 4096, kLim), "sender rank out of range");
  h = data(0, 4096, 4096);
  h.id = 1000;
  EXPECT_STREQ(validate(h, 4096, kLim), "unit number out of range");
  h = data(0, 4096, 4096);
  h.to = inbox::engine;
  EXPECT_STREQ(validate(h, 4096, kLim), "message sent to the wrong inbox");
  h = data(0, 4096, 4096);
  h.flags = 0;
  EXPECT_STREQ(validate(h, 4096, kLim), "bad access in a grant");
}

TEST(Message, RefusesDataOutsideTheUnit) {
  EXPECT_STREQ(validate(data(0, 4096, 4096), 4095, kLim), "payload length does not match the header");
  EXPECT_STREQ(validate(data(1, 4096, 4096), 4096, kLim), "payload outside the unit");
  EXPECT_STREQ(validate(data(0, 8192, 8192), 8192, kLim), "payload larger than the transport allows");
  EXPECT_STREQ(validate(data(0, 16, 8192), 16, kLim), "data total larger than a unit");
  EXPECT_STREQ(validate(data(0xFFFFFFF0u, 32, 4096), 32, kLim), "payload outside the unit");
}

TEST(Message, RefusesPayloadOnControlMessages) {
  header h{.type = msg::read_req, .to = inbox::engine, .src = 0, .id = 1, .length = 8};
  EXPECT_STREQ(validate(h, 8, kLim), "unexpected payload");
  header f{.type = msg::read_fwd, .to = inbox::engine, .src = 0, .origin = 9, .id = 1};
  EXPECT_STREQ(validate(f, 0, kLim), "origin rank out of range");
}

// Condition variables: each field that means something is checked; the inbox is fixed per type.
TEST(Message, ConditionVariableMessages) {
  const header wait{.type = msg::cv_wait, .to = inbox::engine, .src = 1, .id = 1ull << 63, .arg = 5};
  EXPECT_EQ(validate(wait, 0, kLim), nullptr);  // any condition variable id
  header object_lock = wait;
  object_lock.arg = 1ull << 62;
  EXPECT_STREQ(validate(object_lock, 0, kLim), "the mutex of a wait is an object's lock");
  header misrouted = wait;
  misrouted.to = inbox::app;
  EXPECT_STREQ(validate(misrouted, 0, kLim), "message sent to the wrong inbox");
  const header queued{.type = msg::cv_queued, .to = inbox::app, .src = 1, .id = 3, .arg = kCvRefused, .arg2 = 9};
  EXPECT_EQ(validate(queued, 0, kLim), nullptr);
  header bad_answer = queued;
  bad_answer.arg = 2;
  EXPECT_STREQ(validate(bad_answer, 0, kLim), "bad answer to a wait");
  header notify{.type = msg::cv_notify, .to = inbox::engine, .src = 1, .id = 3, .arg = kCvNotifyAll};
  EXPECT_EQ(validate(notify, 0, kLim), nullptr);
  notify.arg = 0;
  EXPECT_STREQ(validate(notify, 0, kLim), "bad notify kind");
  header notified{.type = msg::cv_notified, .to = inbox::app, .src = 1, .id = 3, .arg = 4};
  EXPECT_EQ(validate(notified, 0, kLim), nullptr);
  notified.arg = 5;
  EXPECT_STREQ(validate(notified, 0, kLim), "more waiters woken than ranks");
  header signal{.type = msg::cv_signal, .to = inbox::engine, .src = 1, .id = 3, .length = 8};
  EXPECT_STREQ(validate(signal, 8, kLim), "unexpected payload");
  const header wake{.type = msg::cv_wake, .to = inbox::app, .src = 1, .id = 3};
  EXPECT_EQ(validate(wake, 0, kLim), nullptr);
  header timed = wait;
  timed.arg2 = 1;
  EXPECT_EQ(validate(timed, 0, kLim), nullptr);
  timed.arg2 = 2;
  EXPECT_STREQ(validate(timed, 0, kLim), "bad kind of wait");
  const header cancel{.type = msg::cv_cancel, .to = inbox::engine, .src = 2, .id = 3};
  EXPECT_EQ(validate(cancel, 0, kLim), nullptr);
  header cancelled{.type = msg::cv_cancelled, .to = inbox::app, .src = 1, .id = 3, .arg = 1};
  EXPECT_EQ(validate(cancelled, 0, kLim), nullptr);
  cancelled.arg = 3;
  EXPECT_STREQ(validate(cancelled, 0, kLim), "bad answer to a wait");
  const header leaving{.type = msg::finalizing, .to = inbox::engine, .src = 3};
  EXPECT_EQ(validate(leaving, 0, kLim), nullptr);
}

TEST(Message, EveryTypeHasAName) {
  for (int t = 1; t < static_cast<int>(msg::kLast); ++t) EXPECT_STRNE(msg_name(static_cast<msg>(t)), "unknown") << t;
}

}  // namespace
