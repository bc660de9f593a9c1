"""mytorch: a from-scratch NumPy deep-learning layer library (Problem 1: Conv2D)."""
