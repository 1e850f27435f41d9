"""The turn loop, its limits and the prompts."""
