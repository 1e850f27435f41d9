"""Configuration: `$LEVER_HOME/config.toml`, per-project `.lever/config.toml`, `-c` overrides."""
