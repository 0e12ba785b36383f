"""Parsers for the statutory files analysts already hold. Each yields ServiceRecords in one pass and
fills an ImportReport; storage (and duplicate counting) is the caller's job."""
