"""Inbound tracing: pure ASGI and WSGI middleware and the request run they share."""
