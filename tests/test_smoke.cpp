#include <gtest/gtest.h>
#include "mls/tensor.hpp"
TEST(Smoke, QuantizeE2M1) {
  mls::Format f = mls::parse_format("mls-e2m1");
  std::vector<float> x = {1.0f, -0.5f, 0.25f, 3.0f};
  auto t = mls::quantize(f, {1, 1, 2, 2}, x, mls::Rounding{}, {});
  EXPECT_EQ(t.elements.size(), 4u);
}
