"""Routes of the Alma-compatible API."""
