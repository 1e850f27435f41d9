def unique_events(events: list[dict]) -> list[dict]:
    """The events with a new `id`, first occurrence first."""
    seen_ids = []
    result = []
    for event in events:
        if event["id"] not in seen_ids:
            seen_ids.append(event["id"])
            result.append(event)
    return result
