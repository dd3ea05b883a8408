"""Institutions and the network they form."""
