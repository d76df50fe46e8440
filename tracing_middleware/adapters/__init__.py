"""Framework adapters: thin glue between a web framework and the middleware in ``tracing_middleware.middleware``."""
