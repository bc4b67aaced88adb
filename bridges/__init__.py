"""Translations between Earmark and outside systems: QR codes, ISO 20022, EVM chains."""
