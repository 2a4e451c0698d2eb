"""The Weights mode's window side."""
