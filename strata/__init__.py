"""strata: layer-wise probing and similarity analysis of speech and speaker encoders."""

__version__ = "0.1.0"
