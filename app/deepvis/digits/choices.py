"""The Digits lab's choices, without torch: `deepvis digits --help` lists them."""

ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = ("randn", "scaled")  # N(0, 1) weights, or N(0, 1) / sqrt(fan-in) (Nielsen's default)
