"""cnn-report experiments: CIFAR-10 data, models, training, interpretability, pipeline, report."""
import os

# Waiting OpenMP threads sleep rather than spin, so a thread with nothing to do gives its core back
# to whatever else runs on the machine (experiments/engine/threads.py). Read when torch loads, so
# it is set here, before any module of the project imports torch; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
