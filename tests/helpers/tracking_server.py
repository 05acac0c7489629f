"""The test tracking server's database password (tests/scaleout/conftest.py starts the servers)."""

#: Only in the server's backend URI; the tests check that it is printed nowhere.
DB_PASSWORD = "s3cret-tracking-pw"
