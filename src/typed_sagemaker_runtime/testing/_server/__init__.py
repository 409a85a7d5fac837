"""The local endpoint's HTTP/1.1 server and the SageMaker Runtime REST protocol it speaks."""
