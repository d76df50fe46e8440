"""Exporters: where finished runs are stored or sent."""
