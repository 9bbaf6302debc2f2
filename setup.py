"""The one compiled module, lamina.otlp._wire (everything else is in pyproject.toml)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "lamina.otlp._wire",
            ["src/lamina/otlp/_wire.c"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
        )
    ]
)
