"""unibase: merge the declarative bases of a SQLAlchemy project into one."""

__version__ = "0.1.0"
