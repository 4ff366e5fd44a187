# verilator --lint-only -Wall on every RTL unit, for the parameter sets the
# libraries build (and a few more corners): no warning may remain.
# The OCP MX element grids with the E8M0 scale: E4M3 (NaN at the all-ones
# magnitude), E5M2 (IEEE specials), E2M3, E3M2, E2M1 (no specials).
set(mx "-GEG=8 -GMG=0 -GBIASG=127")
foreach(p "-GE=2 -GM=1" "-GE=2 -GM=4" "-GE=3 -GM=3" "-GE=2 -GM=1 -GEG=3 -GMG=0" "-GE=0 -GM=3" "-GE=2 -GM=1 -GZERO_ONLY=1"
          "-GE=4 -GM=3 -GBIAS=7 -GSPECIALS=2 ${mx}" "-GE=5 -GM=2 -GBIAS=15 -GSPECIALS=1 ${mx}"
          "-GE=2 -GM=3 -GBIAS=1 ${mx}" "-GE=3 -GM=2 -GBIAS=3 ${mx}" "-GE=2 -GM=1 -GBIAS=1 ${mx}")
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
