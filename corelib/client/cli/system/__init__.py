"""System commands: version, info, events (docker/cli's cli/command/system)."""
