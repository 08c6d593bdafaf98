"""Serverless MXNet linear regression: a CSV in, a trained model and its report out."""

__version__ = "0.1.0"
