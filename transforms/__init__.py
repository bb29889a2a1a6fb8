"""Beam composites and the pure functions under them, shared by batch and streaming."""
