"""The users namespace: accounts, login, tokens, admin rights and each user's lists.

Its routes live in the modules imported at the end: `accounts` (sign-up, login, tokens, the
own account, user management) and `lists` (a user's patients and registrations).
"""
from flask_restx import Namespace

ns = Namespace("users", description="Accounts, login and admin rights")

from app.namespaces.users import accounts, lists  # noqa: E402,F401  (they add the routes)
