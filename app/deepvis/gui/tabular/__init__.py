"""The Tabular mode's window side: the mode, its network and bar widgets, and its jobs."""
