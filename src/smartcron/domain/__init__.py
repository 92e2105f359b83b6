"""Pure core: frozen dataclasses, enums, policy functions. No I/O; time is an argument."""
