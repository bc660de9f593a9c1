"""cnn-report experiments: CIFAR-10 data, models, training, interpretability, pipeline, report."""
