"""The Digits mode's window side."""
