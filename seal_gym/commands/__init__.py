"""Subcommands of the seal-gym command line."""
