"""Placeholder: this family is being written (it registers nothing yet)."""
