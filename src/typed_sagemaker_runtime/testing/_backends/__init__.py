"""Backends of a local endpoint besides a Python callable: a model container, the demo LLM."""
