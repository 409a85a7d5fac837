# Minimal stubs of awscrt (which ships no py.typed): only what the bidi transports use.
