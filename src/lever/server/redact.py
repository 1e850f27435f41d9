"""What `config/read` shows of the configuration: credentials replaced by `***`.

A client may show the configuration in a settings screen or log it: nothing secret leaves.
Redacted are values of secret-looking keys (`api_key`, `token`, `password`…), every value of an
MCP server's `env` and `headers` tables (credentials, whatever their name), values that are
credentials by their shape (a token with a known prefix, a private key), and the password of a
URL (`https://user:***@host`), wherever it appears.
"""

from __future__ import annotations

import re
from typing import Any

from lever.sandbox.env import secret_value

_SECRET_WORDS = ("key", "token", "secret", "password", "passwd", "passphrase", "credential", "auth")
#: Tables whose values are credentials whatever their names (an MCP server's env and headers).
_SECRET_TABLES = ("env", "headers", "http_headers", "env_http_headers")
_URL_PASSWORD = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*:)([^/\s@]+)(@)")

REDACTED = "***"


def redacted(value: Any, name: str = "") -> Any:
    if isinstance(value, dict):
        if name.lower() in _SECRET_TABLES:
            return {k: REDACTED for k in value}
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, name) for v in value]
    lowered = name.lower()
    # `api_key_env`, `bearer_token_env_var` name a variable, they hold no secret.
    names_a_variable = lowered.endswith(("_env", "_env_var"))
    if any(word in lowered for word in _SECRET_WORDS) and not names_a_variable:
        return REDACTED
    if isinstance(value, str):
        if secret_value(value) and not _URL_PASSWORD.search(value):
            return REDACTED
        return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<3>", value)
    return value
