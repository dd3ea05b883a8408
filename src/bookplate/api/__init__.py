"""The HTTP face: the Alma Users API under /almaws/v1 (routes only; rules live in the areas)."""
