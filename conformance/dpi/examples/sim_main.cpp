// A minimal Verilator 5 main for a timed SystemVerilog testbench (--timing):
// runs the scheduler until $finish, returns 1 when the model reported an
// error ($error, $fatal) or stopped without $finish. Commercial simulators
// need no main: they run the testbench module directly.
#include <memory>

#include "verilated.h"
#include VM_TOP_HEADER

double sc_time_stamp() { return 0; }

int main(int argc, char** argv) {
  auto ctx = std::make_unique<VerilatedContext>();
  ctx->commandArgs(argc, argv);
  ctx->fatalOnError(false);  // $fatal/$error: end the run and report, don't abort()
  auto top = std::make_unique<VM_TOP>(ctx.get(), "TOP");
  while (!ctx->gotFinish() && !ctx->gotError()) {
    top->eval();
    if (!top->eventsPending()) break;
    ctx->time(top->nextTimeSlot());
  }
  const bool ok = ctx->gotFinish() && !ctx->gotError();
  top->final();
  return ok ? 0 : 1;
}
