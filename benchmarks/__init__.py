"""`make bench`: sync and page benchmarks that print figures (not part of `make test`)."""
