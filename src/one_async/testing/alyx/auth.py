"""Users and REST tokens of the local Alyx server, with controllable token expiry.

As Django REST framework's token authentication: ``POST /auth-token`` answers one token per user
(the same one until it is deleted), and requests carry ``Authorization: Token <key>``.  Tests can
make tokens expire after a number of authenticated requests, or on demand, to exercise a client's
re-authentication; an expired token is deleted and the next login issues a new one.
"""

from __future__ import annotations

import hmac
import random
import threading
from collections import Counter
from collections.abc import Mapping

__all__ = ['TokenStore']


class TokenStore:
    """Credentials and live tokens.

    Parameters
    ----------
    users
        Passwords by user name.
    expire_after
        When set, a token is invalidated once it has authenticated this many requests.
    seed
        Seeds token generation (tokens are 40 hex digits, as DRF's).
    """

    def __init__(
        self, users: Mapping[str, str], *, expire_after: int | None = None, seed: int = 0
    ) -> None:
        if expire_after is not None and expire_after < 1:
            raise ValueError(f'expire_after must be at least 1, got {expire_after}')
        self._users = dict(users)
        self.expire_after = expire_after
        self._rng = random.Random(f'tokens|{seed}')
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}  # user -> token
        self._owners: dict[str, str] = {}  # token -> user
        self._uses: Counter[str] = Counter()
        self.issued = 0
        """Number of tokens issued so far (a re-login after expiry issues a new one)."""

    def check_password(self, username: str, password: str) -> bool:
        expected = self._users.get(username)
        return expected is not None and hmac.compare_digest(expected, password)

    def login(self, username: str, password: str) -> str | None:
        """The user's token (created if needed), None for bad credentials."""
        if not self.check_password(username, password):
            return None
        with self._lock:
            token = self._tokens.get(username)
            if token is None:
                token = f'{self._rng.getrandbits(160):040x}'
                self._tokens[username] = token
                self._owners[token] = username
                self.issued += 1
            return token

    def authenticate(self, token: str) -> str | None:
        """The user owning ``token`` (counting one use), None when unknown or expired."""
        with self._lock:
            user = self._owners.get(token)
            if user is None:
                return None
            self._uses[token] += 1
            if self.expire_after is not None and self._uses[token] > self.expire_after:
                self._drop(token)
                return None
            return user

    def _drop(self, token: str) -> None:
        user = self._owners.pop(token, None)
        self._uses.pop(token, None)
        if user is not None and self._tokens.get(user) == token:
            del self._tokens[user]

    def expire(self, username: str | None = None) -> int:
        """Invalidate the token of ``username`` (every token when None).  Returns how many."""
        with self._lock:
            tokens = [token for token, user in self._owners.items() if username in (None, user)]
            for token in tokens:
                self._drop(token)
            return len(tokens)
