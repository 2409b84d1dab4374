# The README's two commands: `make run` and `make test`. (Expanded by the build issue.)
BUILD ?= build
.PHONY: build clean
build:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD) -j2
clean:
	rm -rf build build-*
