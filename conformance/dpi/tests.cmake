# mls-dpi tests (included from CMakeLists.txt), each a few seconds.
set(MLS_DPI_WORK ${CMAKE_CURRENT_BINARY_DIR}/test-work)
file(MAKE_DIRECTORY ${MLS_DPI_WORK})
set(MLS_DPI_EXPECT ${CMAKE_CURRENT_SOURCE_DIR}/../backends/opencl/expect.cmake)

# The DPI functions against the spec's worked examples, and their errors.
add_test(NAME dpi.api COMMAND $<TARGET_FILE:mls_dpi_api_test>)
set_tests_properties(dpi.api PROPERTIES PASS_REGULAR_EXPRESSION "dpi api: PASS" FAIL_REGULAR_EXPRESSION "FAIL")

# The scoreboard on random stimulus: every output of the quantizer RTL predicted by the golden model.
add_test(NAME dpi.scoreboard_random COMMAND $<TARGET_FILE:mls_dpi_scoreboard> +n=20000 +seed=1)
set_tests_properties(dpi.scoreboard_random PROPERTIES PASS_REGULAR_EXPRESSION "scoreboard: PASS: 20000 checked")

# ... and over the MX configuration (E4M3 elements, E8M0 scales; the golden model's mxfp8-e4m3).
add_test(NAME dpi.scoreboard_mxfp8_e4m3 COMMAND $<TARGET_FILE:mls_dpi_scoreboard_mxfp8> +n=20000 +seed=2)
set_tests_properties(dpi.scoreboard_mxfp8_e4m3 PROPERTIES PASS_REGULAR_EXPRESSION "scoreboard: PASS: 20000 checked")
add_test(NAME dpi.scoreboard_mxfp8_e5m2 COMMAND $<TARGET_FILE:mls_dpi_scoreboard_mxfp8_e5m2> +n=20000 +seed=3)
set_tests_properties(dpi.scoreboard_mxfp8_e5m2 PROPERTIES PASS_REGULAR_EXPRESSION "scoreboard: PASS: 20000 checked")

# The scoreboard on `mls export` hex vectors (the level-1 round groups of mls-e2m1).
add_test(NAME dpi.gen_round COMMAND $<TARGET_FILE:mls> gen --level 1 --ops round -f mls-e2m1 -q
                                    -o ${MLS_DPI_WORK}/round-e2m1.h5)
add_test(NAME dpi.export_round COMMAND $<TARGET_FILE:mls> export ${MLS_DPI_WORK}/round-e2m1.h5 -o ${MLS_DPI_WORK}/hex)
set_tests_properties(dpi.gen_round PROPERTIES FIXTURES_SETUP dpi_round_vectors)
set_tests_properties(dpi.export_round PROPERTIES FIXTURES_SETUP dpi_round_hex FIXTURES_REQUIRED dpi_round_vectors)
add_test(NAME dpi.scoreboard_hex COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/examples/run_hex.sh
                                         $<TARGET_FILE:mls_dpi_scoreboard> ${MLS_DPI_WORK}/hex)
set_tests_properties(dpi.scoreboard_hex PROPERTIES FIXTURES_REQUIRED dpi_round_hex PASS_REGULAR_EXPRESSION "run_hex: 7 files, 0 failed")

# A seeded RTL bug (MLS_RTL_BUG_TIE) must make the scoreboard fail, printing the failing inputs in hex.
add_test(NAME dpi.scoreboard_catches_seeded_bug
         COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:mls_dpi_scoreboard_tie>;+n=20000;+seed=1" -DRC=1
                 "-DRE=MISMATCH case [0-9]+: x=0x[0-9a-f]+ tensor_scale=0x[0-9a-f]+ group_scale=0x[0-9a-f]+ mode=0 ;scoreboard: FAIL"
                 -P ${MLS_DPI_EXPECT})
add_test(NAME dpi.scoreboard_hex_catches_seeded_bug
         COMMAND ${CMAKE_COMMAND} "-DCMD=bash;${CMAKE_CURRENT_SOURCE_DIR}/examples/run_hex.sh;$<TARGET_FILE:mls_dpi_scoreboard_tie>;${MLS_DPI_WORK}/hex"
                 -DRC=1 "-DRE=MISMATCH case [0-9]+: x=0x[0-9a-f]+ tensor_scale=0x[0-9a-f]+ group_scale=0x[0-9a-f]+ mode=0 ;run_hex: 7 files, 1 failed"
                 -P ${MLS_DPI_EXPECT})
set_tests_properties(dpi.scoreboard_hex_catches_seeded_bug PROPERTIES FIXTURES_REQUIRED dpi_round_hex)
