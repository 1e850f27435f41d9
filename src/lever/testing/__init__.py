"""Test support shipped with lever.

`lever.testing.fake_model.FakeModelServer` is the model in lever's tests: a real HTTP server on
127.0.0.1 that speaks the OpenAI Responses, Chat Completions and Anthropic Messages wire protocols,
plays a script of outputs and records every request (DESIGN.md §9). It can also run on its own:
`python -m lever.testing.fake_model --script FILE`.
"""
