def sort_versions(versions: list[str]) -> list[str]:
    """Oldest first."""
    return sorted(versions)
