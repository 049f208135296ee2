"""s6-log: script parsing, POSIX ERE translation, log directories and the main loop.

One module per concern: `posixre` (POSIX extended regexps in Python's `re`), `script` (the
logging script), `stamp` (TAI64N and ISO 8601 prefixes), `logdir` (a log directory with its
rotation state machine), `loop` (the event loop that reads stdin and drives everything).
"""
