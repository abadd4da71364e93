"""The fault suite: the whole system under load on this machine, one fault at a time.

``make chaos`` (``python -m chaos``) runs the full form; ``chaos/tests/test_chaos_short.py`` (``make chaos-short``)
runs a short one inside the test suite. See docs/chaos.md for what is measured and how.
"""
