// `mls serve`: the golden model (or a C ABI library) over process protocol v1
// (spec/09-protocol.md): newline-delimited JSON requests on stdin, one reply
// line per request on stdout. The protocol itself lives in the codec
// (conformance/runner: codec.hpp, serve.hpp).
#include <iostream>
#include <string>

#include "commands.hpp"
#include "mls/conformance/serve.hpp"

namespace mls::cli {

void register_serve(CLI::App& app) {
  auto* sub = app.add_subcommand("serve", "serve the golden model (or a C ABI library) over process protocol v1 (JSON lines on stdin/stdout)");
  auto lib = std::make_shared<std::string>();
  sub->add_option("--backend-lib", *lib, "serve this C ABI backend library instead of the golden model");
  sub->callback([lib] {
    std::ios::sync_with_stdio(false);
    std::unique_ptr<conformance::Backend> b;
    if (!lib->empty()) b = conformance::make_library_backend(*lib);
    std::string line;
    while (std::getline(std::cin, line)) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      // replace: an error message quoting invalid UTF-8 from the request must not end the session (found by fuzz/fuzz_serve_request)
      std::cout << conformance::serve_request(line, b.get()).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                << "\n" << std::flush;
    }
  });
}

}  // namespace mls::cli
