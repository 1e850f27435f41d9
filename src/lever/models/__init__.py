"""Model clients over httpx: OpenAI Responses, Chat Completions, Anthropic Messages."""
