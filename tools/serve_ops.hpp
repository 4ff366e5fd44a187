// Protocol-v1 ops conv2d and gemm (spec/09-protocol.md, spec/06-conv.md):
// each takes the parsed request and returns the reply object without "id";
// bad requests throw mls::Error naming the field.
#pragma once
#include <nlohmann/json.hpp>

namespace mls::cli {

// {"op":"conv2d","pass":"fwd|bwd_data|bwd_weight","a":{MLS tensor},"b":{MLS tensor},
//  "stride":[sh,sw],"padding":[ph,pw],"dilation":[dh,dw],"groups":G,"out_shape":[..],
//  "arith":{...}} -> {"shape":[..],"y":[fp32 bits],"exact":[{"m":"..","e":..},..]}
nlohmann::json serve_conv2d(const nlohmann::json& request);
// {"op":"gemm","a":{MLS tensor (M,K)},"b":{MLS tensor (K,N)},"arith":{...}} -> as above
nlohmann::json serve_gemm(const nlohmann::json& request);

}  // namespace mls::cli
