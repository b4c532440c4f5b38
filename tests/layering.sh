#!/bin/sh
# The architecture holds: lib/'s subsystems and cmd/ use only what is below
# them, and no files need each other (tests/layering.py reads the built
# objects' symbol tables).
command -v python3 >/dev/null 2>&1 && command -v nm >/dev/null 2>&1 || exit 77
exec python3 "${top_srcdir:-.}/tests/layering.py" "${top_srcdir:-.}" "${top_builddir:-.}"
