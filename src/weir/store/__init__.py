"""The store: the only package that imports SQLAlchemy. Tables, queries, migrations."""
