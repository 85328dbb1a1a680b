"""optimiser package."""
