"""The web face: sign-in pages (and later the staff UI and patron self-service)."""
