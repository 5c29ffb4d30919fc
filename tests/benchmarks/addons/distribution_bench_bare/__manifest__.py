# Exists only for tests/benchmarks/bench_webhook.py: a POST route that does
# nothing, the baseline the webhook route is compared with. Never install it
# in a real database.
{
    "name": "Distribution Sync benchmark: bare route",
    "summary": "Benchmark baseline: a POST route that reads the body and answers",
    "version": "19.0.1.0.0",
    "category": "Hidden",
    "website": "https://github.com/distribution-sync/distribution-sync",
    "author": "Distribution Sync Contributors",
    "license": "LGPL-3",
    "depends": ["web"],
    "data": [],
    "installable": True,
}
