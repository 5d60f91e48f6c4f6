"""The PM inbox web app: JSON API (contract 6), pages, users and sessions."""
