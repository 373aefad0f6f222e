"""`python -m tinygen`."""

from tinygen.cli import main

if __name__ == "__main__":
    main()
