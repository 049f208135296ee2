"""The pieces of /init: settings, container environment, fix-attrs (and, later, the stages).

Nothing is imported here: each helper command (`with-contenv`, `fix-attrs`, ...) imports
only the module it needs.
"""
