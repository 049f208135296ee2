"""s6py: s6-overlay rebuilt in pure Python.

Nothing is imported here on purpose: every helper command is a fresh interpreter, and
`python3 -I -S -m s6py s6-svok DIR` must not pay for modules it does not use.
"""

__version__ = "0.1.0"
