"""Placeholder: the TorchServe entry, written by the lead."""
