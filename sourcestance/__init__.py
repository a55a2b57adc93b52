"""sourcestance: who speaks in each sentence of a news article, and their stance."""

__version__ = "0.1.0"
