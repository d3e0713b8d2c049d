"""Use cases: the one way in for the CLI, the API and the web pages.

Each service function loads what it needs, calls the pure core, persists, and appends the
event to the verifiable log — in one transaction.
"""
