"""Where the sync and asyncio twins meet, sans-I/O.

Client construction and configuration, the call loop's retry decisions, the User-Agent,
the parameters of an LLM request, and the state machine of a response stream:
everything ``_sync`` and ``_aio`` share.
"""
