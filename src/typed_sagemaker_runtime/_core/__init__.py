"""The sans-I/O core: the vocabulary every layer above speaks.

Result, event and LLM types, the exceptions, parameter building and validation, result
shaping, error mapping, the retry policy, the event-stream codec and async inference's
S3 rules. Nothing here performs I/O; nothing here imports a layer above.
"""
