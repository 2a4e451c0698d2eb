"""Weights of any model: filters as tiles, Linear rows as images, histograms, filters on noise."""
