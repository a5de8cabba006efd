"""Knowledge bases: the user's documents read, chunked, indexed and searched, to answer from."""
