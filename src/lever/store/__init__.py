"""Session rollouts (JSONL, the source of truth) and, later, the SQLite index derived from them."""
