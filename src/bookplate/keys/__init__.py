"""API keys: one institution each, with areas read-only or read/write."""
