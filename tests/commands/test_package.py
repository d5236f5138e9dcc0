"""A non-editable install carries the shipped presets and mappings (they are read from
``<prefix>/share/netblend/`` there, see ``engine.core.paths.shipped_dir``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT

SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "LICENSE", "engine", "stylegan_ops", "presets", "mappings")


@pytest.mark.slow
def test_a_built_wheel_contains_every_shipped_preset_and_mapping(tmp_path):
    pytest.importorskip("setuptools")
    pytest.importorskip("wheel")
    source = tmp_path / "src"                     # a copy: building writes build/ and egg-info beside the code
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif (ROOT / name).exists():
            shutil.copy2(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation",
                             "-w", str(tmp_path / "dist"), "-q"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("netblend-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for kind in ("presets", "mappings"):
        shipped = sorted(p.name for p in (ROOT / kind).glob("*.toml"))
        assert shipped
        packed = sorted(n.rsplit("/", 1)[1] for n in names if f".data/data/share/netblend/{kind}/" in n)
        assert packed == shipped, kind
    assert any(n.startswith("engine/control/") for n in names) and "engine/cli.py" in names
