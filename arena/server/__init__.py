"""The server's domain rules: accounts, competitions, teams, submissions, jobs, uploads, standings.

Views and commands call these functions; they keep their records through ``arena.db``.
"""
