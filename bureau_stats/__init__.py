"""bureau-stats: export files of a market-regulation bureau -> annual-report figures."""

__version__ = "0.1.0"
