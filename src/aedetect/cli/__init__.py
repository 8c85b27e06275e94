"""The ``aedetect`` command line: thin commands over the library and the service."""
