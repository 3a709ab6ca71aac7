"""Processes that die right after tracking: a prefork worker child and a gunicorn worker.

Each module here is loaded by a subprocess that a test in tests/tracking/test_process_death.py
starts. They configure from environment variables so that the test decides the broker and
the queues.
"""
