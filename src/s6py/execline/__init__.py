"""execline in Python: the execlineb launcher and the chain-loading commands.

The commands are interpreted in one process (see core.chain) until the chain reaches a
program that is not one of ours, which is then exec'd.
"""
