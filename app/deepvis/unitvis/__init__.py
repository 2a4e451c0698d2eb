"""Offline per-unit images: top-k dataset patches, activation maximization, the on-disk store."""
