"""Alerts, their mail and its delivery."""
