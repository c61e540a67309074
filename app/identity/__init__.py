"""Who is calling: tokens, the caller's row and its cache, the acting user for services."""
