"""Plumbing every stage shares: errors, netCDF I/O, allowed values, script glue."""
