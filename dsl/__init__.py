"""The Earmark contract language: parse, check, compile, evaluate and format `.earmark` files."""
