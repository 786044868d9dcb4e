"""Our pyinfra extensions and control-side helpers: facts, operations, rendering, preflight."""
