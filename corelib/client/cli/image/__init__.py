"""Image commands, one module each (docker/cli's cli/command/image)."""
