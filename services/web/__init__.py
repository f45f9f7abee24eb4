"""The web front for filers, counsellors and auditors: server-rendered pages on top of the
services' HTTP APIs, with the signed-in person's own token (no back door into a database)."""
