"""inkdex: search indexer for archives of handwritten material.

This small package holds what the three product packages share: the validated
settings object and the `inkdex` command-line entry point that gathers the
subcommands each package registers.
"""

__version__ = "0.1.0"
