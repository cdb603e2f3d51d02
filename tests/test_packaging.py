"""pyproject.toml: the dependencies README's requirements files install, and a working `pricecast` command."""
from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _requirements(name: str) -> list[str]:
    """The requirement lines of one file, without comments and `-r` includes."""
    lines = (ROOT / name).read_text(encoding="utf-8").splitlines()
    return [re.sub(r"\s+", "", line) for line in lines if line.strip() and not line.startswith(("#", "-r"))]


def test_dependencies_match_the_requirements_files():
    assert [re.sub(r"\s+", "", d) for d in PROJECT["dependencies"]] == _requirements("requirements.txt")
    extras = PROJECT["optional-dependencies"]
    assert extras["ray"] == _requirements("requirements-ray.txt")
    assert extras["ml"] == _requirements("requirements-ml.txt")
    # requirements-dev.txt includes requirements-ray.txt and requirements-ml.txt
    assert extras["dev"] == (_requirements("requirements-ray.txt") + _requirements("requirements-ml.txt")
                             + _requirements("requirements-dev.txt"))


def test_the_console_script_is_the_cli(capsys):
    target = PROJECT["scripts"]["pricecast"]
    module, _, attr = target.partition(":")
    entry = getattr(importlib.import_module(module), attr)
    assert entry(["presets"]) == 0
    assert "default" in capsys.readouterr().out
    assert entry(["data", "list"]) == 0
    assert "sample:AAPL" in capsys.readouterr().out
    # `python -m pricecast` runs the same function
    assert f"from {module} import {attr}" in (ROOT / "pricecast" / "__main__.py").read_text(encoding="utf-8")


def test_the_bundled_data_is_packaged():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    globs = tool["package-data"]["pricecast"]
    data = sorted(p for p in (ROOT / "pricecast" / "data" / "sample_data").iterdir() if p.suffix != ".py")
    assert data and all(any(p.match(f"pricecast/{g}") for g in globs) for p in data)
