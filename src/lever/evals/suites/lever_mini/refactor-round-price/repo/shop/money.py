"""Money helpers."""
