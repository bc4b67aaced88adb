"""Earmark services and the `earmark` command line: the composition root."""
