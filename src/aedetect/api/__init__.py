"""The HTTP adapter: FastAPI app factory, error mapping and dependencies.

``v1`` holds the TensorMSA-compatible routes.
"""
