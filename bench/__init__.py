"""Benchmarks of the runbook's costs against the lab (`python -m bench`): ratios, not assertions."""
