"""Who is asking: users, roles, password hashing, signed cookies and bearer tokens."""
