class AwsCrtError(Exception):
    code: int
    name: str
    message: str
