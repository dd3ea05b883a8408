"""The sandbox: an institution seeded with a deterministic population, for testing an Alma
integration locally (docs/sandbox.md)."""
