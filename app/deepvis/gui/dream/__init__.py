"""The Dream mode's window side."""
