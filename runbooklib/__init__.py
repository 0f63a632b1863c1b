"""The runbook library: the step engine (a pytest plugin), hosts, inventories and actions."""
