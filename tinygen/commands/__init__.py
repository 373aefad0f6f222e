"""One module per CLI subcommand, registered in tinygen.cli.COMMANDS and imported lazily."""
