"""Database plumbing beyond the ORM: the embedded server and single-statement helpers."""
