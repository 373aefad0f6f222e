"""Local fakes of the services tinygen talks to; real servers on 127.0.0.1, real clients."""
