"""Integrations with other tracers running in the same process (OpenTelemetry, LangSmith's SDK).

Each module imports its peer package and raises ImportError naming the extra when it is missing;
importing this package imports none of them.
"""
