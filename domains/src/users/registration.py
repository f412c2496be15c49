"""User registration: validate, hash, store, then publish `user.registered`.

Validation happens before any side effect; the event is published only after the
user is stored, so subscribers never see a user that does not exist.
"""
import hashlib
import os
import re

from shared.events import Event, EventBus

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD_LENGTH = 12


class RegistrationError(ValueError):
    pass


def hash_password(password: str, salt: bytes = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=2 ** 14, r=8, p=1)
    return f"scrypt${salt.hex()}${digest.hex()}"


def validate(email: str, password: str) -> None:
    if not EMAIL.match(email):
        raise RegistrationError("email is not valid")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RegistrationError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.lower() in email.lower():
        raise RegistrationError("password must not contain the email")


def register(users: dict, bus: EventBus, email: str, password: str) -> str:
    validate(email, password)
    email = email.strip().lower()
    if email in users:
        raise RegistrationError("email is already registered")
    users[email] = {"email": email, "password_hash": hash_password(password)}
    bus.publish(Event("user.registered", {"email": email}))
    return email
