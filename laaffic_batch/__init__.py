"""laaffic-batch: the command line, logging set-up, the local sandbox API and the demo."""

__version__ = "0.1.0"
