"""Worker: chunk store, ledger and Dramatiq actors that submit chunks to LAAFFIC."""
