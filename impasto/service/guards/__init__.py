"""What guards the server from its requests, one per process: the decoded-pixel budget, the rate
limiters, and the URL fetcher that only reaches public addresses."""
