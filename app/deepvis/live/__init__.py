"""The Live mode's Qt-free parts: the view model (what the user looks at) and its key table."""
