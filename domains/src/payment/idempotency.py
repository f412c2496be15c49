"""Idempotent request handling: the first response for a key is stored and replayed.

A key reused with a different request body is a client bug and is rejected.
"""
import hashlib
import json


class IdempotencyConflict(Exception):
    pass


class IdempotencyStore:
    def __init__(self):
        self._responses = {}

    def handle(self, key: str, request: dict, handler):
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        if key in self._responses:
            stored_fingerprint, response = self._responses[key]
            if stored_fingerprint != fingerprint:
                raise IdempotencyConflict(key)
            return response
        response = handler(request)
        self._responses[key] = (fingerprint, response)
        return response
