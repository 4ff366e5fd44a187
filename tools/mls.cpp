// `mls`: the command line front door of mls-ref.
#include <iostream>

#include "commands.hpp"
#include "mls/error.hpp"
#include "mls/interrupt.hpp"

int main(int argc, char** argv) {
  CLI::App app{"mls: bit-exact reference and verification suite for the MLS low-bit tensor format (spec " MLS_SPEC_VERSION ")"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("mls-ref ") + MLS_VERSION + " (spec " + MLS_SPEC_VERSION + ")");
  mls::cli::register_formats(app);
  mls::cli::register_quantize(app);
  mls::cli::register_explain(app);
  mls::cli::register_serve(app);
  mls::cli::register_demo(app);
  mls::cli::register_gen(app);
  mls::cli::register_merge(app);
  mls::cli::register_export(app);
  mls::cli::register_vinfo(app);
  mls::cli::register_check(app);
  mls::cli::register_conv(app);
  mls::cli::register_gemm(app);
  mls::cli::register_inspect(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {  // a verb's own exit code
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : mls::cli::kUsage;
  } catch (const mls::interrupt::Interrupted& e) {  // stopped by SIGINT/SIGTERM with nothing to write (7.6)
    std::cerr << "mls: " << e.what() << "\n";
    return mls::interrupt::exit_code() ? mls::interrupt::exit_code() : 130;
  } catch (const mls::Error& e) {
    std::cerr << "mls: error: " << e.what() << "\n";
    return mls::cli::kInputError;
  } catch (const std::exception& e) {
    std::cerr << "mls: error: " << e.what() << "\n";
    return mls::cli::kInputError;
  }
  return 0;
}
