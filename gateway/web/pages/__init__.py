"""Seller page controllers."""
