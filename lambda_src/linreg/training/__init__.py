"""Training: a CSV stream to the statistics of its parts, and the model fit on them."""
