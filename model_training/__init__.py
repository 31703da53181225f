"""Offline model training and conversion (torch allowed here; never imported by the add-on)."""
