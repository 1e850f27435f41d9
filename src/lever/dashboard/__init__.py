"""`lever serve`: a local web dashboard over the session event stream (docs/dashboard.md)."""
