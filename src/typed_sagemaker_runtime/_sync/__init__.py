"""The synchronous I/O (botocore over urllib3): the client, the stream, async inference's S3."""
