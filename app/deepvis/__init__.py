"""deepvis: a live deep-visualization toolbox for PyTorch."""

__version__ = "0.1.0"


class DeepvisError(Exception):
    """An error the user can fix; the CLI prints it as one line, without a traceback."""
