"""The Digits lab's choices, without torch: `deepvis digits --help` lists them."""

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("randn", "scaled")  # N(0, 1) weights, or N(0, 1) / sqrt(fan-in) (Nielsen's default)

SWEEP_SIZES = (30, 10, 5, 4, 3, 2)  # the hidden sizes of the sweep (Nielsen's figures, and 30)


def parse_sizes(text: str) -> tuple[int, ...]:
    """Hidden sizes typed as numbers separated by spaces or commas ("30 10 5"), largest first."""
    from deepvis import DeepvisError

    words = text.replace(",", " ").split()
    if not words or not all(word.isdigit() and int(word) > 0 for word in words):
        raise DeepvisError(f"sweep sizes {text!r}: give positive whole numbers, e.g. 30 10 5 4 3 2")
    return tuple(sorted({int(word) for word in words}, reverse=True))
