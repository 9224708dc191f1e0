"""Ingest: turn a contact file into validated, de-duplicated, accounted-for chunks.

Pure data work: nothing in this package imports Redis, Dramatiq or HTTP code.
Data flow: readers -> columns -> numbers (+ strict) -> plan (dedupe, accounting)
-> chunks (sizes, names) -> rejects file.
"""
