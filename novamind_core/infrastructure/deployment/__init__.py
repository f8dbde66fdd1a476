"""Kubernetes/KServe manifests: render, validate, apply."""
