"""The LLM request layer, sans-I/O: chat and generate request bodies and their answers."""
