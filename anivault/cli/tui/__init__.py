"""The guided wizard (`anivault ui`): a terminal menu over the same pipeline as the commands."""
