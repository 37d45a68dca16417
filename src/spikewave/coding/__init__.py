"""Turning intensities into spikes: rate (Bernoulli) coding and direct current."""
