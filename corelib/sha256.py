"""sha256 from CPython's own C module, not hashlib (which loads OpenSSL: start-up time and memory for a
short command or a small server). Standard library only: whale-runc and the shim both use it."""

try:
    from _sha256 import sha256
except ImportError:  # Python 3.12 and later
    from _sha2 import sha256

__all__ = ["sha256"]
