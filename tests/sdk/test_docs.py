"""docs/sdk.md covers the SDK: every public function, every observe parameter,
every setting; and its Python examples are valid Python."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import lamina
from lamina import Laminar, observe
from lamina.sdk import config

DOC = (Path(__file__).resolve().parents[2] / "docs" / "sdk.md").read_text()


def test_every_public_name_and_function_is_documented() -> None:
    for name in lamina.__all__:
        assert f"`{name}`" in DOC, name
    methods = [n for n, _ in inspect.getmembers(Laminar, inspect.isfunction) if n[0] != "_"]
    assert len(methods) >= 15
    for method in methods:
        assert f"`Laminar.{method}(" in DOC, method


def test_every_parameter_is_documented() -> None:
    functions = [observe] + [getattr(Laminar, n) for n in dir(Laminar) if not n.startswith("_")]
    for function in functions:
        for parameter in inspect.signature(function).parameters:
            assert f"`{parameter}`" in DOC or f"{parameter}=" in DOC, (function, parameter)


def test_every_setting_and_its_variable_is_documented() -> None:
    variables = set(re.findall(r"LAMINA_[A-Z_]+|OTEL_SERVICE_NAME", inspect.getsource(config)))
    assert "LAMINA_PROJECT_API_KEY" in variables and len(variables) >= 6
    for variable in variables:
        assert f"`{variable}`" in DOC, variable
    for field in config.SdkSettings.__dataclass_fields__:
        assert f"`{field}`" in DOC, field
    for module, extra in config.SUPPORTED_MODULES.items():
        assert f"`{module}`" in DOC and extra in DOC


def test_python_examples_parse() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC, re.S)
    assert len(blocks) >= 10
    for block in blocks:
        ast.parse(block.replace("await ", "").replace("async with", "with"))
