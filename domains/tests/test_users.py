import unittest

from shared.events import EventBus
from users import jwt_auth, password_reset, registration, sessions


class JwtTest(unittest.TestCase):
    KEY = b"test-signing-key-not-a-secret"

    def test_round_trip(self):
        token = jwt_auth.issue_token("u1", self.KEY, now=1000)
        self.assertEqual(jwt_auth.verify_token(token, self.KEY, now=1001), "u1")

    def test_expired_and_tampered_tokens_are_rejected(self):
        token = jwt_auth.issue_token("u1", self.KEY, now=0)
        with self.assertRaises(jwt_auth.InvalidToken):
            jwt_auth.verify_token(token, self.KEY, now=jwt_auth.ACCESS_TOKEN_TTL_SECONDS + 1)
        with self.assertRaises(jwt_auth.InvalidToken):
            jwt_auth.verify_token(token[:-2] + "xx", self.KEY, now=1)


class SessionTest(unittest.TestCase):
    def test_idle_timeout_and_rotation(self):
        now = [0.0]
        store = sessions.SessionStore(clock=lambda: now[0])
        session = store.create("u1")
        old_id = session.id
        self.assertIsNotNone(store.rotate(old_id))
        self.assertIsNone(store.touch(old_id))
        now[0] += sessions.IDLE_TIMEOUT_SECONDS + 1
        self.assertIsNone(store.touch(session.id))


class RegistrationTest(unittest.TestCase):
    def test_registers_once_and_publishes(self):
        users, bus, seen = {}, EventBus(), []
        bus.subscribe("user.registered", seen.append)
        registration.register(users, bus, "Ada@Example.com", "correct horse battery")
        self.assertEqual(len(seen), 1)
        with self.assertRaises(registration.RegistrationError):
            registration.register(users, bus, "ada@example.com", "another long password")

    def test_weak_passwords_are_refused(self):
        with self.assertRaises(registration.RegistrationError):
            registration.validate("a@b.co", "short")


class PasswordResetTest(unittest.TestCase):
    def test_token_is_single_use_and_unknown_emails_are_silent(self):
        tokens, mails = {}, []
        password_reset.request_reset(tokens, {}, "nobody@example.com", lambda *m: mails.append(m), now=0)
        self.assertEqual(mails, [])
        password_reset.request_reset(tokens, {"a@example.com": {}}, "a@example.com", lambda *m: mails.append(m), now=0)
        token = mails[0][1].split("token=")[1]
        self.assertEqual(password_reset.consume_reset(tokens, token, now=1), "a@example.com")
        self.assertIsNone(password_reset.consume_reset(tokens, token, now=1))


if __name__ == "__main__":
    unittest.main()
