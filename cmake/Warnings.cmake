function(c4c_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wcast-align -Woverloaded-virtual
                                           -Wimplicit-fallthrough)
  if(C4C_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
