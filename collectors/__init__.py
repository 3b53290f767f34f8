"""Collectors read what the network records; parsers turn one record into events."""
