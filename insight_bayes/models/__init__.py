"""PyMC/ArviZ models for analysis. Importing this package imports PyMC (``[bayes]`` extra)."""
