"""The benchmark (`make bench`, `make bench-quick`): the operator against the API server's own limit."""
