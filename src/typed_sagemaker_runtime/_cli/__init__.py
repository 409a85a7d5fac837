"""The ``smr`` command line: ``_main`` parses and dispatches; one module per subcommand."""
