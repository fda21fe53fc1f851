"""Resumable chunked uploads of large files (model weights), stored on disk."""
