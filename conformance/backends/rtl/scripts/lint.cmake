# verilator --lint-only -Wall on every RTL unit, for the parameter sets the
# libraries build (and a few more corners): no warning may remain.
foreach(p "-GE=2 -GM=1" "-GE=2 -GM=4" "-GE=3 -GM=3" "-GE=2 -GM=1 -GEG=3 -GMG=0" "-GE=0 -GM=3" "-GE=2 -GM=1 -GZERO_ONLY=1")
  separate_arguments(args UNIX_COMMAND "${p}")
  execute_process(COMMAND ${VERILATOR} --lint-only -Wall ${args} ${RTL_DIR}/mls_quantizer.sv ${RTL_DIR}/mls_div_stage.sv
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "")
    message(FATAL_ERROR "verilator --lint-only -Wall ${p} mls_quantizer:\n${out}")
  endif()
  message(STATUS "lint clean: mls_quantizer ${p}")
endforeach()
if(EXISTS ${RTL_DIR}/mls_dot.sv)
  foreach(p "" "-GF=8 -GW=24" "-GF=4 -GW=12 -GOVF=1")
    separate_arguments(args UNIX_COMMAND "${p}")
    execute_process(COMMAND ${VERILATOR} --lint-only -Wall ${args} ${RTL_DIR}/mls_dot.sv
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0 OR NOT out STREQUAL "")
      message(FATAL_ERROR "verilator --lint-only -Wall ${p} mls_dot:\n${out}")
    endif()
    message(STATUS "lint clean: mls_dot ${p}")
  endforeach()
endif()
