"""Route modules of the /v1 API: reference data, datasets, scenarios."""
