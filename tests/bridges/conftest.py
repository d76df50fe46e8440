"""Fixtures for the bridge tests: the LangSmith stand-in's module on the path, langsmith's environment reset."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("langsmith")

STANDIN_DIR = str(Path(__file__).resolve().parent.parent / "langsmith_export")
if STANDIN_DIR not in sys.path:
    sys.path.insert(0, STANDIN_DIR)
