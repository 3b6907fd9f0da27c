# The project's warning set and build flavours (shared/STYLE.md, "Habits").
add_compile_options(
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
	-Wformat=2 -Wimplicit-fallthrough -Wvla)

if(VMM_SANITIZE)
	add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
		-fno-omit-frame-pointer -g)
	add_link_options(-fsanitize=address,undefined)
elseif(CMAKE_BUILD_TYPE STREQUAL "Release")
	add_compile_options(-D_FORTIFY_SOURCE=2 -fstack-protector-strong)
endif()
