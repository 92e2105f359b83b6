"""The ``smartcron`` command line: thin commands that parse input and call services."""
