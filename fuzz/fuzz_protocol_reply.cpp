// Protocol-v1 replies as the runner reads them from a backend process
// (conformance/runner reply.hpp, used by the process backend): the reply
// line to a request id, then the result members of a quantize or a tensor
// reply, and the hello reply. Properties: nothing throws; every message is
// printable ASCII (it goes into JSON and JUnit reports); a failure has a
// message; an accepted quantize/tensor result holds exactly the reply's arrays.
#include <nlohmann/json.hpp>

#include "fuzz_common.hpp"
#include "mls/conformance/reply.hpp"

using namespace mls::conformance;

namespace {

void check_message(const std::string& m, bool need) {
  MLS_FUZZ_CHECK(!need || !m.empty(), "a failure without a message");
  for (unsigned char c : m) MLS_FUZZ_CHECK(c >= 0x20 && c < 0x7f, "a message with a non-printable byte");
  (void)nlohmann::json(m).dump();  // throws on invalid UTF-8: a report could not be written
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint64_t id = data[0] % 4;  // small ids, so the fuzzer can hit the right one
  const std::string line = mls::fuzz::text(data + 1, size - 1);
  const ReplyLine r = parse_reply_line(line, id);
  check_message(r.message, r.status == Status::failure);
  if (r.status == Status::ok) {
    MLS_FUZZ_CHECK(r.body.is_object() && r.body.at("id") == id, "an ok reply with the wrong id");
    const auto q = read_quantize_reply(r.body);
    check_message(q.message, q.status == Status::failure);
    if (q.status == Status::ok)
      MLS_FUZZ_CHECK(q.value.elements.size() == r.body.at("elements").size() &&
                         q.value.group_scales.size() == r.body.at("group_scales").size(),
                     "quantize result sizes differ from the reply's arrays");
    const auto t = read_tensor_reply(r.body);
    check_message(t.message, t.status == Status::failure);
    if (t.status == Status::ok) MLS_FUZZ_CHECK(t.value.y.size() == r.body.at("y").size(), "y size differs from the reply's");
    const auto k = read_codes_reply(r.body);
    check_message(k.message, k.status == Status::failure);
    if (k.status == Status::ok) MLS_FUZZ_CHECK(k.value.codes.size() == r.body.at("codes").size(), "codes size differs from the reply's");
  }
  Capabilities caps;
  std::string why;
  if (parse_hello_reply(line, "fallback", caps, why)) {
    MLS_FUZZ_CHECK(caps.protocol == 1, "hello accepted without protocol 1");
    check_message(caps.name, true);
  } else {
    check_message(why, true);
  }
  return 0;
}
