"""Sockets, HTTP/1.1 (h11, sans-IO) and the hijacked attach stream, nothing Docker-specific above that."""
