"""Sub-commands of the `facsimile` CLI, one module each (add_parser + run)."""
