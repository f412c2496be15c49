"""Server-side sessions with idle and absolute timeouts.

A session id is 256 bits from the OS CSPRNG; ids are rotated on privilege change
(login, checkout) to prevent fixation.
"""
import secrets
import time
from dataclasses import dataclass

IDLE_TIMEOUT_SECONDS = 30 * 60
ABSOLUTE_TIMEOUT_SECONDS = 12 * 60 * 60


@dataclass
class Session:
    id: str
    user_id: str
    created_at: float
    last_seen_at: float


class SessionStore:
    def __init__(self, clock=time.time):
        self._clock = clock
        self._sessions = {}

    def create(self, user_id: str) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), user_id, now, now)
        self._sessions[session.id] = session
        return session

    def touch(self, session_id: str):
        session = self._sessions.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.last_seen_at > IDLE_TIMEOUT_SECONDS or now - session.created_at > ABSOLUTE_TIMEOUT_SECONDS:
            del self._sessions[session_id]
            return None
        session.last_seen_at = now
        return session

    def rotate(self, session_id: str):
        """Issue a new id for the same session (call on login and before payment)."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return None
        session.id = secrets.token_urlsafe(32)
        self._sessions[session.id] = session
        return session
