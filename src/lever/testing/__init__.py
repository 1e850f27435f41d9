"""Test support shipped with lever.

`lever.testing.fake_model.FakeModelServer` is the model in lever's tests: a real HTTP server on
127.0.0.1 that speaks the OpenAI Responses, Chat Completions and Anthropic Messages wire protocols,
plays a script of outputs and records every request (DESIGN.md §9). Like the real APIs, it
refuses a request whose tool calls and outputs do not pair up (`lever.testing.pytest_plugin`
fails the test that sent it) and, with `context_limit=N`, every request over its window. It can
also run on its own: `python -m lever.testing.fake_model --script FILE`.
"""
