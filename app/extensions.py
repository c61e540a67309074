"""Extension objects, bound to the app in create_app()."""
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from app.models import Base

# create_savepoint: a session bound to a connection already inside a transaction (the test
# suite's rolled-back transaction) commits to a savepoint instead; no effect on engines.
db = SQLAlchemy(model_class=Base, session_options={"join_transaction_mode": "create_savepoint"})
migrate = Migrate()
# Mints access and refresh tokens; app/identity/tokens.py checks them.
jwt = JWTManager()
cors = CORS()
