"""HTTP plumbing: the restx Api, request helpers, hooks, rate limits, lists, response caching."""
