"""``python -m tracing_middleware``: the same command as ``tracing-middleware``."""

from tracing_middleware.cli import main

raise SystemExit(main())
