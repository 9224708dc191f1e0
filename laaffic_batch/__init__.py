"""laaffic-batch: the command line, logging set-up, the local sandbox API and the demo."""
