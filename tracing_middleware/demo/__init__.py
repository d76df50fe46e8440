"""The three-service demo behind ``tracing-middleware demo``: FastAPI → Flask → Django, on 127.0.0.1."""
