"""Asynchronous inference on the local endpoint: the background jobs and the S3 they use."""
