"""The standard-library core: run trees, propagation, context, exporting."""
