"""The asyncio I/O (aiobotocore, the ``aio`` extra): the client, the stream, async inference's S3.

"aio" always means asyncio in this package; "async inference" always means SageMaker's
asynchronous inference (InvokeEndpointAsync).
"""
