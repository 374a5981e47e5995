"""Workload generators and benchmark helpers for stratum."""
