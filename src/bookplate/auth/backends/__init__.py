"""Protocol adapters: each proves who someone is and returns an ``auth.model.Identity``."""
