"""Running Facsimile outside the panel, and what differs between Blenders: the `facsimile` command line,
headless registration, .blend files opened and saved atomically, a clean process exit, Blender-version
differences."""
