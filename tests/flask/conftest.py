"""Flask tests share the server helpers in ``tests/wsgi/serving.py``."""

from __future__ import annotations

import sys
from pathlib import Path

WSGI_TESTS = str(Path(__file__).resolve().parent.parent / "wsgi")
if WSGI_TESTS not in sys.path:
    sys.path.insert(0, WSGI_TESTS)
