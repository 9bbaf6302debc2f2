"""The one compiled module, lamina.otlp._wire: the server's OTLP decoder in C
(everything else is in pyproject.toml).

It is built only when LAMINA_BUILD_DECODER=1 (scripts/setup.sh sets it, so `make run`
and `make test` have it). Without it the package is pure Python: the SDK, which is what
an application installs, needs no C compiler, and `python -m build` makes one wheel for
every platform. A server installed without it decodes with lamina.otlp.decode alone
(the same spans, several times slower) and says so when it starts.
"""

import os

from setuptools import Extension, setup

decoder = Extension(
    "lamina.otlp._wire",
    ["src/lamina/otlp/_wire.c"],
    extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
)

setup(ext_modules=[decoder] if os.environ.get("LAMINA_BUILD_DECODER") == "1" else [])
